"""Dashboard figures from aggregate SQL: a handful of GROUP BY queries over indexed ranges.

Points per day read ``ledger_entries`` through ``ix_ledger_created`` (the last
N days only); active customers read ``customer_daily``; volume reads
``transactions`` through ``ix_txn_status_received``. A provider user's figures
are limited to its provider.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import (
    Customer,
    CustomerBalance,
    CustomerDaily,
    CustomerProvider,
    LedgerEntry,
    Provider,
    Transaction,
    utcnow,
)
from .permissions import Scope


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


def build(session: Session, scope: Scope, *, days: int = 30, now: datetime | None = None) -> Dashboard:
    now = now or utcnow()
    since = now - timedelta(days=days - 1)
    since = since.replace(hour=0, minute=0, second=0, microsecond=0)
    d = Dashboard(days=[(since + timedelta(days=i)).date().isoformat() for i in range(days)])
    pid = scope.provider_id

    day = func.date(LedgerEntry.created_at)
    stmt = (
        select(day, LedgerEntry.kind, func.sum(LedgerEntry.points + LedgerEntry.pending))
        .where(LedgerEntry.created_at >= since, LedgerEntry.kind.in_(("earn", "redemption")))
        .group_by(day, LedgerEntry.kind)
    )
    if pid is not None:
        stmt = stmt.where(LedgerEntry.provider_id == pid)
    per_day: dict[tuple[str, str], int] = {(_day(k), kind): int(v or 0) for k, kind, v in session.execute(stmt)}
    d.issued = [per_day.get((x, "earn"), 0) for x in d.days]
    d.redeemed = [-per_day.get((x, "redemption"), 0) for x in d.days]

    active = select(func.count(func.distinct(CustomerDaily.customer_id))).where(CustomerDaily.day >= since.date())
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

    vol = (
        select(Provider.code, Provider.name, func.count(), func.sum(Transaction.amount))
        .join(Provider, Provider.id == Transaction.provider_id)
        .where(Transaction.status.in_(("processed", "reversed")), Transaction.received_at >= since)
        .group_by(Provider.code, Provider.name)
        .order_by(func.count().desc())
    )
    if pid is not None:
        vol = vol.where(Transaction.provider_id == pid)
    d.providers = [
        {"code": code, "name": name, "count": int(n), "amount": int(amount or 0)}
        for code, name, n, amount in session.execute(vol)
    ]
    d.transactions = sum(p["count"] for p in d.providers)

    queued = select(func.count()).select_from(Transaction).where(Transaction.status == "queued")
    if pid is not None:
        queued = queued.where(Transaction.provider_id == pid)
    d.queued = int(session.scalar(queued) or 0)

    recent = (
        select(Transaction.received_at, Transaction.processed_at)
        .where(Transaction.status == "processed", Transaction.received_at >= now - timedelta(days=1))
        .order_by(Transaction.id.desc())
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
