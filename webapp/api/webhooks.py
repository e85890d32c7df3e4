"""Provider webhooks: subscribe, list, see deliveries with their status, replay one."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select

from campaigns.errors import not_found
from campaigns.models import Outbox, WebhookSubscription
from campaigns.notify import webhooks

from ..extensions import db, db_session, dispatcher
from . import bp
from .auth import calling_provider_id, principal, require
from .util import read_json, require_object


def _view(sub: WebhookSubscription) -> dict[str, Any]:
    return {"id": sub.id, "url": sub.url, "events": sub.events, "active": sub.active, "created_at": sub.created_at}


@bp.post("/webhooks")
@require("provider")
def create_webhook() -> Any:
    body = require_object(read_json())
    events = body.get("events")
    sub, secret = webhooks.subscribe(
        db_session(), calling_provider_id(), str(body.get("url") or ""), events if isinstance(events, list) else []
    )
    db.session.commit()
    return {**_view(sub), "secret": secret}, 201


@bp.get("/webhooks")
@require("provider")
def list_webhooks() -> Any:
    subs = db.session.scalars(
        select(WebhookSubscription).where(WebhookSubscription.provider_id == principal().provider_id)
    )
    return {"webhooks": [_view(s) for s in subs], "events": list(webhooks.EVENTS)}


@bp.delete("/webhooks/<int:sub_id>")
@require("provider")
def delete_webhook(sub_id: int) -> Any:
    sub = db.session.get(WebhookSubscription, sub_id)
    if sub is None or sub.provider_id != principal().provider_id:
        raise not_found(f"webhook {sub_id}")
    sub.active = False
    db.session.commit()
    return "", 204


def _own_delivery(outbox_id: int) -> Outbox:
    row = webhooks.owned_delivery(db_session(), outbox_id, principal().provider_id)
    if row is None:
        raise not_found(f"delivery {outbox_id}")
    return row


def _delivery(row: Outbox) -> dict[str, Any]:
    return {
        "id": row.id,
        "event": row.template,
        "event_id": (row.payload or {}).get("id"),
        "url": row.recipient,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": row.next_attempt_at,
        "last_error": row.last_error,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
    }


@bp.get("/webhooks/deliveries")
@require("provider")
def list_deliveries() -> Any:
    rows = webhooks.deliveries(db_session(), principal().provider_id, status=request.args.get("status"))
    return {"deliveries": [_delivery(row) for row, _sub in rows]}


@bp.post("/webhooks/deliveries/<int:outbox_id>/replay")
@require("provider")
def replay_delivery(outbox_id: int) -> Any:
    row = webhooks.replay(db_session(), _own_delivery(outbox_id).id, actor=principal().name)
    db.session.commit()
    dispatcher().schedule_notify()
    return _delivery(row), 202
