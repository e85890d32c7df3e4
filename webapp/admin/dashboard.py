"""The dashboard: KPIs and charts from aggregate queries, scoped to a provider user's provider."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from campaigns.reporting import dashboard as figures

from ..replica import read_session
from ..security import permission_required, scope
from . import bp
from .util import csv_response

TABLES = ("days", "tiers", "providers")


@bp.get("/")
@permission_required("dashboard.view")
def dashboard() -> Any:
    days = _days()
    d = figures.build(read_session(), scope(), days=days)
    return render_template("admin/dashboard.html", d=d, days=days)


def _days() -> int:
    days = request.args.get("days", 30, type=int)
    return days if days in (7, 30, 90) else 30


@bp.get("/dashboard.csv")
@permission_required("dashboard.view")
def dashboard_csv() -> Any:
    """One dashboard table as CSV (``table``: days, tiers or providers), scoped like the page."""
    table = request.args.get("table", "days")
    table = table if table in TABLES else "days"
    days = _days()
    d = figures.build(read_session(), scope(), days=days)
    if table == "tiers":
        return csv_response("tiers.csv", ["tier", "customers"], ([t, n] for t, n in d.tiers))
    if table == "providers":
        return csv_response(
            f"volume-per-provider-{days}d.csv",
            ["provider", "name", "transactions", "amount"],
            ([p["code"], p["name"], p["count"], p["amount"]] for p in d.providers),
        )
    return csv_response(
        f"points-per-day-{days}d.csv",
        ["day", "issued", "redeemed"],
        ([day, i, r] for day, i, r in zip(d.days, d.issued, d.redeemed, strict=True)),
    )
