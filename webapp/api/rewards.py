"""Rewards catalog (staff manage, providers read) and redemptions (debit, stock, voucher)."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select

from campaigns.accounts import rewards
from campaigns.accounts.profile import resolve_existing
from campaigns.errors import not_found
from campaigns.models import ApiKey, Redemption, Reward
from campaigns.schemas import RedemptionIn, validation_error

from ..extensions import db, db_session
from . import bp
from .auth import principal, require
from .util import read_json, retry_transient


@bp.get("/rewards")
@require("provider", "staff", action="rewards.view")
def list_rewards() -> Any:
    active = request.args.get("all", "").lower() not in ("1", "true")
    return {"rewards": [rewards.reward_view(r) for r in rewards.list_rewards(db_session(), active_only=active)]}


@bp.post("/rewards")
@require("staff", action="rewards.manage")
def save_reward() -> Any:
    reward = rewards.save_reward(db_session(), read_json(), actor=principal().name)
    db.session.commit()
    return rewards.reward_view(reward), 201


@bp.get("/rewards/<code>")
@require("provider", "staff", action="rewards.view")
def show_reward(code: str) -> Any:
    reward = db.session.query(Reward).filter_by(code=code).one_or_none()
    if reward is None:
        raise not_found(f"reward '{code}'")
    return rewards.reward_view(reward)


def _requester() -> str:
    p = principal()
    return f"key:{p.key_id}"


def _mine(r: Redemption | None) -> bool:
    """Staff of the whole programme see every redemption; a provider (or staff scoped to one) those made with
    any of its keys (a rotated key keeps access)."""
    if r is None:
        return False
    p = principal()
    if (p.is_staff and p.provider_id is None) or r.requested_by == _requester():
        return True
    kind, _, key_id = r.requested_by.partition(":")
    if kind != "key" or not key_id.isdigit():
        return False
    return db.session.scalar(select(ApiKey.provider_id).where(ApiKey.id == int(key_id))) == p.provider_id


@bp.post("/redemptions")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def create_redemption() -> Any:
    body = validation_error(RedemptionIn, read_json())
    customer_id = resolve_existing(db_session(), body.customer, body.customer_id)
    key = body.idempotency_key or request.headers.get("Idempotency-Key")
    view, created = rewards.redeem(
        db_session(),
        customer_id,
        body.reward,
        requested_by=_requester(),
        idempotency_key=key,
        pool=body.pool,
        through_phones=[body.customer.phone] if body.customer else [],
    )
    db.session.commit()
    return view, 201 if created else 200


@bp.get("/redemptions/<int:redemption_id>")
@require("provider", "staff", action="customers.view")
def show_redemption(redemption_id: int) -> Any:
    r = db.session.get(Redemption, redemption_id)
    if r is None or not _mine(r):
        raise not_found(f"redemption {redemption_id}")
    return rewards.redemption_view(r, db.session.get(Reward, r.reward_id))


@bp.post("/redemptions/<int:redemption_id>/cancel")
@require("provider", "staff", action="customers.adjust")
@retry_transient
def cancel_redemption(redemption_id: int) -> Any:
    r = db.session.get(Redemption, redemption_id)
    if r is None or not _mine(r):
        raise not_found(f"redemption {redemption_id}")
    view = rewards.cancel(db_session(), redemption_id, requested_by=principal().name)
    db.session.commit()
    return view
