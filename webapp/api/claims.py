"""Missing-points claims for providers: a provider key reads its own queue (staff tokens: every queue)."""

from __future__ import annotations

from typing import Any

from flask import request

from campaigns.care import claims
from campaigns.errors import invalid
from campaigns.permissions import Scope

from ..extensions import db_session
from . import bp
from .auth import principal, require, scope_provider_id

STATES = ("live", *claims.STATES)


def _row(r: dict[str, Any]) -> dict[str, Any]:
    c = r["claim"]
    return {
        "id": c.id,
        "customer_id": c.customer_id,
        "queue": r["queue"],
        "status": c.status,
        "transaction_ref": c.transaction_ref,
        "occurred_on": c.occurred_on.isoformat() if c.occurred_on else None,
        "amount": str(c.amount) if c.amount is not None else None,
        "description": c.description,
        "channel": c.channel,
        "created_at": c.created_at.isoformat(),
        "due_at": c.due_at.isoformat() if c.due_at else None,
        "lateness": r["lateness"],
        "transaction_id": c.transaction_id,
        "resolution": c.resolution,
        "points": c.points,
    }


@bp.get("/claims")
@require("provider", "staff", action="care.view")
def list_claims() -> Any:
    state = request.args.get("state", "live")
    if state not in STATES:
        raise invalid("state", f"must be one of {', '.join(STATES)}")
    overdue = request.args.get("overdue", "0")
    if overdue not in ("0", "1"):
        raise invalid("overdue", "must be 0 or 1")
    scope = Scope(principal().role, scope_provider_id())
    rows = claims.list_claims(db_session(), scope, state=state, overdue=overdue == "1")
    return {"claims": [_row(r) for r in rows]}
