"""Dashboard figures from aggregate SQL: a handful of GROUP BY queries over indexed ranges.

Days are the programme's local days (``campaigns.localdays``: 23:30 UTC on the 3rd
is the 4th in Hanoi). Points per day and volume per provider come from the ``daily_stats`` rollup for
the days it covers (one row per day and provider, built by the workers'
periodic pass from the append-only ledger and the transactions) plus a live
query over the days after it (today, normally) through ``ix_ledger_created``
and ``ix_txn_status_received``. Active customers read ``customer_daily``
through ``ix_customer_daily_day``; tiers read ``ix_customer_tier``. A provider
user's figures are limited to its provider. ``bench/dashboard.py`` measures it
all on a few million ledger rows (docs/performance.md).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from campaigns import localdays, watermarks
from campaigns.catalog import programme
from campaigns.clock import utcnow
from campaigns.models import (
    Customer,
    CustomerBalance,
    CustomerDaily,
    CustomerProvider,
    DailyStat,
    LedgerEntry,
    Provider,
    Transaction,
)
from campaigns.permissions import Scope


@dataclass
class Dashboard:
    days: list[str] = field(default_factory=list)
    issued: list[int] = field(default_factory=list)
    redeemed: list[int] = field(default_factory=list)
    active_customers: int = 0
    customers: int = 0
    liability: int | None = None
    tiers: list[tuple[str, int]] = field(default_factory=list)
    providers: list[dict[str, Any]] = field(default_factory=list)
    transactions: int = 0
    queued: int = 0
    latency_p50: float | None = None
    latency_p95: float | None = None

    @property
    def issued_total(self) -> int:
        return sum(self.issued)

    @property
    def provider_counts(self) -> list[tuple[str, int]]:
        return [(p["code"], p["count"]) for p in self.providers]

    @property
    def redeemed_total(self) -> int:
        return sum(self.redeemed)


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)[:10]


ROLLUP_COUNTER = "daily_stats_through"  # ordinal of the last local day in daily_stats
ROLLUP_LAG = timedelta(hours=1)  # a day is rolled up an hour after it ended (stragglers credited by then)
ROLLUP_CHUNK_DAYS = 31


def rolled_through(session: Session) -> date | None:
    value = watermarks.read(session, ROLLUP_COUNTER)
    return date.fromordinal(value) if value is not None else None


def refresh_rollup(session: Session, now: datetime | None = None, *, max_days: int = ROLLUP_CHUNK_DAYS) -> int:
    """Roll up the next finished days into ``daily_stats`` (idempotent); returns how many days were added.

    Ledger rows are append-only and stamped when written, so a finished day never changes; the
    transactions of a day are counted once they were credited (processed or reversed). The
    caller commits; concurrent callers serialise on the counter row.
    """
    now = now or utcnow()
    tz = programme.load(session).timezone
    last_full = localdays.day_of(now - ROLLUP_LAG, tz) - timedelta(days=1)

    def before_first() -> int | None:
        first = session.scalar(select(func.min(LedgerEntry.created_at)))
        first_txn = session.scalar(select(func.min(Transaction.received_at)))
        starts = [localdays.day_of(x, tz) for x in (first, first_txn) if x is not None]
        return min(starts).toordinal() - 1 if starts else None

    window = watermarks.next_window(
        session, ROLLUP_COUNTER, last=last_full.toordinal(), most=max_days, before_first=before_first
    )
    if window is None:
        return 0
    start, end = date.fromordinal(window.start), date.fromordinal(window.end)
    lo, hi = localdays.bounds(start, end, tz)
    rows: dict[tuple[date, int], dict[str, Any]] = {}

    def row(day: Any, provider_id: int | None) -> dict[str, Any]:
        key = (localdays.ordinal_day(day), int(provider_id or 0))
        return rows.setdefault(
            key, {"day": key[0], "provider_id": key[1], "issued": 0, "redeemed": 0, "txn_count": 0, "txn_amount": 0}
        )

    lday = localdays.day_case(LedgerEntry.created_at, start, end, tz).label("d")
    for day, provider_id, kind, total in session.execute(
        select(lday, LedgerEntry.provider_id, LedgerEntry.kind, func.sum(LedgerEntry.points + LedgerEntry.pending))
        .where(LedgerEntry.created_at >= lo, LedgerEntry.created_at < hi, LedgerEntry.kind.in_(("earn", "redemption")))
        .group_by(lday, LedgerEntry.provider_id, LedgerEntry.kind)
    ):
        row(day, provider_id)["issued" if kind == "earn" else "redeemed"] += int(total or 0)
    tday = localdays.day_case(Transaction.received_at, start, end, tz).label("d")
    for day, provider_id, n, amount in session.execute(
        select(tday, Transaction.provider_id, func.count(), func.sum(Transaction.amount))
        .where(
            Transaction.status.in_(("processed", "reversed")),
            Transaction.received_at >= lo,
            Transaction.received_at < hi,
        )
        .group_by(tday, Transaction.provider_id)
    ):
        r = row(day, provider_id)
        r["txn_count"], r["txn_amount"] = int(n), Decimal(amount or 0)
    session.execute(delete(DailyStat).where(DailyStat.day >= start, DailyStat.day <= end))
    if rows:
        session.execute(insert(DailyStat), list(rows.values()))
    return window.done(session)


def build(
    session: Session, scope: Scope, *, days: int = 30, now: datetime | None = None, rollup: bool = True
) -> Dashboard:
    """The last ``days`` local days up to today, each counted from the programme's midnight."""
    now = now or utcnow()
    tz = programme.load(session).timezone
    today = localdays.day_of(now, tz)
    first = today - timedelta(days=days - 1)
    d = Dashboard(days=[(first + timedelta(days=i)).isoformat() for i in range(days)])
    pid = scope.provider_id
    through = rolled_through(session) if rollup else None
    live_first = max(first, through + timedelta(days=1)) if through else first
    live_from = localdays.start_of(live_first, tz)

    per_day: dict[tuple[str, str], int] = {}
    if through is not None and through >= first:
        stmt = (
            select(DailyStat.day, func.sum(DailyStat.issued), func.sum(DailyStat.redeemed))
            .where(DailyStat.day >= first, DailyStat.day <= through)
            .group_by(DailyStat.day)
        )
        if pid is not None:
            stmt = stmt.where(DailyStat.provider_id == pid)
        for k, issued, redeemed in session.execute(stmt):
            per_day[(_day(k), "earn")] = int(issued or 0)
            per_day[(_day(k), "redemption")] = int(redeemed or 0)
    day = localdays.day_case(LedgerEntry.created_at, live_first, max(live_first, today), tz).label("d")
    live = (
        select(day, LedgerEntry.kind, func.sum(LedgerEntry.points + LedgerEntry.pending))
        .where(LedgerEntry.created_at >= live_from, LedgerEntry.kind.in_(("earn", "redemption")))
        .group_by(day, LedgerEntry.kind)
    )
    if pid is not None:
        live = live.where(LedgerEntry.provider_id == pid)
    per_day.update({(localdays.ordinal_day(k).isoformat(), kind): int(v or 0) for k, kind, v in session.execute(live)})
    d.issued = [per_day.get((x, "earn"), 0) for x in d.days]
    d.redeemed = [-per_day.get((x, "redemption"), 0) for x in d.days]

    active = select(func.count(func.distinct(CustomerDaily.customer_id))).where(CustomerDaily.day >= first)
    if pid is not None:
        active = active.where(CustomerDaily.provider_id == pid)
    d.active_customers = int(session.scalar(active) or 0)

    tier = func.coalesce(Customer.tier, "none")
    tiers = select(tier, func.count()).group_by(tier).order_by(func.count().desc())
    if pid is not None:
        tiers = tiers.join(
            CustomerProvider, (CustomerProvider.customer_id == Customer.id) & (CustomerProvider.provider_id == pid)
        )
        d.customers = int(
            session.scalar(
                select(func.count()).select_from(CustomerProvider).where(CustomerProvider.provider_id == pid)
            )
            or 0
        )
    else:
        d.customers = int(session.scalar(select(func.count()).select_from(Customer)) or 0)
        d.liability = int(session.scalar(select(func.sum(CustomerBalance.balance))) or 0)
    d.tiers = [(str(t), int(n)) for t, n in session.execute(tiers)]

    volume: dict[int, list[Any]] = {}
    if through is not None and through >= first:
        rolled = (
            select(DailyStat.provider_id, func.sum(DailyStat.txn_count), func.sum(DailyStat.txn_amount))
            .where(DailyStat.day >= first, DailyStat.day <= through, DailyStat.txn_count > 0)
            .group_by(DailyStat.provider_id)
        )
        if pid is not None:
            rolled = rolled.where(DailyStat.provider_id == pid)
        volume = {p: [int(n or 0), Decimal(a or 0)] for p, n, a in session.execute(rolled)}
    live = (
        select(Transaction.provider_id, func.count(), func.sum(Transaction.amount))
        .where(Transaction.status.in_(("processed", "reversed")), Transaction.received_at >= live_from)
        .group_by(Transaction.provider_id)
    )
    if pid is not None:
        live = live.where(Transaction.provider_id == pid)
    for p, n, a in session.execute(live):
        v = volume.setdefault(p, [0, Decimal(0)])
        v[0] += int(n)
        v[1] += Decimal(a or 0)
    names = {i: (c, n) for i, c, n in session.execute(select(Provider.id, Provider.code, Provider.name))}
    d.providers = sorted(
        (
            {"code": names[p][0], "name": names[p][1], "count": n, "amount": int(a)}
            for p, (n, a) in volume.items()
            if p in names and n
        ),
        key=lambda x: (-x["count"], x["code"]),
    )
    d.transactions = sum(p["count"] for p in d.providers)

    queued = select(func.count()).select_from(Transaction).where(Transaction.status == "queued")
    if pid is not None:
        queued = queued.where(Transaction.provider_id == pid)
    d.queued = int(session.scalar(queued) or 0)

    recent = (
        select(Transaction.received_at, Transaction.processed_at)
        .where(Transaction.status == "processed", Transaction.received_at >= now - timedelta(days=1))
        .order_by(Transaction.received_at.desc())  # a backward range scan of ix_txn_status_received
        .limit(1000)
    )
    if pid is not None:
        recent = recent.where(Transaction.provider_id == pid)
    waits = sorted(
        (p - r).total_seconds() for r, p in session.execute(recent) if p is not None and r is not None and p >= r
    )
    if waits:
        d.latency_p50 = statistics.median(waits)
        d.latency_p95 = waits[min(len(waits) - 1, int(len(waits) * 0.95))]
    return d
