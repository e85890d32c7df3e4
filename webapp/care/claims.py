"""Missing-points claims: the queue, filing on a customer's behalf, the claim page with the 360, transitions.

A provider user sees and works only its own provider's queue (other claims answer 404).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from campaigns import i18n
from campaigns.accounts import adjustments
from campaigns.accounts import profile as customers
from campaigns.care import alerts, claims
from campaigns.errors import DomainError
from campaigns.models import Provider
from campaigns.privacy import masking

from ..extensions import db, db_session, settings
from ..i18n import language
from ..security import permission_required, scope
from . import bp

STATE_FILTERS = ("live", *claims.STATES, "all")
CUSTOMER_KINDS = ("phone", "national_id", "id")
ACTIONS = ("assign", "investigate", "resolve", "reject", "match")


def _providers() -> list[tuple[str, str]]:
    return [(c, n) for c, n in db.session.execute(select(Provider.code, Provider.name).order_by(Provider.name))]


def _care_limit() -> int:
    return int(settings().care_adjustment_limit)


def _errors(err: DomainError, default: str) -> dict[str, str]:
    return {f.path: f.reason for f in err.fields} or {default: err.message.split(": ", 1)[-1]}


def _queue_page(form: Any = None, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    state = request.args.get("state", "live")
    state = state if state in STATE_FILTERS else "live"
    provider = request.args.get("provider", "")
    overdue = request.args.get("overdue") == "1"
    rows = claims.list_claims(
        db_session(), scope(), state=None if state == "all" else state, provider=provider or None, overdue=overdue
    )
    return (
        render_template(
            "care/claims.html",
            rows=rows,
            counts=claims.counts(db_session(), scope()),
            state=state,
            provider=provider,
            overdue=overdue,
            filters=STATE_FILTERS,
            providers=_providers(),
            kinds=CUSTOMER_KINDS,
            escalation=alerts.ESCALATION,
            form=form or {},
            errors=errors or {},
        ),
        status,
    )


@bp.get("/claims")
@permission_required("care.view")
def claims_queue() -> Any:
    return _queue_page()


@bp.post("/claims")
@permission_required("claims.work")
def claim_file() -> Any:
    """A care agent files a claim for the customer (from the queue or the customer 360 page)."""
    f = request.form
    kind = f.get("customer_kind", "phone")
    kind = kind if kind in CUSTOMER_KINDS else "phone"
    try:
        cid = customers.find(db_session(), kind, f.get("customer", "")[:64])
    except DomainError:
        return _queue_page(f, {"customer": _("no customer found with this value")}, 422)
    data = {k: f.get(k, "") for k in ("transaction_ref", "provider", "occurred_on", "amount", "description")}
    if scope().limited:
        data["provider"] = scope().provider_code or ""
    try:
        claim = claims.file(db_session(), cid, data, channel="care", actor=current_user.email)
    except DomainError as err:
        db.session.rollback()
        return _queue_page(f, _errors(err, "transaction_ref"), 422)
    db.session.commit()
    flash(_("Claim #%(id)s filed for customer #%(customer)s.", id=claim.id, customer=cid), "success")
    return redirect(url_for("care.claim_detail", claim_id=claim.id))


def _detail_page(
    claim_id: int, action: str | None = None, form: Any = None, errors: dict[str, str] | None = None
) -> Any:
    try:
        claim = claims.get(db_session(), claim_id, scope())
    except DomainError:
        abort(404)
    try:
        view = masking.for_role(
            customers.staff_profile(db_session(), claim.customer_id, scope(), limit=20), current_user.role
        )
    except DomainError:  # a provider user and a customer who never dealt with it: the claim alone
        view = None
    alert = claims.live_alert(db_session(), claim.id)
    return (
        render_template(
            "care/claim.html",
            c=claim,
            v=view,
            queue=claims.provider_code(db_session(), claim.provider_id),
            suggested=claims.provider_code(db_session(), claims.responsible_provider(db_session(), claim)),
            candidates=claims.candidates(db_session(), claim, scope()),
            events=claims.history(db_session(), claim.id),
            alert=alert,
            escalated_to=alerts.ESCALATION[alert.escalation] if alert else None,
            providers=_providers(),
            limit=adjustments.limit_for(current_user.role, _care_limit()),
            action=action,
            form=form or {},
            errors=errors or {},
        ),
        422 if errors else 200,
    )


@bp.get("/claims/<int:claim_id>")
@permission_required("care.view")
def claim_detail(claim_id: int) -> Any:
    return _detail_page(claim_id)


@bp.post("/claims/<int:claim_id>/<action>")
@permission_required("claims.work")
def claim_act(claim_id: int, action: str) -> Any:
    """One transition; a refused one shows the claim again with the reason next to the field."""
    if action not in ACTIONS:
        abort(404)
    f, actor, sc = request.form, current_user.email, scope()
    try:
        if action == "assign":
            claims.assign(db_session(), claim_id, sc, actor, f.get("queue") or None, f.get("note", ""))
            message = _("Claim #%(id)s assigned.", id=claim_id)
        elif action == "investigate":
            claims.investigate(db_session(), claim_id, sc, actor, f.get("note", ""))
            message = _("You are investigating claim #%(id)s.", id=claim_id)
        elif action == "reject":
            claims.reject(db_session(), claim_id, sc, actor, f.get("reason", ""))
            message = _("Claim #%(id)s rejected; the customer is told why by SMS.", id=claim_id)
        elif action == "resolve":
            raw = f.get("points", "").strip().replace(",", "")
            if not raw.lstrip("-").isdigit():
                return _detail_page(claim_id, action, f, {"points": _("must be a whole number of points, e.g. 150")})
            claim = claims.resolve(
                db_session(),
                claim_id,
                sc,
                actor,
                role=current_user.role,
                points=int(raw),
                reason=f.get("reason", ""),
                care_limit=_care_limit(),
            )
            message = _(
                "Claim #%(id)s resolved: %(points)s points credited; the customer is told by SMS.",
                id=claim_id,
                points=i18n.number(claim.points or 0, language()),
            )
        else:
            raw = f.get("transaction_id", "").strip().lstrip("#")
            if not raw.isdigit():
                return _detail_page(claim_id, action, f, {"transaction_id": _("choose a transaction")})
            claim = claims.match(db_session(), claim_id, sc, actor, int(raw))
            message = (
                _("Claim #%(id)s resolved: %(resolution)s.", id=claim_id, resolution=claim.resolution)
                if claim.status == "resolved"
                else _("Claim #%(id)s now waits for transaction %(txn)s to be credited.", id=claim_id, txn=raw)
            )
    except DomainError as err:
        db.session.rollback()
        if err.status == 404:
            abort(404)
        if err.code == "claim_state":
            flash(err.message, "error")
            return redirect(url_for("care.claim_detail", claim_id=claim_id))
        default = {"resolve": "points", "reject": "reason", "match": "transaction_id", "assign": "queue"}
        return _detail_page(claim_id, action, f, _errors(err, default.get(action, "note")))
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("care.claim_detail", claim_id=claim_id))
