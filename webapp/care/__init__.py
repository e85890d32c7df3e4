"""Care centre pages: alerts, accrual SLA, missing-points claims, analytics and early warning."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("care", __name__, url_prefix="/care")

from . import alerts, analytics, claims, sla  # noqa: E402,F401
