"""Number lifecycle: the phone authority's events, and the care centre's hold lifts and re-attachments."""

from __future__ import annotations

from typing import Any

from campaigns.clock import utcnow
from campaigns.customers import numbers
from campaigns.customers.identity import normalize_phone
from campaigns.errors import DomainError, FieldProblem
from campaigns.schemas import IdentityEventIn, StaffReasonIn, validation_error

from ..extensions import db, db_session
from . import bp
from .auth import principal, require
from .util import max_future, read_json, retry_transient


@bp.post("/identity-events")
@require("provider")
@retry_transient
def post_identity_event() -> Any:
    now = utcnow()
    p = principal()
    numbers.require_authority(db_session(), p.provider_id)  # before the body: others learn nothing of its rules
    body = validation_error(IdentityEventIn, read_json())
    if body.occurred_at > now + max_future():
        reason = f"is more than {int(max_future().total_seconds())} s in the future"
        raise DomainError("validation_error", f"occurred_at: {reason}", [FieldProblem("occurred_at", reason)])
    view, created = numbers.record_event(
        db_session(), p.provider_id, body, actor=f"provider:{p.provider_code}", now=now
    )
    db.session.commit()
    return view, 201 if created else 200


def phone_param(raw: str) -> str:
    try:
        return normalize_phone(raw)
    except ValueError as exc:
        raise DomainError("validation_error", f"phone: {exc}", [FieldProblem("phone", str(exc))]) from None


def _reason() -> str:
    return validation_error(StaffReasonIn, read_json()).reason


@bp.get("/phone-numbers/<phone>")
@require("staff", action="customers.view", programme_wide=True)
def show_phone(phone: str) -> Any:
    return numbers.state_view(db_session(), phone_param(phone))


@bp.post("/phone-numbers/<phone>/lift-hold")
@require("staff", action="customers.adjust", programme_wide=True)
@retry_transient
def lift_hold(phone: str) -> Any:
    number = phone_param(phone)
    numbers.lift_hold(db_session(), number, actor=principal().name, reason=_reason())
    db.session.commit()
    return numbers.state_view(db_session(), number)


@bp.post("/phone-numbers/<phone>/reattach")
@require("staff", action="customers.adjust", programme_wide=True)
@retry_transient
def reattach(phone: str) -> Any:
    number = phone_param(phone)
    numbers.reattach(db_session(), number, actor=principal().name, reason=_reason())
    db.session.commit()
    return numbers.state_view(db_session(), number)
