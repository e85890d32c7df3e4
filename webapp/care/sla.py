"""The care overview (``/care/``) and the accrual SLA dashboard (``/care/sla``), scoped to a provider user's provider.

The SLA itself is a programme setting (``accrual_sla``): an admin changes it on
the SLA page (audited, like every programme setting) or through the settings API.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select

from campaigns.care import alerts, sla
from campaigns.catalog import programme
from campaigns.clock import utcnow
from campaigns.errors import DomainError
from campaigns.models import Alert, Claim, Provider
from campaigns.permissions import Scope
from workers.queues import RedisDispatcher

from ..admin.util import csv_response
from ..extensions import announce_publication, db, db_session, dispatcher
from ..i18n import csv_time
from ..replica import read_session
from ..security import permission_required, scope
from . import bp

PERIODS = (7, 14, 30)
TABLES = ("share", "latency", "backlog")
CLOSED_CLAIMS = ("resolved", "rejected")


def _days() -> int:
    days = request.args.get("days", 14, type=int)
    return days if days in PERIODS else 14


def _latency_day(days: int) -> date | None:
    """A day of the period for the percentiles, or None (the last 24 h)."""
    raw = request.args.get("day", "")
    try:
        chosen = date.fromisoformat(raw)
    except ValueError:
        return None
    today = programme.local_today(db_session())
    return chosen if today - timedelta(days=days - 1) <= chosen <= today else None


def _depths() -> dict[int, int] | None:
    """Ids waiting in each Redis partition list (None in the embedded mode, which has no partitions)."""
    queue = dispatcher()
    try:
        return queue.depth() if isinstance(queue, RedisDispatcher) else None
    except Exception:  # Redis down: the page still shows what MariaDB knows
        return None


def _board(days: int) -> sla.Board:
    depths = _depths() if not scope().limited else None  # partitions mix every provider's customers
    return sla.build(read_session(), scope(), days=days, latency_day=_latency_day(days), depths=depths)


@bp.get("/sla")
@permission_required("care.view")
def sla_dashboard() -> Any:
    days = _days()
    return _render(_board(days), days)


def _render(
    board: sla.Board, days: int, form: dict[str, Any] | None = None, errors: dict[str, str] | None = None
) -> Any:
    status = 422 if errors else 200
    return (
        render_template(
            "care/sla.html",
            b=board,
            days=days,
            periods=PERIODS,
            day=request.args.get("day", ""),
            form=form or board.policy.as_dict(),
            errors=errors or {},
            limits=programme.SLA_LIMITS,
        ),
        status,
    )


@bp.get("/sla.csv")
@permission_required("care.view")
def sla_csv() -> Any:
    """One table of the SLA page as CSV (``table``: share, latency or backlog), scoped like the page."""
    table = request.args.get("table", "share")
    table = table if table in TABLES else "share"
    days = _days()
    b = _board(days)
    if table == "latency":
        return csv_response(
            f"sla-latency-{b.latency_window.replace(' ', '')}.csv",
            ["provider", "credited", "p50_seconds", "p90_seconds", "p99_seconds", "max_seconds"],
            ([x.code, x.count, x.p50, x.p90, x.p99, x.max] for x in b.latency),
        )
    if table == "backlog":
        return csv_response(
            "sla-backlog.csv",
            ["provider", "queued", "oldest_received_at", "oldest_age_seconds"],
            ([r["code"], r["queued"], csv_time(r["oldest_at"]), r["oldest_age_seconds"]] for r in b.backlog),
        )
    rows = []
    for day in b.days:
        for _pid, code, _name in b.providers:
            within, late = b.share.get((code, day), (0, 0))
            if within + late:
                rows.append([day, code, within, late, b.share_pct(code, day)])
    return csv_response(f"sla-share-{days}d.csv", ["day", "provider", "within_sla", "late", "share_pct"], rows)


@bp.post("/sla/settings")
@permission_required("settings.manage")
def sla_settings() -> Any:
    """Change the accrual SLA (audited as a programme setting); a bad field is shown next to it."""
    form = {k: request.form.get(k, "").strip() for k in programme.SLA_LIMITS}
    value: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, (kind, *_rest, reason) in programme.SLA_LIMITS.items():
        try:
            value[name] = kind(form[name]) if kind is int else float(form[name])
        except ValueError:
            errors[name] = _("must be %(what)s", what=_(reason))
    if not errors:
        if value["critical_factor"] == int(value["critical_factor"]):
            value["critical_factor"] = int(value["critical_factor"])
        try:
            programme.set_value(db_session(), "accrual_sla", value, actor=current_user.email)
        except DomainError as err:
            db.session.rollback()
            errors = {f.path.removeprefix("value."): f.reason for f in err.fields}
    if errors:
        return _render(_board(_days()), _days(), form, errors)
    db.session.commit()
    announce_publication()
    flash(_("Accrual SLA set to %(minutes)s minutes.", minutes=value["minutes"]), "success")
    return redirect(url_for("care.sla_dashboard"))


def open_claims(scope_: Scope) -> int:
    stmt = select(func.count()).select_from(Claim).where(Claim.status.not_in(CLOSED_CLAIMS))
    if scope_.limited:
        stmt = stmt.where(Claim.provider_id == scope_.provider_id)
    return int(db.session.scalar(stmt) or 0)


@bp.get("/")
@permission_required("care.view")
def overview() -> Any:
    """Where the care centre starts its day: live alerts by severity, today's SLA, the backlog, open claims."""
    s = scope()
    now = utcnow()
    live = select(Alert.severity, func.count()).where(Alert.status.in_(alerts.LIVE)).group_by(Alert.severity)
    if s.limited:
        live = live.where(Alert.provider_id == s.provider_id)
    by_severity = {sev: 0 for sev in alerts.SEVERITIES} | {k: int(n) for k, n in db.session.execute(live)}
    worst = alerts.list_alerts(db_session(), s, status="live", limit=5)
    within, late = sla.today_share(db_session(), s, now)
    waiting = sla.backlog(db_session(), s, now)
    names = dict(db.session.execute(select(Provider.id, Provider.code)).all())
    return render_template(
        "care/overview.html",
        by_severity=by_severity,
        worst=worst,
        providers=names,
        within=within,
        late=late,
        share=round(100 * within / (within + late), 1) if within + late else None,
        backlog=waiting,
        queued=sum(r["queued"] for r in waiting),
        claims=open_claims(s),
        policy=sla.policy(db_session()),
    )
