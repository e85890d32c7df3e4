"""Read models of a customer: identities, balance, recent ledger across all providers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.accounts import payments, transfers
from campaigns.accounts.ledger import customer_view
from campaigns.accounts.rewards import customer_redemptions
from campaigns.catalog import programme, tiers
from campaigns.consent import consents
from campaigns.customers import attributes as customer_attributes
from campaigns.customers import numbers
from campaigns.customers.aggregates import load_states, window_start
from campaigns.customers.identity import (
    NATIONAL_ID,
    PHONE,
    find_customer,
    identities_of,
    normalize_national_id,
    normalize_phone,
)
from campaigns.errors import not_found
from campaigns.i18n import DEFAULT_LANGUAGE, localized
from campaigns.models import Customer, CustomerTag, LedgerEntry, Provider, TierChange, Transaction
from campaigns.permissions import Scope
from campaigns.schemas import CustomerRef


def profile(session: Session, customer_id: int, *, provider_id: int | None = None, limit: int = 50) -> dict[str, Any]:
    """A provider sees a customer only once that customer has dealt with it (no id enumeration), and other
    providers' activity only with the customer's ``cross_provider_sharing`` consent."""
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
    full = {
        "id": customer.id,
        "identities": identities_of(session, customer.id),
        "identity_history": numbers.history_of(session, customer.id),
        "tier": customer.tier,
        "tier_since": customer.tier_since,
        "tags": sorted(session.scalars(select(CustomerTag.tag).where(CustomerTag.customer_id == customer_id))),
        "attributes": customer_attributes.view(session, customer_id)["attributes"],  # customer.<name> in rules
        "member_since": customer.member_since.isoformat() if customer.member_since else None,
        "created_at": customer.created_at,
        **view,
        "tier_history": [
            {"from": h.from_tier, "to": h.to_tier, "reason": h.reason, "at": h.at, "transaction_id": h.transaction_id}
            for h in history
        ],
        "redemptions": customer_redemptions(session, customer_id, limit=20),
        # a provider sees the payments taken at its own checkout and the transfers it made
        "point_payments": payments.customer_payments(session, customer_id, limit=20, provider_id=provider_id),
        "point_transfers": transfers.customer_transfers(session, customer_id, limit=20, provider_id=provider_id),
    }
    return consents.provider_view(session, customer_id, full, provider_id)


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


def lookup(
    session: Session, *, phone: str | None = None, national_id: str | None = None, provider_id: int | None = None
) -> dict[str, Any]:
    """Find by identity; knowing the identity is what entitles a provider to the balance (and to its own
    activity with the member; other providers' only with the member's consent)."""
    if phone:
        cid = find_customer(session, PHONE, normalize_phone(phone))
    elif national_id:
        cid = find_customer(session, NATIONAL_ID, normalize_national_id(national_id))
    else:
        cid = None
    if cid is None:
        raise not_found("customer")
    return consents.provider_view(session, cid, profile(session, cid), provider_id)


def find(session: Session, kind: str, query: str) -> int:
    """A customer id from a phone, a national ID or an id typed by staff; 404 when there is none."""
    query = (query or "").strip()
    if not query:
        raise not_found("customer")
    if kind == "id":
        digits = query.lstrip("#")
        if not digits.isdigit() or session.get(Customer, int(digits)) is None:
            raise not_found("customer")
        return int(digits)
    try:
        if kind == "national_id":
            cid = find_customer(session, NATIONAL_ID, normalize_national_id(query))
        else:
            cid = find_customer(session, PHONE, normalize_phone(query))
    except ValueError:
        raise not_found("customer") from None
    if cid is None:
        raise not_found("customer")
    return cid


def staff_profile(session: Session, customer_id: int, scope: Scope, *, limit: int = 100) -> dict[str, Any]:
    """The 360 view for the staff UI; a provider user sees only its own activity with the customer."""
    view = profile(session, customer_id, provider_id=scope.provider_id, limit=limit)
    if scope.limited:
        view["ledger"] = [e for e in view["ledger"] if e["provider"] == scope.provider_code]
        view["redemptions"] = []
    view["tier_progress"] = tier_progress(session, customer_id, view["tier"])
    view["transactions"] = transaction_rows(session, customer_id, scope, limit=limit)
    return view


def transaction_rows(session: Session, customer_id: int, scope: Scope, *, limit: int = 100) -> list[dict[str, Any]]:
    """The customer's transactions, latest occurrence first (late arrivals sit where they happened), with net points;
    a provider user sees only its own."""
    txns = select(Transaction, Provider.code).join(Provider, Provider.id == Transaction.provider_id)
    txns = txns.where(Transaction.customer_id == customer_id)
    txns = txns.order_by(Transaction.occurred_at.desc(), Transaction.id.desc()).limit(
        limit
    )  # as the page's header says
    if scope.limited:
        txns = txns.where(Transaction.provider_id == scope.provider_id)
    txn_rows = session.execute(txns).all()
    points = _points_by_transaction(session, [t.id for t, _ in txn_rows])
    return [
        {
            "id": t.id,
            "provider": code,
            "provider_txn_id": t.provider_txn_id,
            "event_type": t.event_type,
            "amount": t.amount,
            "currency": t.currency,
            "category": t.category,
            "channel": t.channel,
            "status": t.status,
            "occurred_at": t.occurred_at,
            "received_at": t.received_at,
            "points": points.get(t.id, 0),
        }
        for t, code in txn_rows
    ]


def _points_by_transaction(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    rows = session.execute(
        select(LedgerEntry.transaction_id, func.sum(LedgerEntry.points + LedgerEntry.pending))
        .where(LedgerEntry.transaction_id.in_(ids))
        .group_by(LedgerEntry.transaction_id)
    )
    return {tid: int(p or 0) for tid, p in rows if tid is not None}


def ledger_rows(session: Session, customer_id: int, scope: Scope, *, limit: int = 10_000) -> list[LedgerEntry]:
    """The ledger for CSV export, oldest first; scoped like the 360 view."""
    profile(session, customer_id, provider_id=scope.provider_id, limit=1)  # 404 when out of scope
    stmt = select(LedgerEntry).where(LedgerEntry.customer_id == customer_id).order_by(LedgerEntry.id).limit(limit)
    if scope.limited:
        stmt = stmt.where(LedgerEntry.provider_id == scope.provider_id)
    return list(session.scalars(stmt))


def tier_progress(
    session: Session, customer_id: int, tier: str | None, language: str | None = None
) -> dict[str, Any] | None:
    """Qualifying points of the last 365 days against the next tier's threshold in the published tier ladder.

    Only thresholds on ``qualifying_points_365d`` are shown (other paths to a tier, such as spend, are not).
    """
    step = tiers.next_tier(session, tier)
    if step is None:
        return None
    target, need = step
    st = load_states(session, [customer_id], window_start(datetime.now(UTC).date()))[customer_id]
    have = int(st.windows(datetime.now(ZoneInfo(st.timezone)).date())["qualifying_points_365d"])
    name = localized(target.get("name"), language or DEFAULT_LANGUAGE) or target["code"]
    return {"code": target["code"], "name": name, "have": have, "need": need}
