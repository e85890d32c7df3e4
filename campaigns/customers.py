"""Read models of a customer: identities, balance, recent ledger across all providers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import programme
from .errors import not_found
from .identity import NATIONAL_ID, PHONE, find_customer, identities_of, normalize_national_id, normalize_phone
from .ledger import customer_view
from .models import Customer, CustomerTag, TierChange, Transaction
from .rewards import customer_redemptions
from .schemas import CustomerRef


def profile(session: Session, customer_id: int, *, provider_id: int | None = None, limit: int = 50) -> dict[str, Any]:
    """A provider sees a customer only once that customer has dealt with it (no id enumeration)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise not_found(f"customer {customer_id}")
    if provider_id is not None and not session.scalar(
        select(Transaction.id)
        .where(Transaction.customer_id == customer_id, Transaction.provider_id == provider_id)
        .limit(1)
    ):
        raise not_found(f"customer {customer_id}")
    view = customer_view(session, customer_id, limit=limit) or {"balance": 0, "lifetime_points": 0, "ledger": []}
    if view.get("debt") and programme.load(session).allow_negative_balance:
        view["balance"] -= view["debt"]  # the programme shows clawbacks as a negative balance
    history = session.execute(
        select(TierChange).where(TierChange.customer_id == customer_id).order_by(TierChange.id.desc()).limit(20)
    ).scalars()
    return {
        "id": customer.id,
        "identities": identities_of(session, customer.id),
        "tier": customer.tier,
        "tier_since": customer.tier_since,
        "tags": sorted(session.scalars(select(CustomerTag.tag).where(CustomerTag.customer_id == customer_id))),
        "created_at": customer.created_at,
        **view,
        "tier_history": [
            {"from": h.from_tier, "to": h.to_tier, "reason": h.reason, "at": h.at, "transaction_id": h.transaction_id}
            for h in history
        ],
        "redemptions": customer_redemptions(session, customer_id, limit=20),
    }


def resolve_existing(session: Session, ref: CustomerRef | None, customer_id: int | None) -> int:
    """An existing customer by identity or id (redemptions never create customers)."""
    if customer_id is not None:
        if session.get(Customer, customer_id) is None:
            raise not_found(f"customer {customer_id}")
        return customer_id
    assert ref is not None
    cid = None
    if ref.phone:
        cid = find_customer(session, PHONE, ref.phone)
    if cid is None and ref.national_id:
        cid = find_customer(session, NATIONAL_ID, ref.national_id)
    if cid is None:
        raise not_found("customer")
    return cid


def lookup(session: Session, *, phone: str | None = None, national_id: str | None = None) -> dict[str, Any]:
    """Find by identity; knowing the identity is what entitles a provider to the balance."""
    if phone:
        cid = find_customer(session, PHONE, normalize_phone(phone))
    elif national_id:
        cid = find_customer(session, NATIONAL_ID, normalize_national_id(national_id))
    else:
        cid = None
    if cid is None:
        raise not_found("customer")
    return profile(session, cid)
