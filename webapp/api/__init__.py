"""Provider and management REST API v1."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import campaigns, customers, events, groups, imports, openapi, rewards, settings, transactions  # noqa: E402,F401
