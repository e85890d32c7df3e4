"""Customer lookup and profile (balance, identities, recent ledger across providers); paper consent forms;
attributes and tags."""

from __future__ import annotations

from typing import Any

from flask import request

from campaigns.accounts.profile import lookup, profile
from campaigns.consent import consents
from campaigns.customers import attributes
from campaigns.errors import DomainError, FieldProblem
from campaigns.privacy import masking

from ..extensions import db, db_session
from . import bp
from .auth import principal, require, scope_provider_id
from .util import read_json, require_object, retry_transient


@bp.get("/customers/lookup")
@require("provider", "staff", action="customers.view")
def lookup_customer() -> Any:
    phone, nid = request.args.get("phone"), request.args.get("national_id")
    if not phone and not nid:
        raise DomainError(
            "validation_error", "give ?phone= or ?national_id=", [FieldProblem("phone", "or national_id is required")]
        )
    try:
        return _masked(lookup(db_session(), phone=phone, national_id=nid, provider_id=scope_provider_id()))
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


@bp.post("/customers/<int:customer_id>/consents")
@require("provider", "staff", action="customers.consent")
@retry_transient
def record_consent_form(customer_id: int) -> Any:
    """A signed paper form: ``{purpose, granted, form_reference, signed_at?}``; idempotent per form and purpose."""
    p = principal()
    actor = f"provider:{p.provider_code}" if not p.is_staff else p.name
    view, created = consents.record_form(
        db_session(), customer_id, require_object(read_json()), provider_id=scope_provider_id(), actor=actor
    )
    db.session.commit()
    return view, 201 if created else 200


@bp.put("/customers/<int:customer_id>/attributes")
@require("provider", "staff", action="customers.attributes")
@retry_transient
def put_customer_attributes(customer_id: int) -> Any:
    """Replace the customer attributes the caller set (campaigns.customers.attributes.set_attributes)."""
    values = attributes.body_values(require_object(read_json()))
    out = attributes.set_attributes(
        db_session(), customer_id, values, provider_id=scope_provider_id(), actor=principal().name
    )
    db.session.commit()
    return out


@bp.put("/customers/<int:customer_id>/tags/<tag>")
@require("provider", "staff", action="customers.attributes")
@retry_transient
def put_customer_tag(customer_id: int, tag: str) -> Any:
    out = attributes.add_tag(db_session(), customer_id, tag, provider_id=scope_provider_id(), actor=principal().name)
    db.session.commit()
    return out


@bp.delete("/customers/<int:customer_id>/tags/<tag>")
@require("provider", "staff", action="customers.attributes")
@retry_transient
def delete_customer_tag(customer_id: int, tag: str) -> Any:
    out = attributes.remove_tag(db_session(), customer_id, tag, provider_id=scope_provider_id(), actor=principal().name)
    db.session.commit()
    return out
