"""Staff pages: dashboard, campaign authoring, customer 360, audit log, users."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import campaigns, catalog_pages, customers, dashboard, finance, providers, users, webhooks  # noqa: E402,F401
