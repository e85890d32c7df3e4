"""Customer lookup and profile (balance, identities, recent ledger across providers)."""

from __future__ import annotations

from typing import Any

from flask import request

from campaigns.accounts.profile import lookup, profile
from campaigns.errors import DomainError, FieldProblem
from campaigns.privacy import masking

from ..extensions import db_session
from . import bp
from .auth import principal, require, scope_provider_id


@bp.get("/customers/lookup")
@require("provider", "staff", action="customers.view")
def lookup_customer() -> Any:
    phone, nid = request.args.get("phone"), request.args.get("national_id")
    if not phone and not nid:
        raise DomainError(
            "validation_error", "give ?phone= or ?national_id=", [FieldProblem("phone", "or national_id is required")]
        )
    try:
        return _masked(lookup(db_session(), phone=phone, national_id=nid))
    except ValueError as exc:
        path = "phone" if phone else "national_id"
        raise DomainError("validation_error", f"{path}: {exc}", [FieldProblem(path, str(exc))]) from None


@bp.get("/customers/<int:customer_id>")
@require("provider", "staff", action="customers.view")
def show_customer(customer_id: int) -> Any:
    return _masked(profile(db_session(), customer_id, provider_id=scope_provider_id()))


def _masked(view: dict[str, Any]) -> dict[str, Any]:
    """Staff roles that do not need full numbers see them masked; provider keys serve members by them."""
    p = principal()
    return masking.for_role(view, p.role) if p.is_staff else view
