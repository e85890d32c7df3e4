"""Points as money at a provider's checkout ("1 point = 1 VND at the post office"), and their refunds.

A payment is a debit like a redemption: it locks the customer's balance row,
takes points from the lots in the usual order (soonest expiry first) and is
written as one ``payment`` ledger entry naming the provider, which clearing
reimburses at that provider's ``redemption_rate``. A refund (``payment_refund``,
partial or whole, never above what is left) gives the points back to the same
lots (a fresh programme-funded lot for any that expired meanwhile, as a
cancelled redemption does) and reverses that reimbursement. Both are
idempotent per provider by the provider's own id: the same body answers the
same, a different body is a 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.accounts.ledger import add_to_balances
from campaigns.accounts.lots import apply_take, plan_take, restore
from campaigns.catalog.programme import below_minimum
from campaigns.catalog.programme import load as load_programme
from campaigns.clearing import PROGRAMME
from campaigns.clock import utcnow
from campaigns.errors import DomainError, FieldProblem, conflict, not_found
from campaigns.models import (
    AuditEvent,
    CustomerBalance,
    LedgerEntry,
    PointLot,
    PointPayment,
    PointPaymentRefund,
    Provider,
)
from campaigns.notify.outbox import queue_sms
from campaigns.schemas import PointPaymentIn, PointRefundIn


def _points_for(amount: int, point_value: Decimal, field: str) -> int:
    """An amount in VND as whole points at ``point_value``; an amount that is not whole points is refused."""
    if point_value <= 0:
        raise DomainError(
            "validation_error",
            f"{field}: the programme's point_value is 0, so pay in points",
            [FieldProblem(field, "point_value is 0: give points instead")],
        )
    points = Decimal(amount) / point_value
    if points != points.to_integral_value():
        low = int(points) * point_value
        reason = f"{amount} VND is not a whole number of points at {point_value} VND a point (e.g. {low:f})"
        raise DomainError("validation_error", f"{field}: {reason}", [FieldProblem(field, reason)])
    return int(points)


def _value(session: Session) -> Decimal:
    return Decimal(str(load_programme(session).point_value))


def payment_view(p: PointPayment, session: Session) -> dict[str, Any]:
    refunds = session.scalars(
        select(PointPaymentRefund).where(PointPaymentRefund.payment_id == p.id).order_by(PointPaymentRefund.id)
    ).all()
    return {
        "id": p.id,
        "provider_payment_id": p.provider_payment_id,
        "provider": session.scalar(select(Provider.code).where(Provider.id == p.provider_id)),
        "customer_id": p.customer_id,
        "points": p.points,
        "amount": p.amount,
        "refunded_points": p.refunded_points,
        "refunded_amount": p.refunded_amount,
        "status": p.status,
        "balance": p.balance_after,
        "created_at": p.created_at,
        "refunds": [refund_view(r) for r in refunds],
    }


def refund_view(r: PointPaymentRefund) -> dict[str, Any]:
    return {
        "id": r.id,
        "payment_id": r.payment_id,
        "provider_refund_id": r.provider_refund_id,
        "points": r.points,
        "amount": r.amount,
        "balance": r.balance_after,
        "created_at": r.created_at,
    }


def _duplicate(field: str, what: str) -> DomainError:
    return conflict(
        "duplicate_conflict",
        f"{field} was already used for a different {what}",
        [FieldProblem(field, f"already used for a different {what}")],
    )


def pay(
    session: Session,
    provider_id: int,
    body: PointPaymentIn,
    customer_id: int,
    *,
    through_phones: Sequence[str | None] = (),
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Debit ``customer_id`` for a payment at ``provider_id``'s checkout; returns (view, created)."""
    now = now or utcnow()
    from campaigns.customers import numbers

    numbers.check_hold(
        session, [p for p in through_phones if p], action="point payment", customer_id=customer_id, now=now
    )
    balance = session.scalar(
        select(CustomerBalance).where(CustomerBalance.customer_id == customer_id).with_for_update()
    )
    old = session.scalar(
        select(PointPayment).where(
            PointPayment.provider_id == provider_id, PointPayment.provider_payment_id == body.provider_payment_id
        )
    )
    if old is not None:
        if old.body_hash != body.body_hash() or old.customer_id != customer_id:
            raise _duplicate("provider_payment_id", "payment")
        return payment_view(old, session), False
    value = _value(session)
    field = "points" if body.points is not None else "amount"
    points = body.points if body.points is not None else _points_for(body.amount or 0, value, "amount")
    amount = body.amount if body.amount is not None else int(points * value)
    minimum = below_minimum(session, points)
    if minimum is not None:
        reason = f"{points} points is below the programme's minimum of {minimum} points"
        raise DomainError("below_minimum_redemption", f"{field}: {reason}", [FieldProblem(field, reason)])
    available = balance.balance if balance is not None else 0
    if available < points:
        reason = f"needs {points} points, {available} available"
        raise conflict(
            "insufficient_points",
            f"the payment needs {points} points and the balance is {available}",
            [FieldProblem(field, reason)],
        )
    plan = plan_take(session, [customer_id], points)
    if plan.shortfall:
        raise conflict(
            "insufficient_points",
            "points are held in lots that cannot be spent yet",
            [FieldProblem(field, "points are held in lots that cannot be spent yet")],
        )
    payment = PointPayment(
        provider_id=provider_id,
        provider_payment_id=body.provider_payment_id,
        customer_id=customer_id,
        points=points,
        amount=amount,
        refunded_points=0,
        refunded_amount=0,
        status="paid",
        balance_after=available - points,
        body_hash=body.body_hash(),
        created_at=now,
    )
    session.add(payment)
    session.flush()
    entry = LedgerEntry(
        entry_key=f"pay:{payment.id}",
        customer_id=customer_id,
        kind="payment",
        points=-points,
        provider_id=provider_id,  # clearing reimburses this provider, like a redemption's fulfiller
        note=f"paid {amount} VND with points (payment {payment.id}, {body.provider_payment_id})"[:300],
        created_at=now,
    )
    session.add(entry)
    session.flush()
    apply_take(session, plan, entry.id)
    add_to_balances(session, {customer_id: {"balance": -points}}, now)
    payment.entry_id = entry.id
    provider = session.scalar(select(Provider.name).where(Provider.id == provider_id)) or ""
    payload = {"points": points, "amount": amount, "provider": provider}
    queue_sms(
        session,
        dedupe_key=f"pay:{payment.id}",
        template="points_paid",
        payload=payload,
        customer_id=customer_id,
        now=now,
    )
    session.flush()
    return payment_view(payment, session), True


def get_payment(session: Session, payment_id: int, provider_id: int | None) -> dict[str, Any]:
    """One payment; a provider sees only its own (404 otherwise, so ids cannot be probed)."""
    p = session.get(PointPayment, payment_id)
    if p is None or (provider_id is not None and p.provider_id != provider_id):
        raise not_found(f"point payment {payment_id}")
    return payment_view(p, session)


def refund(
    session: Session,
    payment_id: int,
    body: PointRefundIn,
    *,
    provider_id: int | None,
    requested_by: str,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Give back part or all of a payment; returns (the refund's view with the payment, created).

    ``provider_id`` None is staff (audited); the refund id is then in the paying provider's namespace.
    """
    now = now or utcnow()
    payment = session.scalar(select(PointPayment).where(PointPayment.id == payment_id).with_for_update())
    if payment is None or (provider_id is not None and payment.provider_id != provider_id):
        raise not_found(f"point payment {payment_id}")
    old = session.scalar(
        select(PointPaymentRefund).where(
            PointPaymentRefund.provider_id == payment.provider_id,
            PointPaymentRefund.provider_refund_id == body.provider_refund_id,
        )
    )
    if old is not None:
        if old.payment_id != payment.id or old.body_hash != body.body_hash():
            raise _duplicate("provider_refund_id", "refund")
        return {**refund_view(old), "payment": payment_view(payment, session)}, False
    field = "points" if body.points is not None else "amount"
    if body.points is not None:
        points = body.points
    else:
        assert body.amount is not None
        if payment.amount <= 0 or body.amount * payment.points % payment.amount:
            reason = f"{body.amount} VND is not a whole number of the payment's points ({payment.amount} VND paid "
            reason += f"with {payment.points} points)"
            raise DomainError("validation_error", f"amount: {reason}", [FieldProblem("amount", reason)])
        points = body.amount * payment.points // payment.amount
    left = payment.points - payment.refunded_points
    if points > left:
        reason = f"only {left} of the payment's {payment.points} points are left to refund"
        raise conflict("refund_exceeds_payment", f"{field}: {reason}", [FieldProblem(field, reason)])
    # the last refund takes exactly what is left of the amount: the refunds never add up to a dong more or less
    amount = payment.amount - payment.refunded_amount if points == left else points * payment.amount // payment.points
    session.execute(
        select(CustomerBalance.customer_id).where(CustomerBalance.customer_id == payment.customer_id).with_for_update()
    )
    row = PointPaymentRefund(
        payment_id=payment.id,
        provider_id=payment.provider_id,
        provider_refund_id=body.provider_refund_id,
        points=points,
        amount=amount,
        balance_after=0,
        body_hash=body.body_hash(),
        requested_by=requested_by[:200],
        created_at=now,
    )
    session.add(row)
    session.flush()
    entry = LedgerEntry(
        entry_key=f"payref:{row.id}",
        customer_id=payment.customer_id,
        kind="payment_refund",
        points=points,
        provider_id=payment.provider_id,
        reverses_entry_id=payment.entry_id,  # clearing reverses the reimbursement of exactly that payment
        note=f"refund of {amount} VND of payment {payment.id} ({body.provider_refund_id})"[:300],
        created_at=now,
    )
    session.add(entry)
    session.flush()
    assert payment.entry_id is not None
    restored = restore(session, payment.entry_id, entry.id, now, points)
    if restored < points:
        session.add(
            PointLot(
                customer_id=payment.customer_id,
                entry_id=entry.id,
                points=points - restored,
                remaining=points - restored,
                status="available",
                expires_at=load_programme(session).expiry_for(now),
                created_at=now,
                funder_id=PROGRAMME,  # the programme kept the expired ones as breakage; it gives them back
            )
        )
    add_to_balances(session, {payment.customer_id: {"balance": points}}, now)
    payment.refunded_points += points
    payment.refunded_amount += amount
    payment.status = "refunded" if payment.refunded_points == payment.points else "partly_refunded"
    session.flush()
    row.entry_id = entry.id
    row.balance_after = int(
        session.scalar(select(CustomerBalance.balance).where(CustomerBalance.customer_id == payment.customer_id)) or 0
    )
    if provider_id is None:
        session.add(
            AuditEvent(
                actor=requested_by,
                action="point_payment.refunded",
                object_type="point_payment",
                object_id=str(payment.id),
                details={"refund_id": row.id, "points": points, "amount": amount},
                at=now,
            )
        )
    session.flush()
    return {**refund_view(row), "payment": payment_view(payment, session)}, True


def customer_payments(
    session: Session, customer_id: int, limit: int = 20, provider_id: int | None = None
) -> list[dict[str, Any]]:
    """The customer's latest payments (``provider_id``: only those taken at that provider's checkout)."""
    q = select(PointPayment).where(PointPayment.customer_id == customer_id)
    if provider_id is not None:
        q = q.where(PointPayment.provider_id == provider_id)
    rows = session.scalars(q.order_by(PointPayment.id.desc()).limit(limit)).all()
    return [payment_view(p, session) for p in rows]
