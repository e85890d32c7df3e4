"""Custom events (referral, app_login, survey_completed...), credited by the same campaigns."""

from __future__ import annotations

from typing import Any

from campaigns.accrual.transactions import ACCEPTED, ERROR, get_transaction, ingest
from campaigns.clock import utcnow
from campaigns.errors import DomainError
from campaigns.schemas import EventIn, validation_error

from ..extensions import db, db_session
from . import bp
from .auth import calling_provider_id, require, scope_provider_id
from .transactions import dispatch
from .util import max_future, read_json, retry_transient


def _event_view(txn: dict[str, Any]) -> dict[str, Any]:
    out = dict(txn)
    out["provider_event_id"] = out.pop("provider_txn_id")
    return out


@bp.post("/events")
@require("provider")
@retry_transient
def create_event() -> Any:
    now = utcnow()
    event = validation_error(EventIn, read_json())
    if event.occurred_at > now + max_future():
        raise DomainError("validation_error", "occurred_at: is in the future", [])
    out = ingest(db_session(), calling_provider_id(), [event], now, source="event", look_first=False)[0]
    if out.status == ERROR:
        db.session.rollback()
        assert out.error is not None
        raise out.error
    db.session.commit()
    assert out.txn is not None
    if out.txn["status"] == "queued":  # new, or a replay whose first dispatch may never have happened
        dispatch([(out.txn["id"], out.txn["customer_id"])])
    return _event_view(out.txn), 202 if out.status == ACCEPTED else 200


@bp.get("/events/<int:event_id>")
@require("provider", "staff", action="customers.view")
def show_event(event_id: int) -> Any:
    view = get_transaction(db_session(), event_id, scope_provider_id())
    if view.get("source") != "event":
        raise DomainError("not_found", f"event {event_id} not found", status=404)
    return _event_view(view)
