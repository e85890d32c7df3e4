"""Programme settings (staff): points expiry policy, negative balances, cap per transaction."""

from __future__ import annotations

from typing import Any

from flask import current_app

from campaigns.catalog import documents as catalog
from campaigns.catalog import programme

from ..extensions import db, db_session
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
    current_app.extensions["loyalty.dispatcher"].announce_publication(catalog.publication_counter(db_session()))
    return show_settings()
