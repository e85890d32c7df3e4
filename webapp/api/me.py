"""``/api/v1/me``: the customer's own data for the mobile app, with a token from the SMS-code sign-in.

``POST /me/otp {"phone"}`` sends a code (always ``202``, member or not); ``POST /me/token {"phone", "code"}``
returns a bearer token (``lc_…``, SHA-256 at rest, 90 days); ``DELETE /me/token`` revokes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import current_app, g, request

from campaigns.accounts import rewards
from campaigns.channels import portal
from campaigns.consent import consents
from campaigns.errors import DomainError, FieldProblem

from ..extensions import db, db_session, dispatcher
from ..ratelimit import OTP_PER_IP, OTP_PER_PHONE, VERIFY_PER_IP, RateLimited, client_ip, hit
from . import bp
from .util import read_json, require_object, retry_transient


def customer_token(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token.startswith("lc_"):
            raise DomainError("unauthorized", "send 'Authorization: Bearer <customer token>'", status=401)
        found = portal.authenticate(db_session(), token)
        if found is None:
            raise DomainError("unauthorized", "unknown, expired or revoked token", status=401)
        db.session.commit()  # last_used_at
        g.customer_id, g.customer_phone = found
        g.customer_token = token
        return view(*args, **kwargs)

    return wrapper


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise DomainError("validation_error", f"{name}: is required", [FieldProblem(name, "is required")])
    return value


def _limit(name: str, key: str, rule: tuple[int, int]) -> None:
    try:
        hit(name, key, *rule)
    except RateLimited as err:
        raise err from None


@bp.post("/me/otp")
@retry_transient
def me_otp() -> Any:
    body = require_object(read_json())
    phone = portal.phone_or_error(_string(body, "phone"))
    _limit("otp-ip", client_ip(), OTP_PER_IP)
    _limit("otp-phone", phone, OTP_PER_PHONE)
    cid = portal.request_code(db_session(), phone, pepper=current_app.config["SECRET_KEY"])
    db.session.commit()
    if cid is not None:
        dispatcher().schedule_notify()
    return {"status": "sent", "expires_in": portal.CODE_MINUTES * 60}, 202


@bp.post("/me/token")
def me_token() -> Any:
    body = require_object(read_json())
    phone, code = _string(body, "phone"), _string(body, "code")
    _limit("verify-ip", client_ip(), VERIFY_PER_IP)
    try:
        cid = portal.verify_code(db_session(), phone, code, pepper=current_app.config["SECRET_KEY"])
    except DomainError:
        db.session.commit()  # the wrong attempt is counted
        raise
    token, expires = portal.issue_token(db_session(), cid, phone=portal.phone_or_error(phone))
    db.session.commit()
    return {"token": token, "token_type": "Bearer", "expires_at": expires}, 201


@bp.delete("/me/token")
@customer_token
def me_logout() -> Any:
    portal.revoke_token(db_session(), g.customer_token)
    db.session.commit()
    return "", 204


@bp.get("/me")
@customer_token
def me() -> Any:
    return portal.home(db_session(), g.customer_id)


@bp.get("/me/activity")
@customer_token
def me_activity() -> Any:
    limit = min(100, max(1, request.args.get("limit", 20, type=int) or 20))
    return {"activity": portal.activity(db_session(), g.customer_id, limit=limit)}


@bp.get("/me/rewards")
@customer_token
def me_rewards() -> Any:
    return {"rewards": portal.rewards_for(db_session(), g.customer_id)}


@bp.post("/me/redemptions")
@customer_token
@retry_transient
def me_redeem() -> Any:
    body = require_object(read_json())
    key = body.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 64):
        raise DomainError(
            "validation_error",
            "idempotency_key: 1 to 64 characters",
            [FieldProblem("idempotency_key", "1 to 64 characters")],
        )
    view, created = rewards.redeem(
        db_session(),
        g.customer_id,
        _string(body, "reward"),
        requested_by=f"app:{g.customer_id}",
        idempotency_key=key,
        through_phones=[g.customer_phone] if g.customer_phone else [],
    )
    db.session.commit()
    dispatcher().schedule_notify()
    return {k: view[k] for k in ("id", "reward", "reward_name", "points", "voucher_code", "status", "expires_at")}, (
        201 if created else 200
    )


@bp.post("/me/point-transfers")
@customer_token
@retry_transient
def me_transfer() -> Any:
    """The member sends points to another member (``to``: phone or national ID), within the programme's limits."""
    view, created = portal.send_points(
        db_session(),
        g.customer_id,
        require_object(read_json()),
        channel="app",
        through_phone=g.customer_phone,
    )
    db.session.commit()
    return view, 201 if created else 200


@bp.get("/me/vouchers")
@customer_token
def me_vouchers() -> Any:
    return {"vouchers": portal.vouchers(db_session(), g.customer_id)}


@bp.get("/me/claims")
@customer_token
def me_claims() -> Any:
    return {"claims": portal.claims_of(db_session(), g.customer_id)}


@bp.post("/me/claims")
@customer_token
def me_claim() -> Any:
    claim = portal.create_claim(db_session(), g.customer_id, require_object(read_json()), channel="app")
    db.session.commit()
    return next(c for c in portal.claims_of(db_session(), g.customer_id) if c["id"] == claim.id), 201


@bp.get("/me/consents")
@customer_token
def me_consents() -> Any:
    return consents.view(db_session(), g.customer_id)


@bp.post("/me/consents")
@customer_token
@retry_transient
def me_consent() -> Any:
    """``{purpose, granted}``: one more row of the record; the answer is the whole record as it stands."""
    row = consents.record_request(
        db_session(), g.customer_id, require_object(read_json()), channel="app", actor=f"customer:{g.customer_id}"
    )
    db.session.commit()
    return {"recorded": consents.record_view(row), **consents.view(db_session(), g.customer_id)}, 201
