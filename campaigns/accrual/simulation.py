"""Dry runs of a draft campaign: explain it on a sample, or replay recent real transactions.

Nothing is written. The replay evaluates the draft alone (as if it were the
only campaign) against each transaction of the last N days, with each
customer's aggregates as they stand today: an estimate of reach and cost, not
a re-run of history.
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
from campaigns.catalog import programme
from campaigns.catalog.documents import validate
from campaigns.clock import utcnow
from campaigns.customers.aggregates import load_states, window_start
from campaigns.errors import DomainError
from campaigns.models import Transaction
from campaigns.schemas import CustomerRef, Scalar, Strict, validation_error
from rules import CampaignSpec, EvaluationContext, RuleSet, explain


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


def sample(session: Session, source: str | dict[str, Any], body: Any, *, fmt: str | None = None) -> dict[str, Any]:
    spec = _draft(session, source, fmt)
    s = validation_error(SampleIn, body, "transaction")
    now = utcnow()
    values: dict[str, Any] = {
        "amount": s.amount,
        "currency": s.currency,
        "provider": s.provider,
        "category": s.category,
        "channel": s.channel,
        "event_type": s.event_type,
        "occurred_at": s.occurred_at or now,
        "attributes": s.attributes,
    }
    if s.customer is not None:
        cid = resolve_existing(session, s.customer, None)
        st = load_states(session, [cid], window_start(now.date()))[cid]
        today = values["occurred_at"].astimezone(ZoneInfo(st.timezone)).date()
        pid = next((i for i, code in provider_codes(session).items() if code == s.provider), None)
        tz = programme.load(session).timezone
        values.update(**st.profile(), **st.windows(today), **st.service(values["occurred_at"], pid, tz))
    for key, value in s.context.items():
        if key in ("customer_tags",) and isinstance(value, list):
            value = frozenset(value)
        values[key] = value
    try:
        ctx = EvaluationContext(**values)
    except (TypeError, ValueError) as exc:
        raise DomainError("validation_error", f"transaction.context: {exc}", []) from None
    return explain(spec, ctx).as_dict()


def replay(
    session: Session, source: str | dict[str, Any], *, days: int = 30, fmt: str | None = None, chunk: int = 2000
) -> dict[str, Any]:
    spec = _draft(session, source, fmt)
    if not 1 <= days <= 366:
        raise DomainError("validation_error", "days: must be 1 to 366", [])
    ruleset = RuleSet([spec])
    codes = provider_codes(session)
    tz = programme.load(session).timezone
    now = utcnow()
    since = now - timedelta(days=days)
    after = 0
    seen = matched = 0
    points_by_customer: dict[int, int] = defaultdict(int)
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
    total = sum(points_by_customer.values())
    value = programme.load(session).point_value
    return {
        "days": days,
        "transactions": seen,
        "matched": matched,
        "customers": len(points_by_customer),
        "points": total,
        "cost": round(total * value, 2),
        "points_by_rule": dict(by_rule),
        "note": "draft evaluated alone, with today's customer aggregates; budgets and caps not applied",
    }
