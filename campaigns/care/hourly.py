"""Hourly rollups of the transaction stream: the compact source of early warnings and care analytics.

The care monitor calls :func:`refresh` every pass. It rolls the hours that
ended at least the accrual SLA + ``ROLLUP_GRACE`` ago, incrementally from the
last rolled hour (kept in the ``counters`` row ``txn_hourly_through``), with
grouped range queries of at most a day through ``ix_txn_status_received``
(every status listed, so the range is ``status IN (...) AND received_at`` on
that index, forced on MariaDB whose planner preferred full scans for a week)
and ``ix_ledger_created``: the cost of a pass follows the hours it rolls, not
the size of the table (``bench/care.py``).

* ``txn_hourly``: per hour, provider, category, channel and region: count,
  amount, SLA breaches (credited later than the SLA, or still not credited)
  and rejections. Rolling an hour only once it is SLA-old makes ``breaches``
  final: every transaction in it is either credited or already late.
* ``campaign_hourly``: points each campaign issued (ledger ``earn`` entries).
* ``velocity_hourly``: how many customers transacted in the hour and the 99th
  percentile of their per-customer count and amount (the population baseline
  of the velocity warning).

Region is the transaction's ``attributes.region`` when the provider sent one,
``"unknown"`` otherwise: nothing else in the data model places a customer.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVarTuple

from sqlalchemy import Select, case, delete, func, insert, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from campaigns import watermarks
from campaigns.care.stats import percentile
from campaigns.clock import utcnow
from campaigns.models import CampaignHourly, LedgerEntry, Transaction, TxnHourly, TxStatus, VelocityHourly

# The accrual SLA (minutes from receipt to credit) that decides ``breaches`` is the caller's: the
# programme's configurable SLA lives in ``campaigns/care/sla.py``, which reads this module's rollups,
# so it is passed in rather than imported. An hour is counted with the SLA in force when it was rolled.

ROLLUP_COUNTER = "txn_hourly_through"  # hours since the epoch of the last rolled hour
ROLLUP_GRACE = timedelta(minutes=5)  # commits that straddle the hour's end have landed by then
BACKFILL = timedelta(weeks=9)  # the first pass rolls at most this far back (the warnings use 8 weeks)
CHUNK_HOURS = 24 * 7  # at most a week per pass: a first backfill spreads over a few passes
QUERY_HOURS = 24  # each query covers at most a day, so it stays an index range however big the table grows
# every transaction status (index range)
STATUSES: tuple[TxStatus, ...] = ("queued", "processed", "rejected", "reversed")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_Row = TypeVarTuple("_Row")  # the column types of a select that by_received passes through


def hour_index(t: datetime) -> int:
    return int((t - EPOCH).total_seconds() // 3600)


def hour_at(index: int) -> datetime:
    return EPOCH + timedelta(hours=index)


def rolled_through(session: Session) -> datetime | None:
    """The start of the last rolled hour (None before the first pass)."""
    value = watermarks.read(session, ROLLUP_COUNTER)
    return hour_at(value) if value is not None else None


def by_received(q: Select[*_Row]) -> Select[*_Row]:
    """Make MariaDB read ``transactions`` through ``ix_txn_status_received``: over a day of a big table its
    planner otherwise picks a full scan (measured by bench/care.py), whose cost grows with the whole table."""
    return q.with_hint(Transaction, "FORCE INDEX (ix_txn_status_received)", "mysql").with_hint(
        Transaction, "FORCE INDEX (ix_txn_status_received)", "mariadb"
    )


def in_received(lo: datetime, hi: datetime) -> ColumnElement[bool]:
    """``received_at`` in [lo, hi) as a range of ``ix_txn_status_received`` (status, received_at)."""
    return Transaction.status.in_(STATUSES) & (Transaction.received_at >= lo) & (Transaction.received_at < hi)


def _bucket(session: Session, column: Any) -> Any:
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        return func.date_format(column, "%Y-%m-%d %H")
    return func.strftime("%Y-%m-%d %H", column)


def _hour_of(bucket: str) -> datetime:
    return datetime.strptime(bucket, "%Y-%m-%d %H").replace(tzinfo=UTC)


def _late(session: Session, minutes: int) -> ColumnElement[bool]:
    """Credited later than ``minutes`` after receipt (dialect-specific date arithmetic)."""
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        waited = func.timestampdiff(literal_column("SECOND"), Transaction.received_at, Transaction.processed_at)
        return waited > minutes * 60
    seconds = (func.julianday(Transaction.processed_at) - func.julianday(Transaction.received_at)) * 86400.0
    return seconds > minutes * 60


def breach_expression(session: Session, minutes: int) -> Any:
    """1 for a transaction that missed the SLA (late or never credited; rejections excluded), else 0."""
    return case(
        (Transaction.status == "rejected", 0),
        (Transaction.processed_at.is_(None), 1),
        (_late(session, minutes), 1),
        else_=0,
    )


def _first_hour(session: Session, floor: datetime) -> int | None:
    starts = [
        session.scalar(select(func.min(Transaction.received_at)).where(Transaction.status == s)) for s in STATUSES
    ]
    starts.append(session.scalar(select(func.min(LedgerEntry.created_at))))
    found = [s for s in starts if s is not None]
    if not found:
        return None
    return hour_index(max(min(found), floor))


def refresh(session: Session, sla_minutes: int, now: datetime | None = None, *, max_hours: int = CHUNK_HOURS) -> int:
    """Roll the next finished hours (idempotent); returns how many hours were rolled. The caller commits.

    ``sla_minutes`` is the accrual SLA in force (``campaigns.care.sla.policy``): hours are rolled once
    they are that old, and transactions credited later than it count as ``breaches``.
    """
    now = now or utcnow()
    minutes = int(sla_minutes)
    last_closed = hour_index(now - timedelta(minutes=minutes) - ROLLUP_GRACE) - 1

    def before_first() -> int:  # nothing yet: start from now, not from a backfill that has nothing to find
        first = _first_hour(session, now - BACKFILL)
        return first - 1 if first is not None else last_closed

    window = watermarks.next_window(
        session, ROLLUP_COUNTER, last=last_closed, most=max_hours, before_first=before_first
    )
    if window is None:
        return 0
    start, end = window.start, window.end
    for first in range(start, end + 1, QUERY_HOURS):
        lo, hi = hour_at(first), hour_at(min(end, first + QUERY_HOURS - 1) + 1)
        _roll_transactions(session, lo, hi, minutes)
        _roll_campaigns(session, lo, hi)
        _roll_velocity(session, lo, hi)
    return window.done(session)


def _roll_transactions(session: Session, lo: datetime, hi: datetime, minutes: int) -> None:
    bucket = _bucket(session, Transaction.received_at)
    region = Transaction.attributes["region"].as_string()
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    q = (
        select(
            bucket,
            Transaction.provider_id,
            Transaction.category,
            Transaction.channel,
            region,
            func.count(),
            func.sum(Transaction.amount),
            func.sum(breach_expression(session, minutes)),
            func.sum(case((Transaction.status == "rejected", 1), else_=0)),
        )
        .where(in_received(lo, hi))
        .group_by(bucket, Transaction.provider_id, Transaction.category, Transaction.channel, region)
    )
    q = by_received(q)
    for b, pid, category, channel, reg, n, amount, late, rejected in session.execute(q):
        key = (_hour_of(b), pid, (category or "")[:64], (channel or "")[:32], normalise_region(reg))
        row = rows.setdefault(
            key,
            dict(zip(("hour", "provider_id", "category", "channel", "region"), key, strict=True))
            | {"txn_count": 0, "amount": Decimal(0), "breaches": 0, "rejected": 0},
        )
        row["txn_count"] += int(n)
        row["amount"] += Decimal(amount or 0)
        row["breaches"] += int(late or 0)
        row["rejected"] += int(rejected or 0)
    session.execute(delete(TxnHourly).where(TxnHourly.hour >= lo, TxnHourly.hour < hi))
    if rows:
        session.execute(insert(TxnHourly), list(rows.values()))


def normalise_region(value: Any) -> str:
    text = str(value).strip() if value is not None else ""
    return text[:64] if text else "unknown"


def _roll_campaigns(session: Session, lo: datetime, hi: datetime) -> None:
    bucket = _bucket(session, LedgerEntry.created_at)
    rows = [
        {"hour": _hour_of(b), "campaign_id": cid, "points": int(points or 0)}
        for b, cid, points in session.execute(
            select(bucket, LedgerEntry.campaign_id, func.sum(LedgerEntry.points + LedgerEntry.pending))
            .where(
                LedgerEntry.created_at >= lo,
                LedgerEntry.created_at < hi,
                LedgerEntry.kind == "earn",
                LedgerEntry.campaign_id.is_not(None),
            )
            .group_by(bucket, LedgerEntry.campaign_id)
        )
    ]
    session.execute(delete(CampaignHourly).where(CampaignHourly.hour >= lo, CampaignHourly.hour < hi))
    if rows:
        session.execute(insert(CampaignHourly), rows)


def _roll_velocity(session: Session, lo: datetime, hi: datetime) -> None:
    bucket = _bucket(session, Transaction.received_at)
    per_hour: dict[datetime, list[tuple[int, float]]] = defaultdict(list)
    for b, n, amount in session.execute(
        by_received(
            select(bucket, func.count(), func.sum(Transaction.amount))
            .where(in_received(lo, hi))
            .group_by(bucket, Transaction.customer_id)
        )
    ):
        per_hour[_hour_of(b)].append((int(n), float(amount or 0)))
    rows = [
        {
            "hour": hour,
            "customers": len(values),
            "p99_txns": percentile([n for n, _ in values], 99),
            "p99_amount": Decimal(str(round(percentile([a for _, a in values], 99), 4))),
        }
        for hour, values in per_hour.items()
    ]
    session.execute(delete(VelocityHourly).where(VelocityHourly.hour >= lo, VelocityHourly.hour < hi))
    if rows:
        session.execute(insert(VelocityHourly), rows)
