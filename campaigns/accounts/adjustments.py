"""Manual point adjustments by staff: a ledger entry of kind ``adjustment``, with a reason, audited.

A positive adjustment opens a point lot (expiring under the programme's
policy) like any earning; a negative one takes points from the customer's
lots, soonest expiry first, and is refused when the balance cannot cover it
(an adjustment never creates debt). Every role but admin is limited to
``LOYALTY_CARE_ADJUSTMENT_LIMIT`` points per adjustment (``limit_for``). The
points of a positive adjustment are funded by the programme unless the staff
member names a provider (``funder``), e.g. to correct that provider's missing earning.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.accounts.ledger import add_to_balances
from campaigns.accounts.lots import apply_take, plan_take
from campaigns.catalog import programme
from campaigns.clearing import PROGRAMME
from campaigns.clock import utcnow
from campaigns.errors import DomainError, invalid, not_found
from campaigns.models import AuditEvent, Customer, CustomerBalance, LedgerEntry, PointLot, Provider
from campaigns.sql import table_of, upsert

MAX_REASON = 250
MAX_POINTS = 10_000_000


def limit_for(role: str, care_limit: int) -> int | None:
    """The most points ``role`` may adjust at a time (None: unlimited); decided here for every path."""
    return None if role == "admin" else int(care_limit)


def adjust(
    session: Session,
    customer_id: int,
    points: int,
    reason: str,
    *,
    actor: str,
    role: str,
    care_limit: int,
    details: dict[str, Any] | None = None,
    funder: str | None = None,
) -> LedgerEntry:
    """Credit or debit ``points`` (non-zero) with a reason, within ``limit_for(role, care_limit)``.

    ``details`` adds context to the audit event (e.g. the claim the adjustment resolves).
    """
    limit = limit_for(role, care_limit)
    reason = (reason or "").strip()
    if isinstance(points, bool) or not isinstance(points, int) or points == 0:
        raise invalid("points", "must be a non-zero whole number")
    if abs(points) > MAX_POINTS:
        raise invalid("points", f"must be at most {MAX_POINTS:,} either way")
    if limit is not None and abs(points) > limit:
        raise DomainError(
            "over_limit",
            f"points: your role ({role}) may adjust at most {limit:,} points at a time",
            [],
            403,
        )
    if len(reason) < 5:
        raise invalid("reason", "explain the adjustment (at least 5 characters)")
    if len(reason) > MAX_REASON:
        raise invalid("reason", f"keep it under {MAX_REASON} characters")
    funder_id = PROGRAMME
    if funder:
        found = session.scalar(select(Provider.id).where(Provider.code == funder))
        if found is None:
            raise invalid("funder", f"{funder!r} is not a provider code (leave it empty: the programme pays)")
        funder_id = found
    if session.get(Customer, customer_id) is None:
        raise not_found(f"customer {customer_id}")
    now = utcnow()
    # lock the balance row first: every writer of this customer queues here
    upsert(session, table_of(CustomerBalance), [{"customer_id": customer_id, "updated_at": now}], ["customer_id"])
    balance = session.scalar(
        select(CustomerBalance).where(CustomerBalance.customer_id == customer_id).with_for_update()
    )
    assert balance is not None
    plan = None
    if points < 0:
        plan = plan_take(session, [customer_id], -points)
        if plan.shortfall:
            raise invalid("points", f"the customer has only {balance.balance:,} points available to take back")
    entry = LedgerEntry(
        entry_key=f"adj:{customer_id}:{secrets.token_hex(12)}",
        customer_id=customer_id,
        kind="adjustment",
        points=points,
        pending=0,
        qualifying=0,
        debt=0,
        note=f"{reason} (by {actor})"[:300],
        created_at=now,
    )
    session.add(entry)
    session.flush()
    if plan is not None:
        apply_take(session, plan, entry.id)
    else:
        session.add(
            PointLot(
                customer_id=customer_id,
                entry_id=entry.id,
                points=points,
                remaining=points,
                status="available",
                available_at=now,
                expires_at=programme.load(session).expiry_for(now),
                created_at=now,
                funder_id=funder_id,
            )
        )
    add_to_balances(
        session,
        {customer_id: {"balance": points, "lifetime_points": max(points, 0), "agg_seq": 1}},
        now,
    )
    audit: dict[str, Any] = {**(details or {}), "points": points, "reason": reason, "entry_id": entry.id, "role": role}
    if points > 0:
        audit["funder"] = funder or "programme"
    session.add(
        AuditEvent(
            actor=actor,
            action="customer.adjusted",
            object_type="customer",
            object_id=str(customer_id),
            details=audit,
        )
    )
    session.flush()
    return entry
