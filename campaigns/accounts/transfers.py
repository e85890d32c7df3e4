"""Point transfers between members, within the programme's limits, reversible by staff.

The transferred points keep their funder: the lots taken from the sender (in
the usual order, soonest expiry first) are mirrored as lots of the recipient
with the same funder, expiry and issue time (``moved_from_lot_id``), so
clearing sees neither an issue nor a redemption and no funder's liability
changes. The optional fee in points (``point_transfers.fee_points``) is a
redemption by the programme: it leaves its funders' liability like any
redemption and nobody is reimbursed for it (docs/clearing.md).

A staff reversal moves the points back the same way (from the lots the
transfer created first, then the recipient's other points) and gives the fee
back to the lots it came from; it is refused when the recipient no longer has
the points. Limits count the points sent (fee excluded) per local day and
month of the programme's time zone, reversed transfers not counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.accounts.ledger import add_to_balances
from campaigns.accounts.lots import TakePlan, apply_take, plan_take, restore
from campaigns.catalog.programme import load as load_programme
from campaigns.clearing import PROGRAMME
from campaigns.clock import utcnow
from campaigns.customers import numbers
from campaigns.errors import DomainError, FieldProblem, conflict, not_found
from campaigns.models import AuditEvent, CustomerBalance, LedgerEntry, PointLot, PointTransfer
from campaigns.notify.outbox import phone_of, queue_sms


def transfer_view(t: PointTransfer) -> dict[str, Any]:
    return {
        "id": t.id,
        "provider_transfer_id": t.idempotency_key,
        "from_customer_id": t.from_customer_id,
        "to_customer_id": t.to_customer_id,
        "points": t.points,
        "fee_points": t.fee_points,
        "status": t.status,
        "channel": t.channel,
        "balance": t.balance_after,
        "created_at": t.created_at,
        "reversed_at": t.reversed_at,
        "reversed_by": t.reversed_by,
    }


def _sent_since(session: Session, customer_id: int, since: datetime) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(PointTransfer.points), 0)).where(
                PointTransfer.from_customer_id == customer_id,
                PointTransfer.status == "done",
                PointTransfer.created_at >= since,
            )
        )
        or 0
    )


def _check_limits(
    session: Session, customer_id: int, points: int, rules: dict[str, Any], tz: str, now: datetime
) -> None:
    if points < rules["min_points"]:
        reason = f"at least {rules['min_points']} points per transfer"
        raise DomainError("below_minimum_transfer", f"points: {reason}", [FieldProblem("points", reason)])
    local = now.astimezone(ZoneInfo(tz))
    day = datetime.combine(local.date(), time(), ZoneInfo(tz))
    month = day.replace(day=1)
    for name, since, period in (("max_points_per_day", day, "today"), ("max_points_per_month", month, "this month")):
        cap = rules[name]
        if cap is None:
            continue
        sent = _sent_since(session, customer_id, since)
        if sent + points > cap:
            reason = f"{sent} of the {cap} points a member may send {period} are already sent"
            raise conflict("transfer_limit", f"points: {reason}", [FieldProblem("points", reason)])


def _move(session: Session, plan: TakePlan, to_customer: int, entry_id: int, now: datetime) -> None:
    """Mirror what ``plan`` took as lots of ``to_customer``: same funder, expiry and issue time."""
    for lot_id, part, _owner in plan.parts:
        src = session.get(PointLot, lot_id)
        assert src is not None
        session.add(
            PointLot(
                customer_id=to_customer,
                entry_id=entry_id,
                points=part,
                remaining=part,
                status="available",
                expires_at=src.expires_at,
                created_at=src.created_at,  # priced and aged as when issued: a move is not an issue
                funder_id=src.funder_id,
                moved_from_lot_id=src.id,
            )
        )


def _entry(
    session: Session,
    key: str,
    customer_id: int,
    kind: str,
    points: int,
    note: str,
    now: datetime,
    reverses: int | None = None,
) -> LedgerEntry:
    entry = LedgerEntry(
        entry_key=key,
        customer_id=customer_id,
        kind=kind,
        points=points,
        reverses_entry_id=reverses,
        note=note[:300],
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return entry


def _lock_balances(session: Session, ids: Sequence[int]) -> dict[int, int]:
    return dict(
        session.execute(
            select(CustomerBalance.customer_id, CustomerBalance.balance)
            .where(CustomerBalance.customer_id.in_(sorted(set(ids))))
            .order_by(CustomerBalance.customer_id)
            .with_for_update()
        ).all()
    )


def transfer(
    session: Session,
    from_id: int,
    to_id: int,
    points: int,
    *,
    requested_by: str,
    idempotency_key: str | None,
    body_hash: str,
    channel: str,
    provider_id: int | None = None,
    through_phones: Sequence[str | None] = (),
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """Move ``points`` (plus the fee) from one member to another in one database transaction; (view, created).

    ``through_phones``: the numbers the sender's request came through; a recently swapped SIM holds it.
    """
    now = now or utcnow()
    numbers.check_hold(session, [p for p in through_phones if p], action="point transfer", customer_id=from_id, now=now)
    balances = _lock_balances(session, [from_id, to_id])
    if idempotency_key:
        old = session.scalar(
            select(PointTransfer).where(
                PointTransfer.requested_by == requested_by, PointTransfer.idempotency_key == idempotency_key
            )
        )
        if old is not None:
            if old.body_hash != body_hash:
                raise conflict(
                    "duplicate_conflict",
                    "provider_transfer_id was already used for a different transfer",
                    [FieldProblem("provider_transfer_id", "already used for a different transfer")],
                )
            return transfer_view(old), False
    if from_id == to_id:
        raise DomainError("validation_error", "to: is the sender", [FieldProblem("to", "must be another member")])
    programme = load_programme(session)
    rules = programme.transfer_rules()
    _check_limits(session, from_id, points, rules, programme.timezone, now)
    fee = int(rules["fee_points"])
    available = balances.get(from_id, 0)
    if available < points + fee:
        with_fee = f" and the fee of {fee}" if fee else ""
        reason = f"needs {points} points{with_fee}, {available} available"
        raise conflict("insufficient_points", f"the transfer {reason}", [FieldProblem("points", reason)])
    plan = plan_take(session, [from_id], points)
    if plan.shortfall:
        raise conflict(
            "insufficient_points",
            "points are held in lots that cannot be spent yet",
            [FieldProblem("points", "points are held in lots that cannot be spent yet")],
        )
    t = PointTransfer(
        requested_by=requested_by,
        idempotency_key=idempotency_key,
        provider_id=provider_id,
        channel=channel,
        from_customer_id=from_id,
        to_customer_id=to_id,
        points=points,
        fee_points=fee,
        status="done",
        balance_after=available - points - fee,
        body_hash=body_hash,
        created_at=now,
    )
    session.add(t)
    session.flush()
    out = _entry(
        session, f"tr:{t.id}:out", from_id, "transfer_out", -points, f"sent to member {to_id} (transfer {t.id})", now
    )
    apply_take(session, plan, out.id)
    into = _entry(
        session, f"tr:{t.id}:in", to_id, "transfer_in", points, f"received from member {from_id} (transfer {t.id})", now
    )
    _move(session, plan, to_id, into.id, now)
    t.out_entry_id, t.in_entry_id = out.id, into.id
    if fee:
        fee_plan = plan_take(session, [from_id], fee)
        fee_entry = _entry(session, f"tr:{t.id}:fee", from_id, "transfer_fee", -fee, f"fee of transfer {t.id}", now)
        apply_take(session, fee_plan, fee_entry.id)
        t.fee_entry_id = fee_entry.id
    add_to_balances(session, {from_id: {"balance": -points - fee}, to_id: {"balance": points}}, now)
    # each side sees at most the end of the other's number: a transfer never discloses a phone number
    to_phone = phone_of(session, to_id)
    queue_sms(
        session,
        dedupe_key=f"tr:{t.id}:sent",
        template="points_sent",
        payload={"points": points, "to": f"…{to_phone[-4:]}" if to_phone else f"#{to_id}"},
        customer_id=from_id,
        now=now,
    )
    queue_sms(
        session,
        dedupe_key=f"tr:{t.id}:received",
        template="points_received",
        payload={"points": points},
        customer_id=to_id,
        now=now,
    )
    session.flush()
    return transfer_view(t), True


def get_transfer(session: Session, transfer_id: int, provider_id: int | None) -> dict[str, Any]:
    """One transfer; a provider sees only those it made."""
    t = session.get(PointTransfer, transfer_id)
    if t is None or (provider_id is not None and t.provider_id != provider_id):
        raise not_found(f"point transfer {transfer_id}")
    return transfer_view(t)


def reverse(session: Session, transfer_id: int, *, actor: str, now: datetime | None = None) -> dict[str, Any]:
    """Staff undo a transfer: the points go back to the sender with their funders, the fee is refunded (audited).

    Reversing twice answers the reversed transfer; a recipient who no longer has the points is a 409.
    """
    now = now or utcnow()
    t = session.scalar(select(PointTransfer).where(PointTransfer.id == transfer_id).with_for_update())
    if t is None:
        raise not_found(f"point transfer {transfer_id}")
    if t.status == "reversed":
        return transfer_view(t)
    balances = _lock_balances(session, [t.from_customer_id, t.to_customer_id])
    has = balances.get(t.to_customer_id, 0)
    own = session.scalars(
        select(PointLot).where(PointLot.entry_id == t.in_entry_id).order_by(PointLot.id).with_for_update()
    ).all()
    plan = plan_take(session, [t.to_customer_id], t.points, first=[(lot, lot.remaining) for lot in own])
    if has < t.points or plan.shortfall:
        reason = f"the recipient has {has} of the {t.points} points left"
        raise conflict("insufficient_points", f"cannot reverse: {reason}", [FieldProblem("transfer", reason)])
    back = _entry(
        session,
        f"trx:{t.id}:out",
        t.to_customer_id,
        "transfer_reversed",
        -t.points,
        f"transfer {t.id} reversed by {actor}",
        now,
        reverses=t.in_entry_id,
    )
    apply_take(session, plan, back.id)
    home = _entry(
        session,
        f"trx:{t.id}:in",
        t.from_customer_id,
        "transfer_reversed",
        t.points,
        f"transfer {t.id} reversed by {actor}",
        now,
        reverses=t.out_entry_id,
    )
    _move(session, plan, t.from_customer_id, home.id, now)
    deltas = {t.to_customer_id: {"balance": -t.points}, t.from_customer_id: {"balance": t.points}}
    if t.fee_entry_id is not None and t.fee_points:
        refund = _entry(
            session,
            f"trx:{t.id}:fee",
            t.from_customer_id,
            "transfer_fee_refund",
            t.fee_points,
            f"fee of transfer {t.id} refunded",
            now,
            reverses=t.fee_entry_id,
        )
        restored = restore(session, t.fee_entry_id, refund.id, now)
        if restored < t.fee_points:
            session.add(
                PointLot(
                    customer_id=t.from_customer_id,
                    entry_id=refund.id,
                    points=t.fee_points - restored,
                    remaining=t.fee_points - restored,
                    status="available",
                    expires_at=load_programme(session).expiry_for(now),
                    created_at=now,
                    funder_id=PROGRAMME,  # expired meanwhile: the programme gives back what it kept
                )
            )
        deltas[t.from_customer_id]["balance"] += t.fee_points
    add_to_balances(session, deltas, now)
    t.status = "reversed"
    t.reversed_at = now
    t.reversed_by = actor[:200]
    session.add(
        AuditEvent(
            actor=actor,
            action="point_transfer.reversed",
            object_type="point_transfer",
            object_id=str(t.id),
            details={"from": t.from_customer_id, "to": t.to_customer_id, "points": t.points, "fee": t.fee_points},
            at=now,
        )
    )
    session.flush()
    return transfer_view(t)


def customer_transfers(
    session: Session, customer_id: int, limit: int = 20, provider_id: int | None = None
) -> list[dict[str, Any]]:
    """Transfers sent or received (``provider_id``: only those that provider made)."""
    q = select(PointTransfer).where(
        (PointTransfer.from_customer_id == customer_id) | (PointTransfer.to_customer_id == customer_id)
    )
    if provider_id is not None:
        q = q.where(PointTransfer.provider_id == provider_id)
    rows = session.scalars(q.order_by(PointTransfer.id.desc()).limit(limit)).all()
    return [transfer_view(t) for t in rows]
