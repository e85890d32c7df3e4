"""Campaign documents: import, version, publish, audit, and load the published set.

Every document is validated by ``rules.parse_document`` before it is stored, so
nothing unvalidated can ever reach the engine. Publishing bumps a counter in
the database; workers compare it with their cached copy and recompile.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from campaigns.catalog import opensets, programme
from campaigns.catalog.doclines import locate
from campaigns.catalog.tiers import tier_names
from campaigns.clock import utcnow
from campaigns.errors import DomainError, FieldProblem, conflict, invalid, not_found
from campaigns.models import AuditEvent, Campaign, CampaignVersion, Provider, Reward
from campaigns.publication import bump_publication
from rules import CampaignSpec, DocumentInvalid, Known, parse_document
from rules.document import load_source

log = logging.getLogger(__name__)


def known_values(session: Session) -> Known:
    """The programme's provider codes, published tier codes, reward codes and declared customer attributes:
    names a document may use."""
    ladder = tier_names(session)  # a published ladder always has a tier: empty means none is published
    return Known(
        providers=frozenset(session.scalars(select(Provider.code))),
        tiers=frozenset(ladder) if ladder else None,
        rewards=frozenset(session.scalars(select(Reward.code))),
        customer_attributes=programme.load(session).customer_attributes or {},
    )


def validate(source: str | bytes | dict[str, Any], fmt: str | None = None, session: Session | None = None) -> Any:
    """Parse and validate, turning engine errors into a 422 naming every path.

    With a session, codes of providers, tiers and rewards are checked against the programme's own
    (a misspelt one would make a campaign that silently never fires).
    """
    try:
        return parse_document(source, fmt=fmt, known=known_values(session) if session is not None else None)
    except DocumentInvalid as exc:
        problems = [FieldProblem(e.path, e.reason) for e in exc.errors]
        if isinstance(source, str | bytes):  # a text document: every error also names its line and column
            text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
            where = locate(text, [(p.path, p.reason) for p in problems])
            problems = [
                FieldProblem(p.path, p.reason, w["line"], w["column"]) for p, w in zip(problems, where, strict=True)
            ]
        first = problems[0] if problems else FieldProblem("document", "invalid")
        at = f" (line {first.line}, column {first.column})" if first.line is not None else ""
        raise DomainError(
            "invalid_document", f"{len(problems)} error(s); first: {first.path}{at}: {first.reason}", problems
        ) from None


def document_data(source: str, fmt: str | None, session: Session) -> dict[str, Any]:
    """A valid document as plain JSON data in its own key order (YAML dates and times as ISO text), so that a
    form can show it and write back every key it does not edit."""
    validate(source, fmt, session)
    return cast(dict[str, Any], _plain(load_source(source, fmt)))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def warnings_of(session: Session, source: str | bytes | dict[str, Any], doc: Any) -> list[dict[str, Any]]:
    """The open-set warnings of a valid document (catalog.opensets), located at their line and column in a text."""
    found = opensets.warnings(session, doc)
    if found and isinstance(source, str | bytes):
        text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
        return locate(text, [(w["path"], w["reason"]) for w in found])
    return found


def _audit(session: Session, actor: str, action: str, obj: Campaign, details: dict[str, Any]) -> None:
    session.add(AuditEvent(actor=actor, action=action, object_type="campaign", object_id=str(obj.id), details=details))


def import_document(
    session: Session,
    source: str | bytes,
    *,
    fmt: str | None = None,
    author: str,
    publish: bool = False,
    require_approval: bool = True,
) -> CampaignVersion:
    """Store a validated document as the next version of the campaign with its name.

    With ``publish`` the new version is published at once, under the same four-eyes rule as
    ``publish_version`` (strict unless the caller says approval is off).
    """
    doc = validate(source, fmt, session)
    text = source.decode() if isinstance(source, bytes) else source
    raw = json.loads(json.dumps(doc.raw, default=str))
    campaign = _campaign_named(session, doc.known_names())
    if campaign is None:
        campaign = Campaign(name=doc.name, type=doc.type, status="draft", latest_version=0)
        session.add(campaign)
        session.flush()
    latest = None
    if campaign.latest_version:
        latest = session.scalar(
            select(CampaignVersion).where(
                CampaignVersion.campaign_id == campaign.id, CampaignVersion.version == campaign.latest_version
            )
        )
    if latest is not None and latest.document == raw:
        version = latest
    else:
        campaign.latest_version += 1
        campaign.type = doc.type
        campaign.updated_at = utcnow()
        version = CampaignVersion(
            campaign_id=campaign.id,
            version=campaign.latest_version,
            status="draft",
            document=raw,
            source=text,
            source_format=fmt or ("json" if text.lstrip().startswith("{") else "yaml"),
            author=author,
        )
        session.add(version)
        session.flush()
        _audit(
            session,
            author,
            "campaign.version_created",
            campaign,
            {"version": version.version, "previous": latest.document if latest else None, "document": raw},
        )
    if publish:
        publish_version(session, campaign.id, version.version, author=author, require_approval=require_approval)
    return version


def may_publish(v: CampaignVersion, *, require_approval: bool) -> str | None:
    """None when the version may be published now, else the reason why not (the four-eyes rule)."""
    if not require_approval or v.published_at is not None or v.review_state == "approved":
        return None
    if v.review_state == "in_review":
        return "this version is waiting for a second person's approval"
    return "submit this version for review; a second marketer or an admin approves it before publication"


def _check_approval(v: CampaignVersion, *, require_approval: bool, verb: str = "published") -> None:
    if reason := may_publish(v, require_approval=require_approval):
        raise conflict("needs_review", f"version {v.version} cannot be {verb} yet: {reason}")


def _locked_version(session: Session, campaign_id: int, version: int) -> tuple[Campaign, CampaignVersion]:
    """The campaign (row-locked: one publisher at a time) and one of its versions, or 404."""
    campaign = session.get(Campaign, campaign_id, with_for_update=True)
    if campaign is None:
        raise not_found(f"campaign {campaign_id}")
    target = session.scalar(
        select(CampaignVersion).where(CampaignVersion.campaign_id == campaign_id, CampaignVersion.version == version)
    )
    if target is None:
        raise not_found(f"campaign {campaign_id} version {version}")
    return campaign, target


def publish_version(
    session: Session,
    campaign_id: int,
    version: int,
    *,
    author: str,
    require_approval: bool,
    scheduled: bool = False,
) -> CampaignVersion:
    """Make ``version`` the campaign's published one (a rollback when it was published before).

    The four-eyes rule (``LOYALTY_REQUIRE_APPROVAL``) is decided here, not in the views, so the API, the CLI,
    the admin pages and the scheduler all answer to it: ``require_approval`` has no default.
    """
    campaign, target = _locked_version(session, campaign_id, version)
    if target.status == "published":
        target.scheduled_at, target.scheduled_by = None, None
        return target
    _check_approval(target, require_approval=require_approval)
    target.scheduled_at, target.scheduled_by = None, None
    now = utcnow()
    session.execute(
        update(CampaignVersion)
        .where(CampaignVersion.campaign_id == campaign_id, CampaignVersion.status == "published")
        .values(status="archived")
    )
    target.status = "published"
    target.published_at = now
    campaign.status = "published"
    campaign.published_version = version
    campaign.updated_at = now
    bump_publication(session)
    _audit(
        session,
        author,
        "campaign.published",
        campaign,
        {"version": version, **({"scheduled": True} if scheduled else {})},
    )
    return target


def schedule_version(
    session: Session,
    campaign_id: int,
    version: int,
    at: datetime,
    *,
    author: str,
    require_approval: bool,
    now: datetime | None = None,
) -> CampaignVersion:
    """Publish ``version`` at ``at`` (applied by the workers' periodic thread or ``campaigns publish-due``).

    A campaign has at most one scheduled version: scheduling another replaces it. Only a version that may be
    published now may be scheduled; ``publish_due`` checks again when the time comes.
    """
    now = now or utcnow()
    campaign, target = _locked_version(session, campaign_id, version)
    if at.tzinfo is None:
        raise invalid("at", "needs a time zone")
    if at <= now:
        raise invalid("at", "must be in the future (publish now instead)")
    if target.status == "published":
        raise conflict("already_published", f"version {version} is already published")
    _check_approval(target, require_approval=require_approval, verb="scheduled")
    session.execute(
        update(CampaignVersion)
        .where(CampaignVersion.campaign_id == campaign_id, CampaignVersion.scheduled_at.is_not(None))
        .values(scheduled_at=None, scheduled_by=None)
    )
    target.scheduled_at, target.scheduled_by = at, author
    campaign.updated_at = now
    _audit(session, author, "campaign.scheduled", campaign, {"version": version, "at": at.isoformat()})
    return target


def cancel_schedule(session: Session, campaign_id: int, version: int, *, author: str) -> CampaignVersion:
    target = session.scalar(
        select(CampaignVersion).where(CampaignVersion.campaign_id == campaign_id, CampaignVersion.version == version)
    )
    if target is None or target.scheduled_at is None:
        raise not_found(f"a scheduled publication of campaign {campaign_id} version {version}")
    at = target.scheduled_at
    target.scheduled_at, target.scheduled_by = None, None
    campaign = session.get(Campaign, campaign_id)
    assert campaign is not None
    _audit(session, author, "campaign.schedule_cancelled", campaign, {"version": version, "at": at.isoformat()})
    return target


def publish_due(session: Session, *, require_approval: bool, now: datetime | None = None) -> list[tuple[int, int]]:
    """Publish every version whose time has come; returns (campaign id, version) pairs. Commit is the caller's.

    A due version that may not be published (scheduled before approval was required) is not published: its
    schedule is cancelled with an audit event naming the reason, so the refusal is visible on the campaign.
    """
    now = now or utcnow()
    due = session.execute(
        select(CampaignVersion.campaign_id, CampaignVersion.id)
        .where(CampaignVersion.scheduled_at.is_not(None), CampaignVersion.scheduled_at <= now)
        .order_by(CampaignVersion.scheduled_at, CampaignVersion.id)
        .limit(100)
    ).all()
    done = []
    for campaign_id, version_id in due:
        campaign = session.get(Campaign, campaign_id, with_for_update=True)  # the same lock order as a publication
        v = session.get(CampaignVersion, version_id, populate_existing=True)
        if campaign is None or v is None or v.scheduled_at is None or v.scheduled_at > now:
            continue  # another worker (or a person) got there first
        if reason := may_publish(v, require_approval=require_approval):
            log.warning("scheduled publication of campaign %s version %s refused: %s", campaign_id, v.version, reason)
            at = v.scheduled_at
            v.scheduled_at, v.scheduled_by = None, None
            _audit(
                session,
                "scheduler",
                "campaign.schedule_refused",
                campaign,
                {"version": v.version, "at": at.isoformat(), "reason": reason},
            )
            continue
        publish_version(
            session,
            campaign_id,
            v.version,
            author=v.scheduled_by or "scheduler",
            require_approval=require_approval,
            scheduled=True,
        )
        done.append((campaign_id, v.version))
    return done


def archive(session: Session, campaign_id: int, *, author: str) -> Campaign:
    campaign = session.get(Campaign, campaign_id, with_for_update=True)
    if campaign is None:
        raise not_found(f"campaign {campaign_id}")
    session.execute(
        update(CampaignVersion)
        .where(CampaignVersion.campaign_id == campaign_id, CampaignVersion.status == "published")
        .values(status="archived")
    )
    session.execute(
        update(CampaignVersion)
        .where(CampaignVersion.campaign_id == campaign_id, CampaignVersion.scheduled_at.is_not(None))
        .values(scheduled_at=None, scheduled_by=None)
    )
    campaign.status = "archived"
    campaign.published_version = None
    campaign.updated_at = utcnow()
    bump_publication(session)
    _audit(session, author, "campaign.archived", campaign, {})
    return campaign


def published_specs(session: Session) -> list[CampaignSpec]:
    rows = session.execute(
        select(CampaignVersion)
        .join(Campaign, Campaign.id == CampaignVersion.campaign_id)
        .where(CampaignVersion.status == "published", Campaign.status == "published")
        .order_by(CampaignVersion.campaign_id)
    ).scalars()
    return [
        CampaignSpec(
            id=v.campaign_id,
            version=v.version,
            document=parse_document(v.document),
            published_at=v.published_at,
        )
        for v in rows
    ]


def published_budgets(session: Session) -> dict[int, dict[str, Any]]:
    """Budgets of the published campaigns (what the ledger checker holds them to)."""
    rows = session.execute(
        select(CampaignVersion.campaign_id, CampaignVersion.document).where(CampaignVersion.status == "published")
    ).all()
    return {cid: dict(doc.get("budget") or {}) for cid, doc in rows if doc.get("budget")}


def campaign_names(session: Session) -> dict[int, str]:
    return dict(session.execute(select(Campaign.id, Campaign.name)).all())


def campaign_view(session: Session, campaign: Campaign) -> dict[str, Any]:
    versions = session.scalars(
        select(CampaignVersion).where(CampaignVersion.campaign_id == campaign.id).order_by(CampaignVersion.version)
    ).all()
    return {
        "id": campaign.id,
        "name": campaign.name,
        "type": campaign.type,
        "status": campaign.status,
        "latest_version": campaign.latest_version,
        "published_version": campaign.published_version,
        "created_at": campaign.created_at,
        "updated_at": campaign.updated_at,
        "versions": [
            {
                "version": v.version,
                "status": v.status,
                "author": v.author,
                "created_at": v.created_at,
                "published_at": v.published_at,
            }
            for v in versions
        ],
        "document": versions[-1].document if versions else None,
    }


def list_campaigns(session: Session) -> list[Campaign]:
    return list(session.scalars(select(Campaign).order_by(Campaign.id)))


def _campaign_named(session: Session, names: list[str]) -> Campaign | None:
    """The campaign a document continues: the one with its name, else one with its name in the other language (a
    campaign first written with one name keeps its versions when the next one gives both), locked."""
    found = {c.name: c for c in session.scalars(select(Campaign).where(Campaign.name.in_(names)).with_for_update())}
    return next((found[n] for n in names if n in found), None)


def campaign_labels(session: Session, versions: set[tuple[int, int]]) -> dict[Any, Any]:
    """(campaign id, version) -> the name its document gave, a string or ``{vi, en}``."""
    if not versions:
        return {}
    found = session.execute(
        select(CampaignVersion.campaign_id, CampaignVersion.version, CampaignVersion.document).where(
            tuple_(CampaignVersion.campaign_id, CampaignVersion.version).in_(sorted(versions))
        )
    ).all()
    return {(c, v): doc.get("name") for c, v, doc in found if isinstance(doc, dict) and doc.get("name")}
