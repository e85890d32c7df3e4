"""The dashboard: KPIs and charts from aggregate queries, scoped to a provider user's provider."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from campaigns import dashboard as figures

from ..extensions import db
from ..security import permission_required, scope
from . import bp


@bp.get("/")
@permission_required("dashboard.view")
def dashboard() -> Any:
    days = request.args.get("days", 30, type=int)
    days = days if days in (7, 30, 90) else 30
    d = figures.build(db.session, scope(), days=days)
    return render_template("admin/dashboard.html", d=d, days=days)
