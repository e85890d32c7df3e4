"""The person's rights over the API: export (the customer and staff), reveal of masked numbers, erasure requests
and their approval by a second admin. Every rule lives in ``campaigns.privacy``."""

from __future__ import annotations

from typing import Any

from flask import current_app, g

from campaigns.privacy import erasure, export, masking
from campaigns.schemas import StaffReasonIn, validation_error

from ..extensions import db, db_session
from . import bp
from .auth import principal, require
from .me import customer_token
from .util import read_json, retry_transient


def _reason() -> str:
    return validation_error(StaffReasonIn, read_json()).reason


def _secret() -> str:
    return str(current_app.config["SECRET_KEY"])


@bp.get("/me/export")
@customer_token
def me_export() -> Any:
    """Everything held about the signed-in customer (access and portability)."""
    return export.document(db_session(), g.customer_id)


@bp.post("/me/erasure-requests")
@customer_token
@retry_transient
def me_erasure_request() -> Any:
    """The signed-in customer asks to be erased: a case due in 72 hours (the same case when asked again)."""
    req, created = erasure.request(
        db_session(), g.customer_id, "the person asked through the app", actor=f"customer:{g.customer_id}", source="app"
    )
    db.session.commit()
    return erasure.request_view(req), 201 if created else 200


@bp.get("/customers/<int:customer_id>/export")
@require("staff", action="customers.personal_export", programme_wide=True)
def export_customer(customer_id: int) -> Any:
    p = principal()
    doc = export.staff_document(db_session(), customer_id, actor=p.name, role=p.role)
    db.session.commit()  # the audit event
    return doc


@bp.post("/customers/<int:customer_id>/reveal")
@require("staff", action="customers.reveal", programme_wide=True)
@retry_transient
def reveal_customer(customer_id: int) -> Any:
    p = principal()
    view = masking.reveal(db_session(), customer_id, actor=p.name, role=p.role, reason=_reason())
    db.session.commit()
    return view


@bp.post("/customers/<int:customer_id>/erasure-requests")
@require("staff", action="customers.erase", programme_wide=True)
@retry_transient
def request_erasure(customer_id: int) -> Any:
    req, _ = erasure.request(db_session(), customer_id, _reason(), actor=principal().name)
    db.session.commit()
    return erasure.request_view(req), 201


@bp.get("/erasure-requests")
@require("staff", action="customers.erase", programme_wide=True)
def list_erasure_requests() -> Any:
    return {"erasure_requests": [erasure.request_view(r) for r in erasure.open_requests(db_session())]}


@bp.post("/erasure-requests/<int:request_id>/approve")
@require("staff", action="customers.erase", programme_wide=True)
@retry_transient
def approve_erasure(request_id: int) -> Any:
    done = erasure.approve(db_session(), request_id, actor=principal().name, secret=_secret())
    db.session.commit()
    return done


@bp.post("/erasure-requests/<int:request_id>/reject")
@require("staff", action="customers.erase", programme_wide=True)
@retry_transient
def reject_erasure(request_id: int) -> Any:
    req = erasure.reject(db_session(), request_id, actor=principal().name, reason=_reason())
    db.session.commit()
    return erasure.request_view(req)
