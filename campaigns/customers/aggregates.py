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
from zoneinfo import ZoneInfo

from sqlalchemy import (
    CompoundSelect,
    bindparam,
    case,
    func,
    literal_column,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session

from campaigns.models import (
    Customer,
    CustomerAttribute,
    CustomerBalance,
    CustomerDaily,
    CustomerProvider,
    CustomerTag,
)
from rules import EvaluationContext


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
    member_since: date | None = None
    provider_first: dict[int, datetime] = field(default_factory=dict)  # earliest date seen per provider
    attributes: dict[str, Any] = field(default_factory=dict)  # customer.<name>

    def seen(self, provider_id: int, at: datetime) -> None:
        """Remember a transaction with a provider (as the LEAST upsert of customer_providers will)."""
        self.providers.add(provider_id)
        if self.first_at is None or at < self.first_at:
            self.first_at = at
        first = self.provider_first.get(provider_id)
        if first is None or at < first:
            self.provider_first[provider_id] = at

    def service(self, at: datetime, provider_id: int | None, timezone: str) -> dict[str, Any]:
        """months_of_service and months_with_provider at ``at``, in whole local months of ``timezone``."""
        zone = ZoneInfo(timezone)
        today = at.astimezone(zone).date()
        starts = [d for d in (self.member_since, self.first_at and self.first_at.astimezone(zone).date()) if d]
        first = self.provider_first.get(provider_id) if provider_id is not None else None
        return {
            "months_of_service": whole_months(min(starts), today) if starts else 0,
            "months_with_provider": whole_months(first.astimezone(zone).date(), today) if first else 0,
        }

    def profile(self) -> dict[str, Any]:
        """The customer's own context fields, the same for every evaluation of this customer."""
        return {
            "customer_tier": self.tier,
            "lifetime_points": self.lifetime_points,
            "timezone": self.timezone,
            "birthday_month": self.birth_date.month if self.birth_date else 0,
            "customer_tags": frozenset(self.tags),
            "customer_attributes": self.attributes,
        }

    def standing(
        self, now: datetime, event_type: str, windows: dict[str, Any], timezone: str | None = None
    ) -> EvaluationContext:
        """A context with no purchase in it: eligibility checks and tier requalification.

        Length of service counts in ``timezone`` (the programme's), else the customer's own.
        """
        return EvaluationContext(
            amount=Decimal(0),
            currency="VND",
            provider="",
            category=None,
            channel=None,
            occurred_at=now,
            event_type=event_type,
            **self.service(now, None, timezone or self.timezone),
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


def whole_months(since: date, until: date) -> int:
    """Whole calendar months from ``since`` to ``until`` (15 Jan -> 14 Feb is 0, -> 15 Feb is 1); never negative."""
    months = (until.year - since.year) * 12 + until.month - since.month - (until.day < since.day)
    return max(0, months)


def load_states(
    session: Session,
    customer_ids: Iterable[int],
    since: date,
    *,
    with_days: bool = True,
    cache: AggregateCache | None = None,
) -> dict[int, CustomerState]:
    """Everything a batch needs about its customers (profile, tags, attributes, first contacts, days) in one
    statement, whatever the number of customers: a batch of one pays one round trip, not five.

    With ``cache``, the Redis copies are read first, so the statement brings the days of only the customers
    without a usable-looking copy; a copy found at another ``agg_seq`` than the row's (rare: a lost update)
    costs one more read. ``with_days=False`` stops before the days: set-based jobs take their numbers from
    :func:`window_sums` instead.
    """
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    copies: dict[int, tuple[int, list[Day], int, bytes]] = {}
    if with_days and cache is not None:
        copies = cache.read(ids, since)
    day_ids = [c for c in ids if c not in copies] if with_days else []
    params: dict[str, Any] = {"ids": ids}
    if day_ids:
        params.update(day_ids=day_ids, since=since)
    states: dict[int, CustomerState] = {}
    rest = []  # the other kinds, once every profile is in (no ORDER BY: MariaDB would sort the whole union)
    for row in session.execute(_STATE_WITH_DAYS if day_ids else _STATE, params):
        k, cid, s1, s2, t1, d1, d2, i1, i2, i3, i4, _n1, _j1 = row
        if k == _PROFILE:
            states[cid] = CustomerState(
                cid, s1, t1, s2, d1, set(), i1 or 0, i2 or 0, i3 or 0, seq=i4 or 0, member_since=d2
            )
        else:
            rest.append(row)
    for k, cid, s1, _s2, t1, d1, _d2, i1, i2, i3, i4, n1, j1 in rest:
        if k == _TAG:
            states[cid].tags.add(s1)
        elif k == _ATTRIBUTE:
            states[cid].attributes[s1] = j1
        elif k == _CONTACT:
            states[cid].seen(i1, t1)
        else:
            states[cid].days.append(Day(d1, i1, i2, Decimal(n1), i3, i4))
    if with_days and cache is not None:
        cache.settle(session, states, since, copies, day_ids)
    return states


# load_states' one statement: a UNION ALL of one branch per kind of row, each in the same wide row of typed
# slots (the first branch's types decide how every branch's values are read back). Built once: per call only
# the ids are bound.
_PROFILE, _TAG, _ATTRIBUTE, _CONTACT, _DAY = range(5)


def _slots(**given: Any) -> list[Any]:
    typed = {
        "s1": Customer.tier.type,
        "s2": Customer.timezone.type,
        "t1": Customer.tier_since.type,
        "d1": Customer.birth_date.type,
        "d2": Customer.member_since.type,
        "i1": CustomerBalance.lifetime_points.type,
        "i2": CustomerBalance.lifetime_points.type,
        "i3": CustomerBalance.lifetime_points.type,
        "i4": CustomerBalance.lifetime_points.type,
        "n1": CustomerDaily.spend.type,
        "j1": CustomerAttribute.value.type,
    }
    return [(given[name] if name in given else type_coerce(null(), kind)).label(name) for name, kind in typed.items()]


def _state_statement(with_days: bool) -> CompoundSelect:
    ids: Any = bindparam("ids", expanding=True)
    branches = [
        select(
            literal_column(str(_PROFILE)).label("k"),
            Customer.id.label("cid"),
            *_slots(
                s1=Customer.tier,
                s2=Customer.timezone,
                t1=Customer.tier_since,
                d1=Customer.birth_date,
                d2=Customer.member_since,
                i1=CustomerBalance.lifetime_points,
                i2=CustomerBalance.qualifying,
                i3=CustomerBalance.debt,
                i4=CustomerBalance.agg_seq,
            ),
        )
        .outerjoin(CustomerBalance, CustomerBalance.customer_id == Customer.id)
        .where(Customer.id.in_(ids)),
        select(literal_column(str(_TAG)), CustomerTag.customer_id, *_slots(s1=CustomerTag.tag)).where(
            CustomerTag.customer_id.in_(ids)
        ),
        select(
            literal_column(str(_ATTRIBUTE)),
            CustomerAttribute.customer_id,
            *_slots(s1=CustomerAttribute.name, j1=CustomerAttribute.value),
        ).where(CustomerAttribute.customer_id.in_(ids)),
        select(
            literal_column(str(_CONTACT)),
            CustomerProvider.customer_id,
            *_slots(i1=CustomerProvider.provider_id, t1=CustomerProvider.first_at),
        ).where(CustomerProvider.customer_id.in_(ids)),
    ]
    if with_days:
        d = CustomerDaily
        branches.append(
            select(
                literal_column(str(_DAY)),
                d.customer_id,
                *_slots(d1=d.day, i1=d.provider_id, i2=d.txn_count, i3=d.points, i4=d.qualifying, n1=d.spend),
            ).where(d.customer_id.in_(bindparam("day_ids", expanding=True)), d.day >= bindparam("since"))
        )
    return union_all(*branches)


_STATE = _state_statement(False)
_STATE_WITH_DAYS = _state_statement(True)


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


SPEND_SCALE = 10_000  # spend kept as integer ten-thousandths in Redis: sums stay exact

# Append this batch's records to each copy still at its old sequence; drop the others.
# A copy is "seq:from|record|record...". ARGV: ttl, then per key: old sequence, new sequence,
# records ("|"-separated). No arithmetic in Lua (its numbers are doubles): the reader sums
# repeated (day, provider) records exactly.
_APPLY = """
local ttl = ARGV[1]
for i, key in ipairs(KEYS) do
  local at = 2 + (i - 1) * 3
  local cur = redis.call('GET', key)
  if cur then
    local colon = string.find(cur, ':', 1, true)
    if not colon or string.sub(cur, 1, colon - 1) ~= ARGV[at] then
      redis.call('DEL', key)
    else
      redis.call('SET', key, ARGV[at + 1] .. string.sub(cur, colon) .. '|' .. ARGV[at + 2], 'EX', ttl)
    end
  end
end
return 1
"""

# Replace copies by their compacted form, unless they moved on meanwhile.
# ARGV: ttl, then per key: sequence, value.
_COMPACT = """
for i, key in ipairs(KEYS) do
  local seq, value = ARGV[2 * i], ARGV[2 * i + 1]
  local cur = redis.call('GET', key)
  if cur and string.sub(cur, 1, #seq + 1) == seq .. ':' then
    redis.call('SET', key, value, 'EX', ARGV[1])
  end
end
return 1
"""

# A copy with more records than this per distinct (day, provider) is rewritten compacted on read.
_COMPACT_RATIO = 4


class AggregateCache:
    """A Redis copy of each customer's daily rows, for speed; MariaDB stays the truth.

    One string per customer, ``seq:from|YYYYMMDD:provider:count:spend:points:qualifying|...``,
    so a batch reads all its customers with one ``MGET`` and updates them with one
    script call. Each copy carries the ``agg_seq`` it was built at and the first day
    it covers (a batch that needs older days rebuilds it).
    ``customer_balances.agg_seq`` moves in the same database transaction as
    ``customer_daily``, so a copy is used only when the two agree; a flushed, lost
    or half-updated copy is simply rebuilt from MariaDB on the next read. Results
    can therefore never differ with or without Redis.
    """

    TTL = 30 * 86400

    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._apply = redis.register_script(_APPLY)
        self._compact = redis.register_script(_COMPACT)

    @staticmethod
    def key(customer_id: int) -> str:
        return f"loyalty:aggs:{customer_id}"

    def fill(self, session: Session, states: dict[int, CustomerState], since: date) -> None:
        """Days for states loaded without them: from each usable copy, else from MariaDB (then copied)."""
        copies = self.read(sorted(states), since)
        missing = [c for c in sorted(states) if c not in copies]
        if missing:
            _days_from_db(session, states, missing, since)
        self.settle(session, states, since, copies, missing)

    def read(self, ids: list[int], since: date) -> dict[int, tuple[int, list[Day], int, bytes]]:
        """The copies that cover ``since``, before their customers' rows are read: customer -> (sequence, days,
        records, start). Whether one is usable is known once the rows give each customer's ``agg_seq``."""
        floor = int(f"{since:%Y%m%d}")
        found: dict[int, tuple[int, list[Day], int, bytes]] = {}
        for cid, raw in zip(ids, self.redis.mget([self.key(c) for c in ids]), strict=True):
            if not raw:
                continue
            head, _, body = raw.partition(b"|")
            seq, _, start = head.partition(b":")
            if int(start) > floor:
                continue
            days, records = _parse(body)
            found[cid] = (int(seq), days, records, start)
        return found

    def settle(
        self,
        session: Session,
        states: dict[int, CustomerState],
        since: date,
        copies: dict[int, tuple[int, list[Day], int, bytes]],
        loaded: list[int],
    ) -> None:
        """Give each state its days from its copy when the copy is at the row's ``agg_seq``, else from MariaDB;
        then write the copies of those read from MariaDB (``loaded`` already were) and compact long ones."""
        floor = int(f"{since:%Y%m%d}")
        misses = [c for c in loaded if c in states]
        stale = []
        compact: dict[int, str] = {}
        for cid, (seq, days, records, start) in copies.items():
            st = states.get(cid)
            if st is None:
                continue
            if seq != st.seq:
                stale.append(cid)
                continue
            st.days = [d for d in days if d.day >= since]
            if records > _COMPACT_RATIO * max(len(days), 1):
                compact[cid] = _serialize(st.seq, start.decode(), days)
        if stale:
            _days_from_db(session, states, stale, since)
            misses += stale
        if not misses and not compact:
            return
        pipe = self.redis.pipeline(transaction=False)
        for cid in misses:
            pipe.set(self.key(cid), _serialize(states[cid].seq, str(floor), states[cid].days), ex=self.TTL)
        if compact:
            args: list[Any] = [self.TTL]
            for cid, value in compact.items():
                args += [states[cid].seq, value]
            self._compact(keys=[self.key(c) for c in compact], args=args, client=pipe)
        pipe.execute()

    def apply(self, updates: dict[int, tuple[int, list[tuple[date, int, int, Decimal, int, int]]]]) -> None:
        """After commit: add this batch's rows to each copy still at ``old_seq`` (others are dropped)."""
        if not updates:
            return
        keys: list[str] = []
        args: list[Any] = [self.TTL]
        for cid, (old_seq, rows) in updates.items():
            keys.append(self.key(cid))
            args += [old_seq, old_seq + 1, "|".join(_record(*row) for row in rows)]
        self._apply(keys=keys, args=args)

    def forget(self, customer_ids: Iterable[int]) -> None:
        keys = [self.key(c) for c in customer_ids]
        if keys:
            self.redis.delete(*keys)


def _record(day: date, provider_id: int, count: int, spend: Decimal, points: int, qualifying: int) -> str:
    return f"{day:%Y%m%d}:{provider_id}:{count}:{int(spend * SPEND_SCALE)}:{points}:{qualifying}"


def _serialize(seq: int, start: str, days: list[Day]) -> str:
    records = (_record(d.day, d.provider_id, d.txn_count, d.spend, d.points, d.qualifying) for d in days)
    return "|".join([f"{seq}:{start}", *records])


def _parse(body: bytes) -> tuple[list[Day], int]:
    """The days of a copy's body (repeated records summed), and how many records it held."""
    rows: dict[bytes, Day] = {}
    records = body.split(b"|") if body else []
    for rec in records:
        day_s, pid_s, count, spend, points, qual = rec.split(b":")
        key = day_s + b":" + pid_s
        d = rows.get(key)
        if d is None:
            n = int(day_s)
            d = rows[key] = Day(date(n // 10000, n // 100 % 100, n % 100), int(pid_s))
        d.txn_count += int(count)
        d.spend += Decimal(int(spend)) / SPEND_SCALE
        d.points += int(points)
        d.qualifying += int(qual)
    return list(rows.values()), len(records)


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
