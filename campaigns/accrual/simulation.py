"""Dry runs of a draft campaign: explain it on a sample, or replay recent real transactions.

Nothing is written. The sample is evaluated at its own ``occurred_at`` (so a
weekend rule can be tried on a Monday); it is either the simulator's short form
(``provider``, ``amount``...) or exactly the body a provider POSTs to
/api/v1/transactions. The replay evaluates each transaction of the last N days
three ways: the draft alone, the live campaigns alone, and the draft together
with the live campaigns (a draft named like a live campaign replaces it, as its
next version would), with each customer's aggregates as they stand today: an
estimate of reach, cost and of the difference the draft makes, not a re-run of
history.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.access.providers import provider_codes
from campaigns.accounts.profile import resolve_existing
from campaigns.catalog import authoring, programme
from campaigns.catalog.documents import published_specs, validate
from campaigns.clock import utcnow
from campaigns.customers.aggregates import load_states, window_start
from campaigns.errors import DomainError, FieldProblem
from campaigns.models import Campaign, Transaction
from campaigns.schemas import CustomerRef, Scalar, Strict, TransactionIn, validation_error
from rules import CampaignSpec, CompiledChallenge, EvaluationContext, RuleSet, explain, period_key

MAX_CUSTOMER_ROWS = 100  # the per-customer differences listed (the count covers all)


class SampleIn(Strict):
    """A sample event; omitted customer facts are zero unless ``customer`` names a real one."""

    amount: Decimal = Field(default=Decimal(0), ge=0)
    currency: str = "VND"
    provider: str = Field(min_length=1, max_length=32)
    category: str | None = None
    channel: str | None = None
    event_type: str = "purchase"
    occurred_at: AwareDatetime | None = None
    attributes: dict[str, Scalar] = Field(default_factory=dict)
    customer: CustomerRef | None = None
    context: dict[str, Any] = Field(
        default_factory=dict,
        description="override any context variable, e.g. customer_tier, months_of_service or customer_attributes",
    )


def _draft(session: Session, source: str | dict[str, Any], fmt: str | None) -> CampaignSpec:
    return CampaignSpec(id=0, version=0, document=validate(source, fmt, session))


def _customer_id(session: Session, ref: CustomerRef, *, required: bool) -> int | None:
    """A provider body may name someone not enrolled yet: they are simulated as a new customer."""
    try:
        return resolve_existing(session, ref, None)
    except DomainError as err:
        if required or err.code != "not_found":
            raise
        return None


def _sample_provider(session: Session, spec: CampaignSpec, provider: str | None) -> str:
    """The provider of a provider body: it is the API key's, so it is given beside the body or inferred."""
    codes = set(provider_codes(session).values())
    if provider is None:
        named = spec.document.providers
        if named is not None and len(named) == 1:
            provider = next(iter(named))
        elif len(codes) == 1:
            provider = next(iter(codes))
    if provider is None or provider not in codes:
        reason = "required: the provider whose API key would post this body" if provider is None else "unknown provider"
        raise DomainError("validation_error", f"provider: {reason}", [FieldProblem("provider", reason)])
    return provider


def sample(
    session: Session,
    source: str | dict[str, Any],
    body: Any,
    *,
    fmt: str | None = None,
    provider: str | None = None,
) -> dict[str, Any]:
    """Explain the draft on one sample, evaluated at the sample's ``occurred_at`` (now when omitted).

    A body with ``provider_txn_id`` is read as a provider's POST /transactions body (``provider``
    then names the posting provider); any other body is the short form ``SampleIn``.
    """
    spec = _draft(session, source, fmt)
    now = utcnow()
    cid: int | None
    if isinstance(body, dict) and "provider_txn_id" in body:
        t = validation_error(TransactionIn, body, "transaction")
        values: dict[str, Any] = {
            "amount": t.amount,
            "currency": t.currency,
            "provider": _sample_provider(session, spec, provider),
            "category": t.category,
            "channel": t.channel,
            "event_type": "purchase",
            "occurred_at": t.occurred_at,
            "attributes": t.attributes,
        }
        cid = _customer_id(session, t.customer, required=False)
        overrides: dict[str, Any] = {}
    else:
        s = validation_error(SampleIn, body, "transaction")
        values = {
            "amount": s.amount,
            "currency": s.currency,
            "provider": s.provider,
            "category": s.category,
            "channel": s.channel,
            "event_type": s.event_type,
            "occurred_at": s.occurred_at or now,
            "attributes": s.attributes,
        }
        cid = None if s.customer is None else _customer_id(session, s.customer, required=True)
        overrides = s.context
    if cid is not None:
        st = load_states(session, [cid], window_start(now.date()))[cid]
        today = values["occurred_at"].astimezone(ZoneInfo(st.timezone)).date()
        pid = next((i for i, code in provider_codes(session).items() if code == values["provider"]), None)
        tz = programme.load(session).timezone
        values.update(**st.profile(), **st.windows(today), **st.service(values["occurred_at"], pid, tz))
    for key, value in overrides.items():
        if key in ("customer_tags",) and isinstance(value, list):
            value = frozenset(value)
        values[key] = value
    try:
        ctx = EvaluationContext(**values)
    except (TypeError, ValueError) as exc:
        raise DomainError("validation_error", f"transaction.context: {exc}", []) from None
    result = explain(spec, ctx).as_dict()
    result["occurred_at"] = ctx.occurred_at.isoformat()
    result["local_time"] = ctx.local_time().isoformat()
    challenge = spec.document.challenge
    if challenge is not None:  # which steps the sample would count toward (progress itself is not simulated)
        matched = CompiledChallenge.of(spec).matching(ctx)
        result["challenge"] = {
            "period": challenge.period,
            "period_key": period_key(challenge.period, ctx),
            "steps": [
                {"name": st.name, "count": st.count, "matches": i in matched} for i, st in enumerate(challenge.steps)
            ],
        }
    return result


def _live_and_combined(session: Session, draft: CampaignSpec) -> tuple[list[CampaignSpec], list[CampaignSpec]]:
    """The live earning campaigns, and the same set with the draft in (replacing a live one of its name)."""
    live = [s for s in published_specs(session) if s.document.type == "earning"]
    names = set(draft.document.known_names())  # the live campaign it continues, under either of its names
    combined = [s for s in live if not names & set(s.document.known_names())] + [draft]
    return live, combined


def replay(
    session: Session, source: str | dict[str, Any], *, days: int = 30, fmt: str | None = None, chunk: int = 2000
) -> dict[str, Any]:
    """Reach and cost of the draft alone, and the difference it makes to what the live campaigns give."""
    spec = _draft(session, source, fmt)
    if not 1 <= days <= 366:
        raise DomainError("validation_error", "days: must be 1 to 366", [])
    settings = programme.load(session)
    cap = settings.max_points_per_transaction
    live_specs, combined_specs = _live_and_combined(session, spec)
    ruleset = RuleSet([spec])
    live_set = RuleSet(live_specs, max_points_per_transaction=cap)
    combined_set = RuleSet(combined_specs, max_points_per_transaction=cap)
    codes = provider_codes(session)
    tz = programme.load(session).timezone
    now = utcnow()
    since = now - timedelta(days=days)
    after = 0
    seen = matched = 0
    points_by_customer: dict[int, int] = defaultdict(int)
    live_by_customer: dict[int, int] = defaultdict(int)
    combined_by_customer: dict[int, int] = defaultdict(int)
    by_rule: Counter[str] = Counter()
    while True:
        txns = session.scalars(
            select(Transaction)
            .where(Transaction.id > after, Transaction.received_at >= since, Transaction.status != "rejected")
            .order_by(Transaction.id)
            .limit(chunk)
        ).all()
        if not txns:
            break
        after = txns[-1].id
        states = load_states(session, {t.customer_id for t in txns}, window_start(now.date()))
        for t in txns:
            st = states[t.customer_id]
            ctx = EvaluationContext(
                amount=t.amount,
                currency=t.currency,
                provider=codes.get(t.provider_id, ""),
                category=t.category,
                channel=t.channel,
                occurred_at=t.occurred_at,
                attributes=t.attributes or {},
                event_type=t.event_type,
                **st.service(t.occurred_at, t.provider_id, tz),
                **st.profile(),
                **st.windows(t.occurred_at.astimezone(ZoneInfo(st.timezone)).date()),
            )
            seen += 1
            effects = [e for e in ruleset.evaluate(ctx) if e.points > 0]
            if effects:
                matched += 1
                for e in effects:
                    points_by_customer[t.customer_id] += e.points
                    by_rule[e.rule_name] += e.points
            live_by_customer[t.customer_id] += sum(e.points for e in live_set.evaluate(ctx) if e.points > 0)
            combined_by_customer[t.customer_id] += sum(e.points for e in combined_set.evaluate(ctx) if e.points > 0)
    total = sum(points_by_customer.values())
    value = settings.point_value
    live_total = sum(live_by_customer.values())
    combined_total = sum(combined_by_customer.values())
    changed = sorted(
        (
            {
                "customer_id": cid,
                "live": live_by_customer[cid],
                "combined": combined_by_customer[cid],
                "difference": combined_by_customer[cid] - live_by_customer[cid],
            }
            for cid in combined_by_customer
            if combined_by_customer[cid] != live_by_customer[cid]
        ),
        key=lambda row: (-abs(row["difference"]), row["customer_id"]),
    )
    return {
        "days": days,
        "transactions": seen,
        "matched": matched,
        "customers": len(points_by_customer),
        "points": total,
        "cost": round(total * value, 2),
        "points_by_rule": dict(by_rule),
        "live": {"campaigns": len(live_specs), "points": live_total, "cost": round(live_total * value, 2)},
        "combined": {
            "campaigns": len(combined_specs),
            "points": combined_total,
            "cost": round(combined_total * value, 2),
        },
        "difference": {
            "points": combined_total - live_total,
            "cost": round((combined_total - live_total) * value, 2),
            "customers": len(changed),
            "by_customer": changed[:MAX_CUSTOMER_ROWS],
        },
        "note": "points/cost: the draft alone; live: the published campaigns alone; combined: the draft together "
        "with them (a live campaign of the same name is replaced by the draft); difference: combined minus live, "
        f"the {MAX_CUSTOMER_ROWS} largest per customer. Today's customer aggregates; budgets, caps per customer "
        "and tier multipliers not applied",
    }


def publication_preview(session: Session, campaign_id: int, version: int, *, days: int = 7) -> dict[str, Any]:
    """What a marketer sees before publishing: the diff against the live version and the simulated cost of each.

    Both versions are replayed over the same recent transactions; the change is the candidate's difference to what
    the live campaigns give together (the live version of this campaign replaced by the candidate).
    """
    candidate = authoring.get_version(session, campaign_id, version)
    campaign = session.get(Campaign, campaign_id)
    live_number = campaign.published_version if campaign is not None else None
    live = authoring.get_version(session, campaign_id, live_number) if live_number else None
    new = replay(session, candidate.source, days=days, fmt=candidate.source_format)
    old = replay(session, live.source, days=days, fmt=live.source_format) if live is not None else None
    return {
        "candidate": candidate,
        "live": live,
        "diff": authoring.publication_diff(live, candidate),
        "days": days,
        "new": new,
        "old": old,
        # with every other live campaign beside it (a multiplier shows what it adds), as the replay's difference
        "points_change": new["difference"]["points"],
        "cost_change": new["difference"]["cost"],
    }
