"""Points as money at a provider's checkout (``/point-payments``) and transfers between members
(``/point-transfers``): thin views over ``campaigns.accounts.payments`` and ``campaigns.accounts.transfers``."""

from __future__ import annotations

from typing import Any

from campaigns.accounts import payments, transfers
from campaigns.accounts.profile import resolve_existing
from campaigns.errors import DomainError
from campaigns.schemas import PointPaymentIn, PointRefundIn, PointTransferIn, validation_error

from ..extensions import db, db_session
from . import bp
from .auth import calling_provider_id, principal, require, scope_provider_id
from .util import read_json, retry_transient


@bp.post("/point-payments")
@require("provider")
@retry_transient
def create_point_payment() -> Any:
    body = validation_error(PointPaymentIn, read_json())
    customer_id = resolve_existing(db_session(), body.customer, None)
    view, created = payments.pay(
        db_session(), calling_provider_id(), body, customer_id, through_phones=[body.customer.phone]
    )
    db.session.commit()
    return view, 201 if created else 200


@bp.get("/point-payments/<int:payment_id>")
@require("provider", "staff", action="customers.view")
def show_point_payment(payment_id: int) -> Any:
    return payments.get_payment(db_session(), payment_id, scope_provider_id())


@bp.post("/point-payments/<int:payment_id>/refund")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def refund_point_payment(payment_id: int) -> Any:
    body = validation_error(PointRefundIn, read_json())
    view, created = payments.refund(
        db_session(), payment_id, body, provider_id=scope_provider_id(), requested_by=principal().name
    )
    db.session.commit()
    return view, 201 if created else 200


@bp.post("/point-transfers")
@require("provider", "staff", action="customers.adjust", programme_wide=True)
@retry_transient
def create_point_transfer() -> Any:
    body = validation_error(PointTransferIn, read_json())
    session = db_session()
    sender = resolve_existing(session, body.sender, None)
    try:
        recipient = resolve_existing(session, body.to, None)
    except DomainError as err:
        raise DomainError("not_found", "to: no member has this phone or national ID", err.fields, 404) from None
    provider_id = scope_provider_id()
    view, created = transfers.transfer(
        session,
        sender,
        recipient,
        body.points,
        requested_by=f"provider:{provider_id}" if provider_id is not None else "staff",
        idempotency_key=body.provider_transfer_id,
        body_hash=body.body_hash(),
        channel="api",
        provider_id=provider_id,
        through_phones=[body.sender.phone],
    )
    db.session.commit()
    return view, 201 if created else 200


@bp.get("/point-transfers/<int:transfer_id>")
@require("provider", "staff", action="customers.view")
def show_point_transfer(transfer_id: int) -> Any:
    return transfers.get_transfer(db_session(), transfer_id, scope_provider_id())


@bp.post("/point-transfers/<int:transfer_id>/reversal")
@require("staff", action="customers.adjust", programme_wide=True)
@retry_transient
def reverse_point_transfer(transfer_id: int) -> Any:
    view = transfers.reverse(db_session(), transfer_id, actor=principal().name)
    db.session.commit()
    return view
