"""The append-only points ledger and the balances kept in step with it.

Nothing here updates or deletes a ledger row: corrections are new entries
(reversals, adjustments). Balances move by SQL deltas in the same database
transaction as the entries that justify them, so ``balance == sum(ledger)``
holds at every commit; :func:`check_invariants` proves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from .models import (
    Campaign,
    CustomerBalance,
    LedgerEntry,
    Provider,
    Reversal,
    Transaction,
)


def add_to_balances(session: Session, deltas: Mapping[int, tuple[int, int]], now: datetime) -> None:
    """Add (balance, lifetime) deltas per customer in one statement, in customer order.

    One multi-row upsert instead of N updates; sorted keys give every writer the
    same lock order, which keeps InnoDB deadlocks away.
    """
    if not deltas:
        return
    rows = [
        {"customer_id": cid, "balance": b, "lifetime_points": lt, "updated_at": now}
        for cid, (b, lt) in sorted(deltas.items())
    ]
    table = CustomerBalance.__table__
    dialect = session.get_bind().dialect.name
    if dialect in ("mysql", "mariadb"):
        stmt = mysql_insert(table)
        stmt = stmt.on_duplicate_key_update(
            balance=table.c.balance + stmt.inserted.balance,
            lifetime_points=table.c.lifetime_points + stmt.inserted.lifetime_points,
            updated_at=stmt.inserted.updated_at,
        )
    else:
        stmt = sqlite_insert(table)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.customer_id],
            set_={
                "balance": table.c.balance + stmt.excluded.balance,
                "lifetime_points": table.c.lifetime_points + stmt.excluded.lifetime_points,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    session.execute(stmt, rows)


def balances_of(session: Session, customer_ids: list[int]) -> dict[int, tuple[int, int]]:
    if not customer_ids:
        return {}
    rows = session.execute(
        select(CustomerBalance.customer_id, CustomerBalance.balance, CustomerBalance.lifetime_points).where(
            CustomerBalance.customer_id.in_(customer_ids)
        )
    )
    return {cid: (bal, life) for cid, bal, life in rows}


def apply_reversal(session: Session, txn: Transaction, reversal: Reversal, now: datetime) -> int:
    """Claw back points in proportion to the refunded amount; returns the (negative) points.

    Computed on the cumulative refunded share, so partial refunds that add up to
    the whole amount claw back exactly what was earned, never a point more.
    """
    earned = (
        session.execute(select(LedgerEntry).where(LedgerEntry.transaction_id == txn.id, LedgerEntry.kind == "earn"))
        .scalars()
        .all()
    )
    already = dict(
        session.execute(
            select(LedgerEntry.reverses_entry_id, func.sum(LedgerEntry.points))
            .where(LedgerEntry.transaction_id == txn.id, LedgerEntry.kind == "reversal")
            .group_by(LedgerEntry.reverses_entry_id)
        ).all()
    )
    share = min(Decimal(1), (txn.reversed_amount + reversal.amount) / txn.amount)
    entries = []
    total = 0
    for e in earned:
        target = int((Decimal(e.points) * share).to_integral_value(ROUND_FLOOR))
        delta = -(target + int(already.get(e.id) or 0))
        if delta == 0:
            continue
        total += delta
        entries.append(
            {
                "entry_key": f"r:{reversal.id}:{e.id}",
                "customer_id": txn.customer_id,
                "kind": "reversal",
                "points": delta,
                "transaction_id": txn.id,
                "reversal_id": reversal.id,
                "reverses_entry_id": e.id,
                "provider_id": txn.provider_id,
                "campaign_id": e.campaign_id,
                "campaign_version": e.campaign_version,
                "rule_index": e.rule_index,
                "rule_name": e.rule_name,
                "created_at": now,
            }
        )
    if entries:
        session.execute(insert(LedgerEntry), entries)
        add_to_balances(session, {txn.customer_id: (total, total)}, now)
    reversal.status = "applied"
    reversal.points = total
    reversal.applied_at = now
    txn.reversed_amount = txn.reversed_amount + reversal.amount
    if txn.reversed_amount >= txn.amount:
        txn.status = "reversed"
    return total


def customer_view(session: Session, customer_id: int, *, limit: int = 50) -> dict[str, Any] | None:
    bal = session.get(CustomerBalance, customer_id)
    if bal is None:
        return None
    rows = session.execute(
        select(LedgerEntry, Provider.code, Campaign.name)
        .outerjoin(Provider, Provider.id == LedgerEntry.provider_id)
        .outerjoin(Campaign, Campaign.id == LedgerEntry.campaign_id)
        .where(LedgerEntry.customer_id == customer_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    ).all()
    return {
        "balance": bal.balance,
        "lifetime_points": bal.lifetime_points,
        "ledger": [
            {
                "id": e.id,
                "kind": e.kind,
                "points": e.points,
                "provider": code,
                "transaction_id": e.transaction_id,
                "campaign": name,
                "rule": e.rule_name,
                "created_at": e.created_at,
            }
            for e, code, name in rows
        ],
    }


def check_invariants(session: Session) -> list[str]:
    """Every way the books could be wrong, as readable lines; empty means they balance."""
    problems: list[str] = []
    ledger_sums = (
        select(LedgerEntry.customer_id.label("cid"), func.sum(LedgerEntry.points).label("total"))
        .group_by(LedgerEntry.customer_id)
        .subquery()
    )
    mismatches = session.execute(
        select(CustomerBalance.customer_id, CustomerBalance.balance, func.coalesce(ledger_sums.c.total, 0))
        .outerjoin(ledger_sums, ledger_sums.c.cid == CustomerBalance.customer_id)
        .where(CustomerBalance.balance != func.coalesce(ledger_sums.c.total, 0))
        .limit(100)
    ).all()
    for cid, balance, total in mismatches:
        problems.append(f"customer {cid}: balance {balance} != ledger sum {total}")
    over = session.execute(
        select(LedgerEntry.reverses_entry_id, func.sum(LedgerEntry.points))
        .where(LedgerEntry.kind == "reversal")
        .group_by(LedgerEntry.reverses_entry_id)
    ).all()
    if over:
        earned = dict(
            session.execute(
                select(LedgerEntry.id, LedgerEntry.points).where(LedgerEntry.id.in_([r[0] for r in over]))
            ).all()
        )
        for entry_id, clawed in over:
            if -int(clawed) > earned.get(entry_id, 0):
                problems.append(f"ledger entry {entry_id}: reversed {-int(clawed)} > earned {earned.get(entry_id, 0)}")
    unprocessed_with_points = (
        session.execute(
            select(Transaction.id)
            .join(LedgerEntry, LedgerEntry.transaction_id == Transaction.id)
            .where(Transaction.status == "queued")
            .limit(100)
        )
        .scalars()
        .all()
    )
    for tid in unprocessed_with_points:
        problems.append(f"transaction {tid}: has ledger entries but is still queued")
    return problems


def mark_processed(session: Session, ids: list[int], now: datetime) -> None:
    if ids:
        session.execute(update(Transaction).where(Transaction.id.in_(ids)).values(status="processed", processed_at=now))
