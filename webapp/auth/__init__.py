"""Staff sign-in, sign-out, password change and personal API tokens."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")

from . import sso, views  # noqa: E402,F401
