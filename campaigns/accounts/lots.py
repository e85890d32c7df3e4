"""Point lots: spendable points with their expiry, spent oldest-first.

Every debit (redemption, clawback, expiry) is planned against locked lots,
written as one ledger entry, then recorded lot by lot in ``lot_consumptions``,
so the sum of available lots always equals the balance and no point is spent
twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from campaigns.models import LedgerEntry, LotConsumption, PointLot


@dataclass
class TakePlan:
    """Which lots give how much; ``shortfall`` is what no lot could cover."""

    parts: list[tuple[int, int, int]] = field(default_factory=list)  # (lot id, points, customer id)
    shortfall: int = 0

    @property
    def taken(self) -> int:
        return sum(p for _, p, _ in self.parts)

    def by_customer(self) -> dict[int, TakePlan]:
        """Split a pooled plan into one plan per contributing customer (one ledger entry each)."""
        out: dict[int, TakePlan] = {}
        for part in self.parts:
            out.setdefault(part[2], TakePlan()).parts.append(part)
        return out


def plan_take(
    session: Session,
    customer_ids: list[int],
    points: int,
    *,
    first: list[tuple[PointLot, int]] | None = None,
    status: str = "available",
) -> TakePlan:
    """Lock and choose lots to cover ``points``: up to the given share of each ``first`` lot, then soonest expiry.

    ``first``: already locked lots with the share each should give first (a
    clawback takes from each funder's lot of the refunded earning in proportion).
    """
    plan = TakePlan()
    if points <= 0:
        return plan
    need = points
    firsts: dict[int, int] = {}  # lot id -> points already planned from it
    for lot, share in first or []:
        part = min(need, share, lot.remaining) if lot.status == status else 0
        firsts[lot.id] = max(part, 0)
        if part > 0:
            plan.parts.append((lot.id, part, lot.customer_id))
            need -= part
    if need > 0 and status == "available":
        lots = session.execute(
            select(PointLot.id, PointLot.remaining, PointLot.customer_id)
            .where(PointLot.customer_id.in_(customer_ids), PointLot.status == "available", PointLot.remaining > 0)
            .order_by(PointLot.expires_at.is_(None), PointLot.expires_at, PointLot.id)
            .with_for_update()
        ).all()
        for lot_id, remaining, owner in lots:
            if need <= 0:
                break
            part = min(need, remaining - firsts.get(lot_id, 0))  # a first lot gives its share first, then the rest
            if part <= 0:
                continue
            plan.parts.append((lot_id, part, owner))
            need -= part
    plan.shortfall = need
    return plan


def apply_take(session: Session, plan: TakePlan, entry_id: int) -> None:
    if not plan.parts:
        return
    for lot_id, part, _owner in plan.parts:
        session.execute(update(PointLot).where(PointLot.id == lot_id).values(remaining=PointLot.remaining - part))
    session.execute(
        insert(LotConsumption),
        [{"lot_id": lot_id, "entry_id": entry_id, "points": part} for lot_id, part, _owner in plan.parts],
    )


def restore(
    session: Session, debit_entry_id: int, credit_entry_id: int, now: datetime, points: int | None = None
) -> int:
    """Give back what a debit took (at most ``points``), to the same lots if they are still valid; returns
    points restored.

    What earlier credits reversing the same debit already gave back is not given twice, so a debit can be
    refunded in parts (a points payment); the lots taken last are given back first.
    """
    parts = session.execute(
        select(LotConsumption.lot_id, LotConsumption.points)
        .where(LotConsumption.entry_id == debit_entry_id)
        .order_by(LotConsumption.id.desc())
    ).all()
    given: dict[int, int] = {}
    for lot_id, back in session.execute(
        select(LotConsumption.lot_id, LotConsumption.points)
        .join(LedgerEntry, LedgerEntry.id == LotConsumption.entry_id)
        .where(LedgerEntry.reverses_entry_id == debit_entry_id, LotConsumption.points < 0)
    ):
        given[lot_id] = given.get(lot_id, 0) - back
    taken: dict[int, int] = {}  # per lot, in the order to give back (a lot may appear in several rows)
    for lot_id, part in parts:
        taken[lot_id] = taken.get(lot_id, 0) + part
    left = points
    total = 0
    for lot_id, part in taken.items():
        part -= given.get(lot_id, 0)
        if left is not None:
            part = min(part, left)
        if part <= 0:
            continue
        lot = session.get(PointLot, lot_id, with_for_update=True)
        if lot is None:
            continue
        if lot.status == "closed" or (lot.expires_at is not None and lot.expires_at <= now):
            continue  # expired meanwhile: not revived (the caller credits a fresh lot instead)
        lot.remaining += part
        session.add(LotConsumption(lot_id=lot_id, entry_id=credit_entry_id, points=-part))
        total += part
        if left is not None:
            left -= part
    return total
