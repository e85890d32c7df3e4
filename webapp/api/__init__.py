"""Provider and management REST API v1."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import (  # noqa: E402,F401
    campaigns,
    claims,
    customers,
    events,
    groups,
    imports,
    me,
    openapi,
    payments,
    phones,
    privacy,
    rewards,
    settings,
    settlement,
    transactions,
    webhooks,
)
