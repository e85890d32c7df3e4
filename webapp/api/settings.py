"""Programme settings (staff): points expiry policy, negative balances, cap per transaction."""

from __future__ import annotations

from typing import Any

from campaigns.catalog import programme

from ..extensions import announce_publication, db, db_session
from . import bp
from .auth import principal, require
from .util import read_json, require_object


@bp.get("/settings")
@require("staff", action="settings.manage")
def show_settings() -> Any:
    p = programme.load(db_session())
    return {k: getattr(p, k) for k in programme.DEFAULTS}


@bp.put("/settings/<key>")
@require("staff", action="settings.manage")
def update_setting(key: str) -> Any:
    body = require_object(read_json())
    programme.set_value(db_session(), key, body.get("value"), actor=principal().name)
    db.session.commit()
    announce_publication()
    return show_settings()
