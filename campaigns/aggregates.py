"""Customer aggregates across all providers, as the rules see them.

The source of truth is ``customer_daily`` (one row per customer, local day and
provider), written in the same database transaction as the ledger. A batch
loads the last 366 days of its customers' rows in one query and keeps them up
to date in memory as it goes, so the n-th transaction of a customer in a batch
sees the n-1 before it. Nothing here can drift from MariaDB: after a Redis
flush, a restore or a replay the numbers are recomputed from the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from .models import Customer, CustomerBalance, CustomerDaily, CustomerProvider, CustomerTag


@dataclass(slots=True)
class Day:
    day: date
    provider_id: int
    txn_count: int = 0
    spend: Decimal = Decimal(0)
    points: int = 0
    qualifying: int = 0


@dataclass(slots=True)
class CustomerState:
    """What one batch knows about one customer, updated in memory as the batch proceeds."""

    customer_id: int
    tier: str | None
    tier_since: datetime | None
    timezone: str
    birth_date: date | None
    tags: set[str]
    lifetime_points: int
    qualifying_total: int
    debt: int
    days: list[Day] = field(default_factory=list)
    first_at: datetime | None = None
    providers: set[int] = field(default_factory=set)

    def windows(self, today: date) -> dict[str, Any]:
        """Rolling sums before the current event, relative to its local ``today``."""
        out: dict[str, Any] = {
            "points_today": 0,
            "points_7d": 0,
            "points_30d": 0,
            "points_365d": 0,
            "qualifying_points_365d": 0,
            "spend_today": Decimal(0),
            "spend_7d": Decimal(0),
            "spend_30d": Decimal(0),
            "spend_365d": Decimal(0),
            "transactions_today": 0,
            "transactions_this_month": 0,
        }
        providers: set[int] = set()
        for d in self.days:
            age = (today - d.day).days
            if age < 0 or age >= 365:
                continue
            providers.add(d.provider_id)
            out["points_365d"] += d.points
            out["qualifying_points_365d"] += d.qualifying
            out["spend_365d"] += d.spend
            if age < 30:
                out["points_30d"] += d.points
                out["spend_30d"] += d.spend
            if age < 7:
                out["points_7d"] += d.points
                out["spend_7d"] += d.spend
            if age == 0:
                out["points_today"] += d.points
                out["spend_today"] += d.spend
                out["transactions_today"] += d.txn_count
            if d.day.year == today.year and d.day.month == today.month:
                out["transactions_this_month"] += d.txn_count
        out["providers_used_365d"] = len(providers)
        return out

    def record(self, day: date, provider_id: int, *, count: int, spend: Decimal, points: int, qualifying: int) -> Day:
        for d in self.days:
            if d.day == day and d.provider_id == provider_id:
                break
        else:
            d = Day(day, provider_id)
            self.days.append(d)
        d.txn_count += count
        d.spend += spend
        d.points += points
        d.qualifying += qualifying
        return d


def load_states(
    session: Session, customer_ids: Iterable[int], since: date, *, with_days: bool = True
) -> dict[int, CustomerState]:
    """Everything a batch needs about its customers, in four queries.

    ``with_days=False`` stops after the profile and tags: set-based jobs take
    their numbers from :func:`window_sums` instead.
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    states: dict[int, CustomerState] = {}
    rows = session.execute(
        select(
            Customer.id,
            Customer.tier,
            Customer.tier_since,
            Customer.timezone,
            Customer.birth_date,
            CustomerBalance.lifetime_points,
            CustomerBalance.qualifying,
            CustomerBalance.debt,
        )
        .outerjoin(CustomerBalance, CustomerBalance.customer_id == Customer.id)
        .where(Customer.id.in_(ids))
    )
    for cid, tier, since_at, tz, birth, life, qual, debt in rows:
        states[cid] = CustomerState(cid, tier, since_at, tz, birth, set(), life or 0, qual or 0, debt or 0)
    for cid, tag in session.execute(
        select(CustomerTag.customer_id, CustomerTag.tag).where(CustomerTag.customer_id.in_(ids))
    ):
        states[cid].tags.add(tag)
    if not with_days:
        return states
    for cid, pid, first_at in session.execute(
        select(CustomerProvider.customer_id, CustomerProvider.provider_id, CustomerProvider.first_at).where(
            CustomerProvider.customer_id.in_(ids)
        )
    ):
        st = states[cid]
        st.providers.add(pid)
        if st.first_at is None or first_at < st.first_at:
            st.first_at = first_at
    for cid, day, pid, count, spend, points, qual in session.execute(
        select(
            CustomerDaily.customer_id,
            CustomerDaily.day,
            CustomerDaily.provider_id,
            CustomerDaily.txn_count,
            CustomerDaily.spend,
            CustomerDaily.points,
            CustomerDaily.qualifying,
        ).where(CustomerDaily.customer_id.in_(ids), CustomerDaily.day >= since)
    ):
        states[cid].days.append(Day(day, pid, count, Decimal(spend), points, qual))
    return states


def window_start(today: date) -> date:
    return today - timedelta(days=366)


def window_sums(session: Session, customer_ids: list[int], today: date) -> dict[int, dict[str, Any]]:
    """The same numbers as :meth:`CustomerState.windows`, summed by the database: one row per customer.

    For set-based jobs over millions of customers (requalification), where
    shipping every daily row to Python would cost more than the evaluation.
    """
    d = CustomerDaily

    def since(days: int) -> Any:
        return d.day > today - timedelta(days=days)

    def total(column: Any, cond: Any) -> Any:
        return func.coalesce(func.sum(case((cond, column), else_=0)), 0)

    month_start = today.replace(day=1)
    rows = session.execute(
        select(
            d.customer_id,
            total(d.points, d.day == today),
            total(d.points, since(7)),
            total(d.points, since(30)),
            total(d.points, since(365)),
            total(d.qualifying, since(365)),
            total(d.spend, d.day == today),
            total(d.spend, since(7)),
            total(d.spend, since(30)),
            total(d.spend, since(365)),
            total(d.txn_count, d.day == today),
            total(d.txn_count, d.day >= month_start),
            func.count(func.distinct(d.provider_id)),
            select(func.min(CustomerProvider.first_at))
            .where(CustomerProvider.customer_id == d.customer_id)
            .scalar_subquery(),
        )
        .where(d.customer_id.in_(customer_ids), since(365), d.day <= today)
        .group_by(d.customer_id)
    )
    names = (
        "points_today",
        "points_7d",
        "points_30d",
        "points_365d",
        "qualifying_points_365d",
        "spend_today",
        "spend_7d",
        "spend_30d",
        "spend_365d",
        "transactions_today",
        "transactions_this_month",
        "providers_used_365d",
    )
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        values = dict(zip(names, row[1:-1], strict=True))
        first_at = row[-1]
        if first_at is not None:
            first = first_at if first_at.tzinfo else first_at.replace(tzinfo=UTC)
            values["days_since_first_transaction"] = max(0, (today - first.date()).days)
        for key in ("spend_today", "spend_7d", "spend_30d", "spend_365d"):
            values[key] = Decimal(values[key])
        for key in names:
            if not key.startswith("spend"):
                values[key] = int(values[key])
        out[row[0]] = values
    return out


EMPTY_WINDOWS: dict[str, Any] = {
    "points_today": 0,
    "points_7d": 0,
    "points_30d": 0,
    "points_365d": 0,
    "qualifying_points_365d": 0,
    "spend_today": Decimal(0),
    "spend_7d": Decimal(0),
    "spend_30d": Decimal(0),
    "spend_365d": Decimal(0),
    "transactions_today": 0,
    "transactions_this_month": 0,
    "providers_used_365d": 0,
}
