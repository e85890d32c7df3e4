"""Clearing: provider rates, settlement statements (JSON or CSV), the liability roll-forward, closing a month."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from campaigns.clearing import periods, rates
from campaigns.errors import invalid, not_found

from ..extensions import db, db_session
from ..replica import read_session
from . import bp
from .auth import principal, require, scope_provider_id
from .util import read_json, require_object


def _own_code(code: str) -> None:
    """A provider key (or staff scoped to a provider) sees only its own rates (others are 'not found')."""
    p = principal()
    if p.provider_id is not None and p.provider_code != code:
        raise not_found(f"provider '{code}'")


@bp.get("/providers/<code>/rates")
@require("provider", "staff", action="finance.view")
def provider_rates(code: str) -> Any:
    _own_code(code)
    return rates.history(db_session(), code)


@bp.put("/providers/<code>/rates")
@require("staff", action="finance.rates")
def set_provider_rates(code: str) -> Any:
    body = require_object(read_json())
    rates.set_rates(
        db_session(),
        code,
        body.get("issue_cost"),
        body.get("redemption_rate"),
        effective_from=body.get("from"),
        actor=principal().name,
    )
    db.session.commit()
    return rates.history(db_session(), code)


def _wants_csv() -> bool:
    fmt = request.args.get("format")
    if fmt is not None and fmt not in ("csv", "json"):
        raise invalid("format", "must be csv or json (or send Accept: text/csv)")
    if fmt is not None:
        return fmt == "csv"
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv" and request.accept_mimetypes["text/csv"] > request.accept_mimetypes["application/json"]


@bp.get("/settlement/statements/<period>")
@require("provider", "staff", action="finance.view")
def settlement_statement(period: str) -> Any:
    view = periods.statement(read_session(), period, provider_id=scope_provider_id())
    if _wants_csv():
        return Response(
            periods.as_csv(view),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="statement-{period}.csv"'},
        )
    return view


@bp.get("/settlement/liability")
@require("staff", action="finance.view")
def settlement_liability() -> Any:
    return periods.liability(read_session(), request.args.get("as_of"))


@bp.post("/settlement/periods/<period>/close")
@require("staff", action="finance.close")
def close_period(period: str) -> Any:
    view = periods.close(db_session(), period, actor=principal().name)
    db.session.commit()
    return view, 201


@bp.get("/settlement/statements/<period>/entries")
@require("provider", "staff", action="finance.view")
def settlement_entries(period: str) -> Any:
    """The ledger lines behind one figure: ``?party=CODE&kind=issued|clawed_back|redeemed|...`` (JSON or CSV)."""
    view = periods.entries(
        read_session(), period, request.args.get("party", ""), request.args.get("kind", ""), scope_provider_id()
    )
    if _wants_csv():
        return Response(
            periods.entries_csv(view),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="entries-{period}-{view["party"]}.csv"'},
        )
    return view
