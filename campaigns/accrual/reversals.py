"""Refunds: a full or partial reversal claws points back as new ledger entries.

Validated and recorded under a row lock on the transaction, so two concurrent
refunds can never together exceed the original amount. A refund of a
transaction that is not credited yet waits (``pending``) and is applied by the
worker right after the credit: out-of-order delivery ends in the same balance.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.accounts.ledger import apply_reversal
from campaigns.accrual import challenges
from campaigns.accrual.transactions import reversal_view
from campaigns.errors import DomainError, FieldProblem, conflict, not_found
from campaigns.models import Reversal, Transaction
from campaigns.schemas import ReversalIn


def request_reversal(
    session: Session, txn_id: int, provider_id: int | None, body: ReversalIn, now: datetime
) -> tuple[dict[str, Any], bool]:
    """Record (and when possible apply) a refund; returns (view, created)."""
    q = select(Transaction).where(Transaction.id == txn_id).with_for_update()
    if provider_id is not None:
        q = q.where(Transaction.provider_id == provider_id)
    txn = session.scalar(q)
    if txn is None:
        raise not_found(f"transaction {txn_id}")
    if body.reversal_id:
        old = session.scalar(
            select(Reversal).where(Reversal.transaction_id == txn.id, Reversal.provider_reversal_id == body.reversal_id)
        )
        if old is not None:
            if body.amount is not None and old.amount != body.amount:
                raise conflict(
                    "duplicate_conflict",
                    f"reversal_id '{body.reversal_id}' was already used with amount {old.amount}",
                    [FieldProblem("reversal_id", "already used with a different amount")],
                )
            return reversal_view(old), False
    if txn.status == "rejected":
        raise conflict("not_reversible", "a rejected transaction earned nothing and cannot be reversed")
    pending = session.scalars(
        select(func.coalesce(func.sum(Reversal.amount), 0)).where(
            Reversal.transaction_id == txn.id, Reversal.status == "pending"
        )
    ).one()
    remaining = txn.amount - txn.reversed_amount - Decimal(pending)
    if remaining <= 0:
        raise conflict(
            "already_reversed",
            f"transaction {txn.id} is already fully reversed",
            [FieldProblem("amount", "nothing left to reverse")],
        )
    amount = body.amount if body.amount is not None else remaining
    if amount > remaining:
        raise DomainError(
            "validation_error",
            f"amount: {amount} exceeds what is left to reverse ({remaining})",
            [FieldProblem("amount", f"exceeds what is left to reverse ({remaining} of {txn.amount})")],
        )
    rev = Reversal(
        transaction_id=txn.id, provider_reversal_id=body.reversal_id, amount=amount, status="pending", created_at=now
    )
    session.add(rev)
    session.flush()
    if txn.status in ("processed", "reversed"):
        apply_reversal(session, txn, rev, now)
        session.flush()
        challenges.uncount(session, txn, now)
    return reversal_view(rev), True
