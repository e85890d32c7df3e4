"""Customer web portal (mobile-first): sign-in by SMS code, balance and tier, rewards, vouchers, claims."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("portal", __name__, url_prefix="/portal")

from . import views  # noqa: E402,F401
