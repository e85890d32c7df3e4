"""Finance (role ``finance``, admins; a provider user sees its own statement): statements, roll-forward, rates.

Every page has its CSV; every statement figure links to the ledger lines
behind it. Setting rates and closing a month go through the same services as
the CLI and the API (audited, never in the past, closed once).
"""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from campaigns.clearing import periods, rates
from campaigns.clearing.statements import month_of, zone
from campaigns.errors import DomainError
from campaigns.models import Provider, SettlementPeriod, utcnow

from ..extensions import db, db_session
from ..replica import read_session
from ..security import permission_required, scope
from . import bp
from .util import csv_response, html_error


def _month() -> str:
    return request.args.get("period") or month_of(utcnow(), zone(db_session()))


@bp.get("/finance")
@permission_required("finance.view")
def finance() -> Any:
    period = _month()
    try:
        view = periods.statement(read_session(), period, provider_id=scope().provider_id)
    except DomainError as err:
        return html_error(err)
    if request.args.get("format") == "csv":
        return csv_response(
            f"statement-{period}.csv",
            ["period", "status", "party", "kind", "points", "amount_vnd", "value_vnd", "origin"],
            (
                [
                    period,
                    view["status"],
                    ln["party"],
                    ln["kind"],
                    ln["points"],
                    ln["amount"],
                    ln["value"],
                    ln["origin"] or "",
                ]
                for ln in view["lines"]
            ),
        )
    closed = read_session().query(SettlementPeriod).order_by(SettlementPeriod.period.desc()).limit(24).all()
    return render_template("admin/finance.html", view=view, period=period, closed=closed)


@bp.get("/finance/entries")
@permission_required("finance.view")
def finance_entries() -> Any:
    period = _month()
    try:
        view = periods.entries(
            read_session(), period, request.args.get("party", ""), request.args.get("kind", ""), scope().provider_id
        )
    except DomainError as err:
        return html_error(err)
    if request.args.get("format") == "csv":
        keys = ["entry_id", "at", "customer_id", "entry_kind", "transaction_id", "redemption_id", "points", "note"]
        return csv_response(
            f"entries-{period}-{view['party']}-{view['kind']}.csv",
            keys,
            ([e[k] for k in keys] for e in view["entries"]),
        )
    return render_template("admin/finance_entries.html", view=view)


@bp.get("/finance/liability")
@permission_required("finance.view")
def finance_liability() -> Any:
    try:
        view = periods.liability(read_session(), request.args.get("as_of") or None)
    except DomainError as err:
        return html_error(err)
    if scope().limited:  # a provider user sees the liability of the points it funded, nothing else
        view["funders"] = [r for r in view["funders"] if r["funder"] == scope().provider_code]
        view["total"] = {
            "closing_points": sum(r["closing"]["points"] for r in view["funders"]),
            "closing_value": sum(r["closing"]["value"] for r in view["funders"]),
        }
        view["breakage_estimate"] = {"rate": None}
    if request.args.get("format") == "csv":
        cols = ("opening", "issued", "clawed_back", "redeemed", "expired", "closing")
        return csv_response(
            f"liability-{view['as_of']}.csv",
            ["as_of", "funder", *(f"{c}_{u}" for c in cols for u in ("points", "vnd"))],
            (
                [view["as_of"], r["funder"], *(r[c][u] for c in cols for u in ("points", "value"))]
                for r in view["funders"]
            ),
        )
    return render_template("admin/finance_liability.html", view=view)


@bp.get("/finance/rates")
@permission_required("finance.view")
def finance_rates() -> Any:
    return _rates_page()


def _rates_page(errors: dict[str, str] | None = None, form: Any = None) -> Any:
    codes = ["programme"] if not scope().limited else []
    codes += [
        c
        for (c,) in db.session.query(Provider.code).order_by(Provider.code)
        if not scope().limited or c == scope().provider_code
    ]
    histories = [rates.history(db_session(), c) for c in codes]
    if request.args.get("format") == "csv" and not errors:
        return csv_response(
            "rates.csv",
            ["provider", "effective_from", "issue_cost", "redemption_rate", "set_by", "set_at"],
            (
                [h["provider"], r["effective_from"], r["issue_cost"], r["redemption_rate"], r["set_by"], r["set_at"]]
                for h in histories
                for r in h["history"]
            ),
        )
    return render_template("admin/finance_rates.html", histories=histories, errors=errors or {}, form=form or {}), (
        422 if errors else 200
    )


@bp.post("/finance/rates")
@permission_required("finance.rates")
def finance_set_rates() -> Any:
    f = request.form
    errors: dict[str, str] = {}
    values: dict[str, int] = {}
    for name in ("issue_cost", "redemption_rate"):
        try:
            values[name] = int(f.get(name, "").replace(",", "").strip())
        except ValueError:
            errors[name] = "a whole number of VND per point"
    if not errors:
        try:
            rates.set_rates(
                db_session(),
                f.get("provider", ""),
                values["issue_cost"],
                values["redemption_rate"],
                effective_from=f.get("from") or None,
                actor=current_user.email,
            )
        except DomainError as err:
            db.session.rollback()
            errors = {x.path: x.reason for x in err.fields} or {"provider": err.message}
    if errors:
        return _rates_page(errors, f)
    db.session.commit()
    flash(_("Rates of %(provider)s set.", provider=f.get("provider")), "success")
    return redirect(url_for("admin.finance_rates"))


@bp.post("/finance/close")
@permission_required("finance.close")
def finance_close() -> Any:
    period = request.form.get("period", "")
    try:
        periods.close(db_session(), period, actor=current_user.email)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("admin.finance", period=period or None))
    db.session.commit()
    flash(_("%(period)s closed: its statements are stored and will not change.", period=period), "success")
    return redirect(url_for("admin.finance", period=period))
