"""Care analytics: where customers struggle (SLA breaches, claims, reasons) and the weekly management report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import render_template, request

from campaigns.catalog import programme
from campaigns.errors import DomainError
from campaigns.reporting import analytics

from ..admin.util import csv_response
from ..replica import read_session
from ..security import permission_required
from . import bp

WEEK_CHOICES = (4, 8, 13, 26)


@bp.get("/analytics")
@permission_required("reports.view")
def analytics_page() -> Any:
    weeks = request.args.get("weeks", 8, type=int)
    weeks = weeks if weeks in WEEK_CHOICES else 8
    today = programme.local_today(read_session())
    start = today - timedelta(days=today.weekday(), weeks=weeks - 1)
    a = analytics.build(read_session(), start, weeks)
    return render_template(
        "care/analytics.html",
        a=a,
        weeks=weeks,
        choices=WEEK_CHOICES,
        dimensions=analytics.DIMENSIONS,
        last_week=analytics.week_label(analytics.parse_week(None, today)),
    )


def _week() -> tuple[str, Any]:
    raw = request.args.get("week") or ""
    monday = analytics.parse_week(raw or None, programme.local_today(read_session()))
    return analytics.week_label(monday), monday


@bp.get("/reports/weekly")
@permission_required("reports.view")
def weekly_report() -> Any:
    try:
        label, monday = _week()
    except DomainError as err:
        problem = err.fields[0].reason if err.fields else err.message
        return render_template(
            "care/weekly.html", a=None, week=request.args.get("week", ""), problem=problem
        ), err.status
    a = analytics.build(read_session(), monday, 1)
    return render_template(
        "care/weekly.html",
        a=a,
        week=label,
        monday=monday,
        sunday=monday + timedelta(days=6),
        dimensions=analytics.DIMENSIONS,
        problem=None,
    )


@bp.get("/reports/weekly.csv")
@permission_required("reports.view")
def weekly_report_csv() -> Any:
    label, monday = _week()
    a = analytics.build(read_session(), monday, 1)
    return csv_response(f"care-weekly-{label}.csv", analytics.REPORT_HEADER, analytics.report_rows(a))
