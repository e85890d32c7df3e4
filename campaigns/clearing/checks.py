"""The money invariants of ``flask ledger check``: the clearing books add up to the point.

- every issued point has a funder, and an earning's lots hold exactly its points;
- each lot's arithmetic holds (points - recovered - consumed = remaining), so
  per funder the liability rolled forward from the start equals its open lots;
- each closed month's stored statement sums to zero and equals a recomputation;
- nothing is reimbursed twice (a redemption is cancelled at most once, for
  exactly what it took; a points payment has exactly one ``payment`` entry for
  its points, and its refunds never add up to more than it: ledger, refund rows
  and the payment's own total agree);
- a transfer moves exactly its points: the recipient's mirrored lots hold them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from campaigns.clearing import statements
from campaigns.clearing.rates import RateBook
from campaigns.models import (
    LedgerEntry,
    LotConsumption,
    PointLot,
    PointPayment,
    PointPaymentRefund,
    PointTransfer,
    SettlementLine,
    SettlementPeriod,
    utcnow,
)

MAX_PROBLEMS = 20
ROWS_PER_CHUNK = 200_000


def _chunks(session: Session, column: Any) -> Iterator[tuple[int, int]]:
    low, high = session.execute(select(func.min(column), func.max(column))).one()
    if low is None:
        return
    for start in range(int(low), int(high) + 1, ROWS_PER_CHUNK):
        yield start, start + ROWS_PER_CHUNK - 1


def _scan(
    session: Session, column: Any, query: Callable[[int, int], Select[*tuple[Any, ...]]], say: Callable[..., str]
) -> list[str]:
    found: list[str] = []
    for lo, hi in _chunks(session, column):
        if len(found) >= MAX_PROBLEMS:
            break
        found += [say(*row) for row in session.execute(query(lo, hi).limit(MAX_PROBLEMS - len(found)))]
    return found


def _earning_vs_lots(lo: int, hi: int) -> Select[int, int, Any]:
    lots = (
        select(PointLot.entry_id.label("eid"), func.sum(PointLot.points).label("pts"))
        .where(PointLot.entry_id.between(lo, hi))
        .group_by(PointLot.entry_id)
        .subquery()
    )
    spendable = LedgerEntry.points + LedgerEntry.pending
    return (
        select(LedgerEntry.id, spendable, func.coalesce(lots.c.pts, 0))
        .outerjoin(lots, lots.c.eid == LedgerEntry.id)
        .where(
            LedgerEntry.id.between(lo, hi),
            LedgerEntry.kind.in_(("earn", "opening")),
            spendable != func.coalesce(lots.c.pts, 0),
        )
    )


def _lot_arithmetic(lo: int, hi: int) -> Select[int, int, int, Any, int]:
    used = (
        select(LotConsumption.lot_id.label("lid"), func.sum(LotConsumption.points).label("used"))
        .where(LotConsumption.lot_id.between(lo, hi))
        .group_by(LotConsumption.lot_id)
        .subquery()
    )
    consumed = func.coalesce(used.c.used, 0)
    return (
        select(PointLot.id, PointLot.points, PointLot.recovered, consumed, PointLot.remaining)
        .outerjoin(used, used.c.lid == PointLot.id)
        .where(PointLot.id.between(lo, hi), PointLot.points - PointLot.recovered - consumed != PointLot.remaining)
    )


def money_problems(session: Session) -> list[str]:
    problems: list[str] = []
    unfunded = session.execute(
        select(func.count(), func.coalesce(func.sum(PointLot.points), 0)).where(PointLot.funder_id.is_(None))
    ).one()
    if unfunded[0]:
        problems.append(f"{unfunded[0]} point lot(s) with {unfunded[1]} points have no funder")
    problems += _scan(
        session,
        LedgerEntry.id,
        _earning_vs_lots,
        lambda eid, pts, lots: f"ledger entry {eid}: earned {pts} points but its funders' lots hold {lots}",
    )
    problems += _scan(
        session,
        PointLot.id,
        _lot_arithmetic,
        lambda lid, pts, rec, used, rem: (
            f"point lot {lid}: {pts} issued - {rec} recovered - {used} consumed != {rem} remaining"
        ),
    )
    tz = statements.zone(session)
    book = RateBook.load(session)
    everything = statements.movements(session, None, utcnow().replace(year=9999), book, tz)
    open_lots = statements.open_lots(session)
    for funder in sorted(set(everything.issued) | set(open_lots), key=lambda f: (f is None, f or 0)):
        rolled = statements._open(everything, funder).points if funder is not None else None
        if funder is not None and rolled != open_lots.get(funder, 0):
            problems.append(
                f"funder {funder}: liability rolled forward {rolled} != open lots {open_lots.get(funder, 0)}"
            )
    for period in session.scalars(select(SettlementPeriod).order_by(SettlementPeriod.period)):
        stored = [
            (ln.party_id, ln.kind, ln.points, ln.amount, ln.value, ln.origin)
            for ln in session.scalars(
                select(SettlementLine).where(SettlementLine.period == period.period).order_by(SettlementLine.id)
            )
        ]
        total = sum(amount for _p, kind, _pt, amount, _v, _o in stored if kind == "net")
        if total != 0:
            problems.append(f"settlement {period.period}: stored statements sum to {total}, not 0")
        again = [
            (ln["party_id"], ln["kind"], ln["points"], ln["amount"], ln["value"], ln["origin"])
            for ln in statements.statement_lines(session, period.starts_at, period.ends_at, tz)
        ]
        if sorted(again, key=repr) != sorted(stored, key=repr):
            changed = sorted(set(again) ^ set(stored), key=repr)[:3]
            problems.append(f"settlement {period.period}: stored statement != recomputation from the ledger {changed}")
    for debit, times in session.execute(
        select(LedgerEntry.reverses_entry_id, func.count())
        .where(LedgerEntry.kind == "redemption_cancel", LedgerEntry.reverses_entry_id.is_not(None))
        .group_by(LedgerEntry.reverses_entry_id)
        .having(func.count() > 1)
        .limit(MAX_PROBLEMS)
    ):
        problems.append(f"redemption entry {debit}: cancelled {times} times (reimbursement reversed twice)")
    problems += payment_problems(session)
    return problems


def payment_problems(session: Session) -> list[str]:
    """Points payments reimbursed once and never refunded beyond themselves; transfers moved whole."""
    problems: list[str] = []
    refunded_in_ledger = (
        select(LedgerEntry.reverses_entry_id.label("eid"), func.sum(LedgerEntry.points).label("pts"))
        .where(LedgerEntry.kind == "payment_refund")
        .group_by(LedgerEntry.reverses_entry_id)
        .subquery()
    )
    refund_rows = (
        select(PointPaymentRefund.payment_id.label("pid"), func.sum(PointPaymentRefund.points).label("pts"))
        .group_by(PointPaymentRefund.payment_id)
        .subquery()
    )
    ledger_back, rows_back = func.coalesce(refunded_in_ledger.c.pts, 0), func.coalesce(refund_rows.c.pts, 0)
    for pid, points, refunded, debit, in_ledger, in_rows in session.execute(
        select(
            PointPayment.id,
            PointPayment.points,
            PointPayment.refunded_points,
            LedgerEntry.points,
            ledger_back,
            rows_back,
        )
        .outerjoin(LedgerEntry, (LedgerEntry.id == PointPayment.entry_id) & (LedgerEntry.kind == "payment"))
        .outerjoin(refunded_in_ledger, refunded_in_ledger.c.eid == PointPayment.entry_id)
        .outerjoin(refund_rows, refund_rows.c.pid == PointPayment.id)
        .where(
            (LedgerEntry.points.is_(None))
            | (LedgerEntry.points != -PointPayment.points)
            | (PointPayment.refunded_points > PointPayment.points)
            | (ledger_back != PointPayment.refunded_points)
            | (rows_back != PointPayment.refunded_points)
        )
        .limit(MAX_PROBLEMS)
    ):
        problems.append(
            f"point payment {pid}: {points} points, debited {debit}, refunded {refunded} "
            f"(ledger {in_ledger}, refund rows {in_rows})"
        )
    stray = session.scalar(
        select(func.count())
        .select_from(LedgerEntry)
        .where(
            LedgerEntry.kind == "payment",
            LedgerEntry.id.not_in(select(PointPayment.entry_id).where(PointPayment.entry_id.is_not(None))),
        )
    )
    if stray:
        problems.append(f"{stray} payment ledger entries belong to no point payment (reimbursed without a payment)")
    moved = (
        select(PointLot.entry_id.label("eid"), func.sum(PointLot.points).label("pts"))
        .where(PointLot.moved_from_lot_id.is_not(None))
        .group_by(PointLot.entry_id)
        .subquery()
    )
    for tid, points, lots in session.execute(
        select(PointTransfer.id, PointTransfer.points, func.coalesce(moved.c.pts, 0))
        .outerjoin(moved, moved.c.eid == PointTransfer.in_entry_id)
        .where(PointTransfer.points != func.coalesce(moved.c.pts, 0))
        .limit(MAX_PROBLEMS)
    ):
        problems.append(f"point transfer {tid}: {points} points sent but the recipient's moved lots hold {lots}")
    return problems
