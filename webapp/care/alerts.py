"""Alerts: the live list (worst first), acknowledge, resolve; a provider user sees its own provider's."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from campaigns.care import alerts
from campaigns.errors import DomainError
from campaigns.models import Provider

from ..extensions import db, db_session
from ..security import permission_required, scope
from . import bp

FILTERS = ("live", "open", "acknowledged", "resolved", "all")


@bp.get("/alerts")
@permission_required("care.view")
def alerts_list() -> Any:
    status = request.args.get("status", "live")
    if status not in FILTERS:
        status = "live"
    kind = request.args.get("kind") or None
    rows = alerts.list_alerts(db_session(), scope(), status=None if status == "all" else status, kind=kind)
    names = {p.id: p.code for p in db.session.query(Provider).all()}
    return render_template(
        "care/alerts.html",
        rows=rows,
        status=status,
        kind=kind or "",
        filters=FILTERS,
        providers=names,
        escalation=alerts.ESCALATION,
    )


def _act(alert_id: int, action: str) -> Any:
    try:
        if action == "acknowledge":
            alerts.acknowledge(db_session(), alert_id, scope(), current_user.email)
            message = _("Alert %(id)s acknowledged.", id=alert_id)
        else:
            alerts.resolve(db_session(), alert_id, scope(), current_user.email, request.form.get("resolution", ""))
            message = _("Alert %(id)s resolved.", id=alert_id)
    except DomainError as err:
        db.session.rollback()
        if err.status == 404:
            abort(404)
        flash(err.message, "error")
        return redirect(request.referrer or url_for("care.alerts_list"))
    db.session.commit()
    flash(message, "success")
    return redirect(request.referrer or url_for("care.alerts_list"))


@bp.post("/alerts/<int:alert_id>/acknowledge")
@permission_required("alerts.manage")
def alert_acknowledge(alert_id: int) -> Any:
    return _act(alert_id, "acknowledge")


@bp.post("/alerts/<int:alert_id>/resolve")
@permission_required("alerts.manage")
def alert_resolve(alert_id: int) -> Any:
    return _act(alert_id, "resolve")
