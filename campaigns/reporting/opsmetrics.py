"""Operations figures read at scrape time from the database (no per-process state, so any web process answers).

Totals come from the ``txn_hourly`` rollup for the hours it covers plus one
indexed range (``ix_txn_status_received``) over the hours after it; the
backlog and failures from short index ranges; the accrual latency from the
transactions received in the last ``LATENCY_WINDOW`` and credited.
``credited = received - rejected - queued`` is monotonic (a transaction only
ever leaves ``queued``), so it works as a Prometheus counter for the
processing rate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.care import alerts, hourly
from campaigns.models import Outbox, Transaction, TxnHourly

LATENCY_WINDOW = timedelta(minutes=15)
LATENCY_SAMPLE = 20_000  # the most recent credited transactions of the window at most
LATENCY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


@dataclass
class OpsFigures:
    received: int = 0
    rejected: int = 0
    queued: int = 0
    oldest_queued_seconds: float = 0.0
    failed_notifications: int = 0
    latency_buckets: list[tuple[float, int]] = field(default_factory=list)  # cumulative (le, count)
    latency_count: int = 0
    latency_sum: float = 0.0
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def credited(self) -> int:
        return max(0, self.received - self.rejected - self.queued)


def rolled_totals(session: Session, through: datetime | None) -> tuple[int, int]:
    """Received and rejected transactions in the rolled hours (the part a cache may keep per rolled hour)."""
    if through is None:
        return 0, 0
    n, rejected = session.execute(
        select(func.sum(TxnHourly.txn_count), func.sum(TxnHourly.rejected)).where(TxnHourly.hour <= through)
    ).one()
    return int(n or 0), int(rejected or 0)


def collect(session: Session, now: datetime, rolled: tuple[int, int] | None = None) -> OpsFigures:
    f = OpsFigures()
    through = hourly.rolled_through(session)
    f.received, f.rejected = rolled if rolled is not None else rolled_totals(session, through)
    live_from = through + timedelta(hours=1) if through is not None else None
    live = select(Transaction.status, func.count()).where(Transaction.status.in_(hourly.STATUSES))
    if live_from is not None:
        live = live.where(Transaction.received_at >= live_from)
    for status, n in session.execute(live.group_by(Transaction.status)):
        f.received += int(n)
        if status == "rejected":
            f.rejected += int(n)
    f.queued = int(
        session.scalar(select(func.count()).select_from(Transaction).where(Transaction.status == "queued")) or 0
    )
    oldest = session.scalar(select(func.min(Transaction.received_at)).where(Transaction.status == "queued"))
    f.oldest_queued_seconds = max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0
    f.failed_notifications = int(
        session.scalar(select(func.count()).select_from(Outbox).where(Outbox.status == "failed")) or 0
    )
    waits = [
        (p - r).total_seconds()
        for r, p in session.execute(
            select(Transaction.received_at, Transaction.processed_at)
            .where(Transaction.status.in_(("processed", "reversed")), Transaction.received_at >= now - LATENCY_WINDOW)
            .order_by(Transaction.received_at.desc())
            .limit(LATENCY_SAMPLE)
        )
        if p is not None and p >= r
    ]
    f.latency_buckets = [(le, sum(1 for w in waits if w <= le)) for le in LATENCY_BUCKETS]
    f.latency_count, f.latency_sum = len(waits), sum(waits)
    f.alerts = alerts.live_counts(session)
    return f
