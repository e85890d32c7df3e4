"""Endpoints for the SMS and USSD gateways: keyword webhook and USSD callback.

Both authenticate the gateway with a shared secret in the ``X-Gateway-Secret``
header (``LOYALTY_GATEWAY_SECRET``; without it the endpoints answer 503).
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from campaigns.channels import keywords as channels
from campaigns.channels import ussd
from campaigns.errors import DomainError, FieldProblem

from ..api.util import read_json, retry_transient
from ..extensions import db, db_session, dispatcher, settings

bp = Blueprint("channels", __name__, url_prefix="/channels")


def _check_secret() -> None:
    expected = settings().gateway_secret
    if not expected:
        raise DomainError("unavailable", "channel gateways are not configured (LOYALTY_GATEWAY_SECRET)", status=503)
    given = request.headers.get("X-Gateway-Secret", "")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise DomainError("unauthorized", "wrong or missing X-Gateway-Secret", status=401)


def _fields() -> dict[str, Any]:
    if request.is_json:
        data = read_json()  # the API's strict reader: bounded nesting, no half UTF-16 pairs, clear 400s
        if not isinstance(data, dict):
            raise DomainError("bad_request", "send a JSON object or a form", status=400)
        return data
    return request.form.to_dict()


def _required(data: dict[str, Any], *names: str) -> list[str]:
    missing = [n for n in names if not isinstance(data.get(n), str) or not data.get(n)]
    if missing:
        raise DomainError(
            "validation_error", f"{missing[0]}: is required", [FieldProblem(n, "is required") for n in missing]
        )
    return [data[n] for n in names]


def _notify() -> None:
    dispatcher().schedule_notify()


@bp.post("/sms")
@retry_transient
def sms() -> Any:
    """Inbound keyword SMS: ``from``, ``text`` and optionally the gateway's message ``id`` (retries are deduplicated).

    The reply is queued in the outbox and sent through the SMS adapter; the JSON answer repeats it for the
    gateway's logs (a gateway must not send it itself).
    """
    _check_secret()
    data = _fields()
    phone, text = _required(data, "from", "text")
    message_id = data.get("id") or data.get("message_id")
    try:
        result = channels.handle_sms(db_session(), phone, text, message_id=str(message_id)[:64] if message_id else None)
    except ValueError as exc:
        raise DomainError("validation_error", f"from: {exc}", [FieldProblem("from", str(exc))]) from None
    db.session.commit()
    _notify()
    return {
        "intent": result.intent,
        "reply": result.reply,
        "delivery": "outbox",
        "outbox_id": result.outbox_id,
        "duplicate": result.duplicate,
    }


@bp.post("/ussd")
@retry_transient
def ussd_callback() -> Any:
    """USSD callback (``sessionId``, ``phoneNumber``, ``serviceCode``, ``text``) -> ``CON ...`` / ``END ...``."""
    _check_secret()
    data = _fields()
    session_id, phone = _required(data, "sessionId", "phoneNumber")
    screen = ussd.respond(db_session(), session_id, phone, str(data.get("text") or ""))
    db.session.commit()
    if screen.notify:
        _notify()
    resp: Response = current_app.response_class(screen.text, mimetype="text/plain")
    return resp


@bp.errorhandler(DomainError)
def _domain(err: DomainError) -> Any:
    resp = jsonify(
        {
            "error": {
                "code": err.code,
                "message": err.message,
                "fields": [{"path": f.path, "reason": f.reason} for f in err.fields],
            }
        }
    )
    resp.status_code = err.status
    return resp
