"""Minimal exposure: phone numbers and national IDs are shown masked to staff who do not need them.

One function masks for every staff page, API answer and CSV, so the rule cannot drift between them.
Full numbers: ``admin`` (runs the programme and approves erasures) and provider API keys (a provider serves a
member by the number it already holds; ``GET /customers/lookup`` is how it finds them). Every other staff role
sees ``0912 *** 678`` / ``0012****4567``; a care agent reveals one customer's numbers with a stated reason
(:func:`reveal`), and every reveal is an audit event.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from campaigns.customers import numbers
from campaigns.customers.identity import NATIONAL_ID, PHONE, identities_of
from campaigns.errors import DomainError, FieldProblem, not_found
from campaigns.models import AuditEvent, Customer

FULL_ROLES = frozenset({"admin"})
E164 = re.compile(r"\+\d{8,15}\b")  # how every number is stored, and so how it appears in alerts and audit details
HASHED_PREFIX = "h:"  # an erased identity (campaigns.privacy.erasure): nothing left to mask


def sees_full(role: str | None) -> bool:
    return role in FULL_ROLES


def mask_phone(value: str) -> str:
    """``+84912345678`` -> ``0912 *** 678``: enough for the person to recognise, too little to call."""
    if value.startswith(HASHED_PREFIX):
        return value
    local = "0" + value[3:] if value.startswith("+84") else value.lstrip("+")
    if len(local) < 8:
        return "*" * len(local)
    return f"{local[:4]} *** {local[-3:]}"


def mask_national_id(value: str) -> str:
    """CCCD ``001234567890`` -> ``0012****7890``; CMND ``012345678`` -> ``01****678``."""
    if value.startswith(HASHED_PREFIX):
        return value
    if len(value) >= 12:
        return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"
    if len(value) < 6:
        return "*" * len(value)
    return f"{value[:2]}{'*' * (len(value) - 5)}{value[-3:]}"


def mask(kind: str, value: str) -> str:
    if kind == PHONE:
        return mask_phone(value)
    if kind == NATIONAL_ID:
        return mask_national_id(value)
    return value


def identity_for(role: str | None, kind: str, value: str | None) -> str | None:
    """The value as ``role`` may see it (the one call CSV writers and templates make)."""
    if value is None or sees_full(role):
        return value
    return mask(kind, value)


def text_for(role: str | None, text: str) -> str:
    """Free text written by the system (an alert's subject, an audit event's details) with its numbers masked."""
    if sees_full(role):
        return text
    return E164.sub(lambda m: mask_phone(m.group(0)), text)


def masked_rows(rows: Iterable[dict[str, Any]], role: str | None) -> list[dict[str, Any]]:
    """Identity rows (``{"type", "value", ...}``) as ``role`` may see them."""
    return [{**r, "value": identity_for(role, r["type"], r["value"])} for r in rows]


def for_role(view: dict[str, Any], role: str | None) -> dict[str, Any]:
    """A customer view (API or 360 page) with its identities and identity history masked for ``role``."""
    if sees_full(role):
        return view
    out = dict(view)
    for key in ("identities", "identity_history"):
        if key in out:
            out[key] = masked_rows(out[key], role)
    return out


def reveal(session: Session, customer_id: int, *, actor: str, role: str, reason: str) -> dict[str, Any]:
    """A customer's numbers in full, for a stated reason; each reveal is an audit event (no commit)."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("validation_error", "reason: is required", [FieldProblem("reason", "is required")])
    if len(reason) > 500:
        raise DomainError("validation_error", "reason: 500 characters at most", [FieldProblem("reason", "500 at most")])
    if session.get(Customer, customer_id) is None:
        raise not_found(f"customer {customer_id}")
    ids = identities_of(session, customer_id)
    session.add(
        AuditEvent(
            actor=actor,
            action="customer.identity_revealed",
            object_type="customer",
            object_id=str(customer_id),
            details={"reason": reason, "role": role, "identities": [i["type"] for i in ids]},
        )
    )
    return {
        "customer_id": customer_id,
        "identities": ids,
        "identity_history": numbers.history_of(session, customer_id),
    }
