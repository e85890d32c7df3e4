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

from rules import EvaluationContext

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
    seq: int = 0

    def profile(self) -> dict[str, Any]:
        """The customer's own context fields, the same for every evaluation of this customer."""
        return {
            "customer_tier": self.tier,
            "lifetime_points": self.lifetime_points,
            "timezone": self.timezone,
            "birthday_month": self.birth_date.month if self.birth_date else 0,
            "customer_tags": frozenset(self.tags),
        }

    def standing(self, now: datetime, event_type: str, windows: dict[str, Any]) -> EvaluationContext:
        """A context with no purchase in it: eligibility checks and tier requalification."""
        return EvaluationContext(
            amount=0,
            currency="VND",
            provider="",
            category=None,
            channel=None,
            occurred_at=now,
            event_type=event_type,
            **self.profile(),
            **windows,
        )

    def windows(self, today: date) -> dict[str, Any]:
        """Rolling sums before the current event, relative to its local ``today``."""
        out = dict(EMPTY_WINDOWS)  # the same keys window_sums() gives, so callers can use either
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
    session: Session,
    customer_ids: Iterable[int],
    since: date,
    *,
    with_days: bool = True,
    cache: AggregateCache | None = None,
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
            CustomerBalance.agg_seq,
        )
        .outerjoin(CustomerBalance, CustomerBalance.customer_id == Customer.id)
        .where(Customer.id.in_(ids))
    )
    for cid, tier, since_at, tz, birth, life, qual, debt, seq in rows:
        states[cid] = CustomerState(
            cid, tier, since_at, tz, birth, set(), life or 0, qual or 0, debt or 0, seq=seq or 0
        )
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
    if cache is not None:
        cache.fill(session, states, since)
    else:
        _days_from_db(session, states, ids, since)
    return states


def window_start(today: date) -> date:
    return today - timedelta(days=366)


def _days_from_db(session: Session, states: dict[int, CustomerState], ids: list[int], since: date) -> None:
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


SPEND_SCALE = 10_000  # spend kept as integer ten-thousandths in Redis: HINCRBY stays exact

_APPLY = """
if redis.call('HGET', KEYS[1], '_seq') ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 0
end
for i = 4, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('HSET', KEYS[1], '_seq', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""


class AggregateCache:
    """A Redis copy of each customer's daily rows, for speed; MariaDB stays the truth.

    Each copy carries the ``agg_seq`` it was built at. ``customer_balances.agg_seq``
    moves in the same database transaction as ``customer_daily``, so a copy is
    used only when the two agree; a flushed, lost or half-updated copy is simply
    rebuilt from MariaDB on the next read. Results can therefore never differ
    with or without Redis.
    """

    TTL = 30 * 86400

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._apply = redis.register_script(_APPLY)

    @staticmethod
    def key(customer_id: int) -> str:
        return f"loyalty:agg:{customer_id}"

    def fill(self, session: Session, states: dict[int, CustomerState], since: date) -> None:
        ids = sorted(states)
        pipe = self.redis.pipeline(transaction=False)
        for cid in ids:
            pipe.hgetall(self.key(cid))
        misses = []
        for cid, raw in zip(ids, pipe.execute(), strict=True):
            st = states[cid]
            if raw and raw.get(b"_seq") == str(st.seq).encode():
                st.days = _parse(raw, since)
            else:
                misses.append(cid)
        if not misses:
            return
        _days_from_db(session, states, misses, since)
        pipe = self.redis.pipeline(transaction=False)
        for cid in misses:
            st = states[cid]
            fields: dict[str, Any] = {"_seq": st.seq}
            for d in st.days:
                base = f"{d.day:%Y%m%d}:{d.provider_id}"
                fields[f"{base}:c"] = d.txn_count
                fields[f"{base}:s"] = int(d.spend * SPEND_SCALE)
                fields[f"{base}:p"] = d.points
                fields[f"{base}:q"] = d.qualifying
            pipe.delete(self.key(cid))
            pipe.hset(self.key(cid), mapping=fields)
            pipe.expire(self.key(cid), self.TTL)
        pipe.execute()

    def apply(self, updates: dict[int, tuple[int, list[tuple[date, int, int, Decimal, int, int]]]]) -> None:
        """After commit: add this batch's rows to each copy still at ``old_seq`` (others are dropped)."""
        if not updates:
            return
        pipe = self.redis.pipeline(transaction=False)
        for cid, (old_seq, rows) in updates.items():
            args: list[Any] = [old_seq, old_seq + 1, self.TTL]
            for day, pid, count, spend, points, qual in rows:
                base = f"{day:%Y%m%d}:{pid}"
                args += [
                    f"{base}:c",
                    count,
                    f"{base}:s",
                    int(spend * SPEND_SCALE),
                    f"{base}:p",
                    points,
                    f"{base}:q",
                    qual,
                ]
            self._apply(keys=[self.key(cid)], args=args, client=pipe)
        pipe.execute()

    def forget(self, customer_ids: Iterable[int]) -> None:
        keys = [self.key(c) for c in customer_ids]
        if keys:
            self.redis.delete(*keys)


def _parse(raw: dict[bytes, bytes], since: date) -> list[Day]:
    rows: dict[tuple[str, int], Day] = {}
    for k, v in raw.items():
        if k == b"_seq":
            continue
        day_s, pid_s, what = k.decode().split(":")
        day = date(int(day_s[:4]), int(day_s[4:6]), int(day_s[6:]))
        if day < since:
            continue
        d = rows.get((day_s, int(pid_s)))
        if d is None:
            d = rows[(day_s, int(pid_s))] = Day(day, int(pid_s))
        value = int(v)
        if what == "c":
            d.txn_count = value
        elif what == "s":
            d.spend = Decimal(value) / SPEND_SCALE
        elif what == "p":
            d.points = value
        else:
            d.qualifying = value
    return list(rows.values())


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
