"""Read models and workflow for the campaign authoring screens.

Status is computed, not stored: ``draft`` (never published), ``scheduled``
(published, starts later; or a draft whose publication is scheduled), ``live``, ``ended`` (published, past ``ends_at``)
and ``archived``. A ``provider`` user sees only the campaigns that target its
provider (those naming it, and those naming no provider, which apply to all).

Review (when the deployment requires it): a version is submitted, then
approved by someone else (a second marketer or an admin) before it can be
published; a version that was published before can always be published
again (rollback).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from campaigns.clock import utcnow
from campaigns.errors import DomainError, conflict, not_found
from campaigns.models import AuditEvent, Campaign, CampaignCounter, CampaignStatus, CampaignVersion, LedgerEntry
from campaigns.permissions import Scope
from rules.document import label_in

STATUSES = ("draft", "scheduled", "live", "ended", "archived")


@dataclass
class CampaignRow:
    id: int
    name: str
    type: str
    status: str
    providers: list[str] | None
    starts_at: datetime | None
    ends_at: datetime | None
    latest_version: int
    published_version: int | None
    updated_at: datetime
    points_issued: int
    budget: int | None
    budget_used: int
    review_state: str
    scheduled_version: int | None = None
    scheduled_at: datetime | None = None
    label: Any = None  # the shown version's name as written: a string or {vi, en}

    def name_in(self, language: str) -> str:
        """The campaign's name for a console reading ``language`` (the stored name when it has one name)."""
        return label_in(self.label, language) if self.label else self.name

    @property
    def budget_percent(self) -> int | None:
        if not self.budget:
            return None
        return min(100, round(100 * self.budget_used / self.budget))

    def as_csv(self) -> list[Any]:
        return [
            self.id,
            self.name,
            self.type,
            self.status,
            " ".join(self.providers) if self.providers else "all",
            self.starts_at.isoformat() if self.starts_at else "",
            self.ends_at.isoformat() if self.ends_at else "",
            self.published_version or "",
            self.latest_version,
            self.points_issued,
            self.budget or "",
            self.budget_used,
            self.scheduled_at.isoformat() if self.scheduled_at else "",
        ]


CSV_HEADER = [
    "id",
    "name",
    "type",
    "status",
    "providers",
    "starts_at",
    "ends_at",
    "published_version",
    "latest_version",
    "points_issued",
    "budget_max_points",
    "budget_used",
    "scheduled_publication",
]


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value))
        except ValueError:
            return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def status_of(
    campaign_status: CampaignStatus, published_version: int | None, document: dict[str, Any], now: datetime
) -> str:
    if campaign_status == "archived":
        return "archived"
    if published_version is None:
        return "draft"
    starts, ends = _when(document.get("starts_at")), _when(document.get("ends_at"))
    if starts is not None and now < starts:
        return "scheduled"
    if ends is not None and now >= ends:
        return "ended"
    return "live"


def targets(document: dict[str, Any], scope: Scope) -> bool:
    """Does this document concern the scope's provider? (Unlimited scopes see everything.)"""
    if not scope.limited:
        return True
    providers = document.get("providers")
    return not providers or scope.provider_code in providers


def campaign_rows(
    session: Session,
    scope: Scope,
    *,
    q: str = "",
    status: str = "",
    type_: str = "",
    now: datetime | None = None,
) -> list[CampaignRow]:
    """Every campaign the scope may see, with computed status, points issued and budget used (3 queries)."""
    now = now or utcnow()
    shown = func.coalesce(Campaign.published_version, Campaign.latest_version)
    rows = session.execute(
        select(Campaign, CampaignVersion.document, CampaignVersion.review_state)
        .join(CampaignVersion, and_(CampaignVersion.campaign_id == Campaign.id, CampaignVersion.version == shown))
        .order_by(Campaign.updated_at.desc(), Campaign.id.desc())
    ).all()
    visible = [(c, doc, rs) for c, doc, rs in rows if targets(doc, scope)]
    ids = [c.id for c, _, _ in visible]
    issued: dict[int, int] = {}
    used: dict[int, int] = {}
    scheduled: dict[int, tuple[int, datetime]] = {}
    if ids:
        scheduled = {
            cid: (version, at)
            for cid, version, at in session.execute(
                select(CampaignVersion.campaign_id, CampaignVersion.version, CampaignVersion.scheduled_at).where(
                    CampaignVersion.scheduled_at.is_not(None)
                )
            )
            if at is not None
        }
        stmt = (
            select(LedgerEntry.campaign_id, func.sum(LedgerEntry.points + LedgerEntry.pending))
            .where(LedgerEntry.campaign_id.in_(ids), LedgerEntry.kind == "earn")
            .group_by(LedgerEntry.campaign_id)
        )
        if scope.limited:
            stmt = stmt.where(LedgerEntry.provider_id == scope.provider_id)
        issued = {cid: int(total or 0) for cid, total in session.execute(stmt) if cid is not None}
        used = dict(
            session.execute(
                select(CampaignCounter.campaign_id, CampaignCounter.points).where(CampaignCounter.campaign_id.in_(ids))
            ).all()
        )
    out = []
    needle = q.strip().lower()
    for c, doc, review_state in visible:
        plan = scheduled.get(c.id)
        row_status = status_of(c.status, c.published_version, doc, now)
        row = CampaignRow(
            id=c.id,
            name=c.name,
            type=c.type,
            status="scheduled" if plan and row_status == "draft" else row_status,
            providers=list(doc.get("providers") or []) or None,
            starts_at=_when(doc.get("starts_at")),
            ends_at=_when(doc.get("ends_at")),
            latest_version=c.latest_version,
            published_version=c.published_version,
            updated_at=c.updated_at,
            points_issued=issued.get(c.id, 0),
            budget=(doc.get("budget") or {}).get("max_points"),
            budget_used=int(used.get(c.id, 0) or 0),
            review_state=review_state,
            scheduled_version=plan[0] if plan else None,
            scheduled_at=plan[1] if plan else None,
            label=doc.get("name"),
        )
        if needle and needle not in row.name.lower() and needle not in str(row.label).lower():
            continue
        if status and row.status != status:
            continue
        if type_ and row.type != type_:
            continue
        out.append(row)
    return out


def get_campaign(session: Session, campaign_id: int, scope: Scope) -> Campaign:
    """The campaign, or 404 when it does not exist or the scope may not see it."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise not_found(f"campaign {campaign_id}")
    if scope.limited:
        version = campaign.published_version or campaign.latest_version
        doc = session.scalar(
            select(CampaignVersion.document).where(
                CampaignVersion.campaign_id == campaign_id, CampaignVersion.version == version
            )
        )
        if doc is None or not targets(doc, scope):
            raise not_found(f"campaign {campaign_id}")
    return campaign


def versions(session: Session, campaign_id: int) -> list[CampaignVersion]:
    return list(
        session.scalars(
            select(CampaignVersion)
            .where(CampaignVersion.campaign_id == campaign_id)
            .order_by(CampaignVersion.version.desc())
        )
    )


def get_version(session: Session, campaign_id: int, version: int) -> CampaignVersion:
    v = session.scalar(
        select(CampaignVersion).where(CampaignVersion.campaign_id == campaign_id, CampaignVersion.version == version)
    )
    if v is None:
        raise not_found(f"campaign {campaign_id} version {version}")
    return v


def diff_table(a: CampaignVersion, b: CampaignVersion) -> str:
    """Side-by-side HTML diff of two versions' source text (HtmlDiff escapes the text itself)."""
    return _diff(a.source, b.source, f"version {a.version}", f"version {b.version}")


def publication_diff(live: CampaignVersion | None, candidate: CampaignVersion) -> str:
    """What publishing ``candidate`` changes: the diff against the live version, or against nothing at all."""
    if live is None:
        return _diff("", candidate.source, "nothing live", f"version {candidate.version}")
    return diff_table(live, candidate)


def _diff(a: str, b: str, fromdesc: str, todesc: str) -> str:
    differ = difflib.HtmlDiff(tabsize=2, wrapcolumn=64)
    table = differ.make_table(a.splitlines(), b.splitlines(), fromdesc=fromdesc, todesc=todesc, context=False)
    # explicit column widths so both sides share the page (difflib leaves them empty)
    cols = '<col class="dn"><col class="dh"><col class="dt">' * 2
    return re.sub(r"(?:\s*<colgroup></colgroup>){6}", cols, table, count=1)


def _audit(session: Session, actor: str, action: str, campaign_id: int, details: dict[str, Any]) -> None:
    session.add(
        AuditEvent(actor=actor, action=action, object_type="campaign", object_id=str(campaign_id), details=details)
    )


def submit_for_review(session: Session, campaign_id: int, version: int, *, actor: str) -> CampaignVersion:
    v = get_version(session, campaign_id, version)
    if v.status != "draft":
        raise conflict("not_draft", f"version {version} is {v.status}; only drafts go to review")
    v.review_state = "in_review"
    v.submitted_by = actor
    v.reviewed_by = None
    v.reviewed_at = None
    _audit(session, actor, "campaign.submitted", campaign_id, {"version": version})
    return v


def review(session: Session, campaign_id: int, version: int, *, actor: str, approve: bool) -> CampaignVersion:
    """Approve or reject; the submitter (and the author) may not approve their own version."""
    v = get_version(session, campaign_id, version)
    if v.review_state != "in_review":
        raise conflict("not_in_review", f"version {version} is not waiting for review")
    if approve and actor in (v.submitted_by, v.author):
        raise DomainError("forbidden", "a second person must approve: you wrote or submitted this version", [], 403)
    v.review_state = "approved" if approve else "rejected"
    v.reviewed_by = actor
    v.reviewed_at = utcnow()
    _audit(session, actor, "campaign.approved" if approve else "campaign.rejected", campaign_id, {"version": version})
    return v


def audit_events(
    session: Session,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    if before:
        stmt = stmt.where(AuditEvent.id < before)
    return list(session.scalars(stmt))
