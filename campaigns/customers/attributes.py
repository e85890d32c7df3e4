"""Customer-level attributes and tags that providers set (``customer.<name>`` and ``customer_tags`` in rules).

One service for every path (the customers API, staff, the migration file): names and types are checked against
the programme setting ``customer_attributes``, a provider reaches only customers it has dealt with, and every
change is audited. The namespace is programme-wide: a customer has one ``vip``, whichever provider set it last
(its id is kept on the row), because the rules read ``customer.vip`` without naming a provider.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from campaigns.catalog import programme
from campaigns.clock import utcnow
from campaigns.errors import invalid, not_found
from campaigns.models import AuditEvent, Customer, CustomerAttribute, CustomerProvider, CustomerTag, Transaction
from campaigns.sql import table_of, upsert
from rules.operators import TAG
from rules.variables import ATTRIBUTE_KEY

MAX_STRING = 255
MAX_NUMBER = Decimal(10) ** 15


def reachable(session: Session, customer_id: int, provider_id: int | None) -> None:
    """404 unless the customer exists and (for a provider) has dealt with it: ids are not enumerable."""
    if session.get(Customer, customer_id) is None:
        raise not_found(f"customer {customer_id}")
    if provider_id is None:
        return
    dealt = session.scalar(
        select(
            exists().where(CustomerProvider.customer_id == customer_id, CustomerProvider.provider_id == provider_id)
            | exists().where(Transaction.customer_id == customer_id, Transaction.provider_id == provider_id)
        )
    )
    if not dealt:
        raise not_found(f"customer {customer_id}")


def _typed(name: str, value: Any, kind: str, path: str) -> Any:
    """The value as stored (JSON: bool, str, int or float), or a 422 naming the path and the declared type."""
    if kind == "boolean":
        if not isinstance(value, bool):
            raise invalid(path, f"must be true or false (customer attribute {name!r} is declared boolean)")
        return value
    if kind == "string":
        if not isinstance(value, str) or not 0 < len(value) <= MAX_STRING:
            raise invalid(path, f"must be a string of 1 to {MAX_STRING} characters ({name!r} is declared string)")
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise invalid(path, f"must be a number ({name!r} is declared numeric)")
    if (isinstance(value, float) and not math.isfinite(value)) or abs(Decimal(str(value))) >= MAX_NUMBER:
        raise invalid(path, f"must be a finite number below 10^15 in size ({name!r} is declared numeric)")
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def check_values(declared: Mapping[str, str], values: Any, prefix: str = "attributes") -> dict[str, Any]:
    """Validated ``{name: value}`` (None: remove the attribute) against the declared names and types."""
    if not isinstance(values, dict):
        raise invalid(prefix, "must be an object of attribute names to values")
    out: dict[str, Any] = {}
    for name, value in values.items():
        path = f"{prefix}.{name}"
        if not isinstance(name, str) or not ATTRIBUTE_KEY.fullmatch(name):
            raise invalid(path, "not a valid attribute name ([A-Za-z_][A-Za-z0-9_]{0,63})")
        if name not in declared:
            close = difflib.get_close_matches(name, sorted(declared), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f" (declared: {', '.join(sorted(declared)) or 'none'})"
            raise invalid(path, f"not a declared customer attribute (setting customer_attributes){hint}")
        out[name] = None if value is None else _typed(name, value, declared[name], path)
    return out


def check_tag(tag: str, path: str = "tag") -> str:
    if not TAG.fullmatch(tag):
        raise invalid(path, f"not a valid tag ({TAG.pattern}: lower-case letters, digits, _ and -)")
    return tag


def view(session: Session, customer_id: int) -> dict[str, Any]:
    """The customer's attributes and tags, as the API answers every change."""
    rows = session.execute(
        select(CustomerAttribute.name, CustomerAttribute.value)
        .where(CustomerAttribute.customer_id == customer_id)
        .order_by(CustomerAttribute.name)
    )
    tags = session.scalars(
        select(CustomerTag.tag).where(CustomerTag.customer_id == customer_id).order_by(CustomerTag.tag)
    )
    return {"customer_id": customer_id, "attributes": {name: value for name, value in rows}, "tags": list(tags)}


def write(
    session: Session,
    customer_id: int,
    values: Mapping[str, Any],
    *,
    provider_id: int | None,
    actor: str,
    now: datetime | None = None,
) -> bool:
    """Set (or, for None, remove) already-validated attributes; audited when anything changed."""
    now = now or utcnow()
    rows = session.execute(
        select(CustomerAttribute.name, CustomerAttribute.value).where(
            CustomerAttribute.customer_id == customer_id, CustomerAttribute.name.in_(list(values))
        )
    )
    old = {name: value for name, value in rows}
    changed = {k: v for k, v in values.items() if old.get(k) != v or (v is None and k in old)}
    if not changed:
        return False
    removed = [k for k, v in changed.items() if v is None]
    if removed:
        session.execute(
            delete(CustomerAttribute).where(
                CustomerAttribute.customer_id == customer_id, CustomerAttribute.name.in_(removed)
            )
        )
    upsert(
        session,
        table_of(CustomerAttribute),
        [
            {"customer_id": customer_id, "name": k, "value": v, "provider_id": provider_id, "updated_at": now}
            for k, v in changed.items()
            if v is not None
        ],
        ["customer_id", "name"],
        replace=("value", "provider_id", "updated_at"),
    )
    session.add(
        AuditEvent(
            actor=actor,
            action="customer.attributes_set",
            object_type="customer",
            object_id=str(customer_id),
            details={"provider_id": provider_id, "old": {k: old.get(k) for k in changed}, "new": changed},
        )
    )
    return True


def set_attributes(
    session: Session, customer_id: int, values: Any, *, provider_id: int | None, actor: str
) -> dict[str, Any]:
    """``PUT /customers/{id}/attributes``: the body replaces the attributes the caller set (one it set before and
    leaves out is removed, as is one given as null); another provider's stay unless the body names them, since
    several providers share the namespace. Staff replace the customer's whole set."""
    reachable(session, customer_id, provider_id)
    declared = programme.load(session).customer_attributes or {}
    checked = check_values(declared, values)
    mine = select(CustomerAttribute.name).where(CustomerAttribute.customer_id == customer_id)
    if provider_id is not None:
        mine = mine.where(CustomerAttribute.provider_id == provider_id)
    dropped = {name: None for name in session.scalars(mine) if name not in checked}
    write(session, customer_id, {**checked, **dropped}, provider_id=provider_id, actor=actor)
    return view(session, customer_id)


def add_tag(session: Session, customer_id: int, tag: str, *, provider_id: int | None, actor: str) -> dict[str, Any]:
    """Idempotent: tagging twice changes nothing and audits once."""
    reachable(session, customer_id, provider_id)
    check_tag(tag)
    if session.get(CustomerTag, (customer_id, tag)) is None:
        session.add(CustomerTag(customer_id=customer_id, tag=tag, created_at=utcnow()))
        _audit_tag(session, "customer.tag_added", customer_id, tag, provider_id, actor)
        session.flush()
    return view(session, customer_id)


def remove_tag(session: Session, customer_id: int, tag: str, *, provider_id: int | None, actor: str) -> dict[str, Any]:
    """Idempotent: removing an absent tag is not an error (a retried DELETE must not fail)."""
    reachable(session, customer_id, provider_id)
    check_tag(tag)
    row = session.get(CustomerTag, (customer_id, tag))
    if row is not None:
        session.delete(row)
        _audit_tag(session, "customer.tag_removed", customer_id, tag, provider_id, actor)
        session.flush()
    return view(session, customer_id)


def _audit_tag(session: Session, action: str, customer_id: int, tag: str, provider_id: int | None, actor: str) -> None:
    session.add(
        AuditEvent(
            actor=actor,
            action=action,
            object_type="customer",
            object_id=str(customer_id),
            details={"provider_id": provider_id, "tag": tag},
        )
    )


def body_values(body: Any) -> Any:
    """``{"attributes": {...}}``, or the bare object of attributes."""
    if isinstance(body, dict) and set(body) == {"attributes"}:
        return body["attributes"]
    return body
