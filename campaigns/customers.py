"""Read models of a customer: identities, balance, recent ledger across all providers."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .errors import not_found
from .identity import NATIONAL_ID, PHONE, find_customer, identities_of, normalize_national_id, normalize_phone
from .ledger import customer_view
from .models import Customer, Transaction


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
    return {
        "id": customer.id,
        "identities": identities_of(session, customer.id),
        "tier": customer.tier,
        "created_at": customer.created_at,
        **view,
    }


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
