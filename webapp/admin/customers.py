"""Customer 360: find, view (scoped), manual adjustments, ledger export."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from campaigns import i18n
from campaigns.accounts import adjustments, transfers
from campaigns.accounts import profile as customers
from campaigns.care import claims
from campaigns.consent import consents
from campaigns.customers import merge
from campaigns.errors import DomainError
from campaigns.models import Customer, CustomerMerge, ErasureRequest, Provider
from campaigns.privacy import erasure, export, masking

from ..extensions import db, db_session, settings
from ..i18n import csv_time, language
from ..replica import read_session
from ..security import permission_required, scope
from . import bp
from .util import csv_response, html_error

KINDS = ("phone", "national_id", "id")


@bp.get("/customers")
@permission_required("customers.view")
def customers_search() -> Any:
    q = request.args.get("q", "").strip()[:64]
    kind = request.args.get("kind", "phone")
    kind = kind if kind in KINDS else "phone"
    if not q:
        return render_template("admin/customers.html", q=q, kind=kind, missing=False)
    try:
        cid = customers.find(db_session(), kind, q)
        customers.profile(db_session(), cid, provider_id=scope().provider_id, limit=1)  # in scope?
    except DomainError:
        return render_template("admin/customers.html", q=q, kind=kind, missing=True), 404
    return redirect(url_for("admin.customer", customer_id=cid))


def _care_limit() -> int:
    return int(settings().care_adjustment_limit)


@bp.get("/customers/<int:customer_id>")
@permission_required("customers.view")
def customer(customer_id: int) -> Any:
    try:
        view = customers.staff_profile(db_session(), customer_id, scope())
    except DomainError as err:
        return html_error(err)
    return _page(view)


def _page(
    view: dict[str, Any],
    form: Any = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
    revealed: dict[str, Any] | None = None,
) -> Any:
    """The 360 view; merges are shown to those who may merge (no other provider's data leaks through them).
    Consents and the identity history are shown to whoever sees the customer. Numbers are masked for roles that
    do not need them, unless this page answers an audited reveal."""
    view = masking.for_role(view, current_user.role) if revealed is None else {**view, **revealed}
    merges = merge.merges_of(db_session(), view["id"]) if current_user.can("customers.merge") else []
    merged_into = db.session.scalar(select(Customer.merged_into).where(Customer.id == view["id"]))
    return (
        render_template(
            "admin/customer.html",
            v=view,
            limit=adjustments.limit_for(current_user.role, _care_limit()),
            form=form or {},
            errors=errors or {},
            merges=merges,
            merged_into=merged_into,
            consents=consents.view(db_session(), view["id"]),
            kinds=KINDS,
            claims=claims.for_customer(db_session(), view["id"], scope()) if current_user.can("care.view") else [],
            claim_providers=[(p.code, p.name) for p in db.session.scalars(select(Provider).order_by(Provider.name))],
            revealed=revealed is not None,
            erased=erasure.erased(db_session(), view["id"]),
            erasure_open=erasure.open_request(db_session(), view["id"])
            if current_user.can("customers.erase")
            else None,
        ),
        status,
    )


@bp.post("/customers/<int:customer_id>/adjustments")
@permission_required("customers.adjust")
def adjust_customer(customer_id: int) -> Any:
    raw = request.form.get("points", "").strip().replace(",", "")
    errors: dict[str, str] = {}
    try:
        points = int(raw)
    except ValueError:
        points = 0
        errors["points"] = _("must be a whole number, e.g. 500 or -200")
    if not errors:
        try:
            entry = adjustments.adjust(
                db_session(),
                customer_id,
                points,
                request.form.get("reason", ""),
                actor=current_user.email,
                role=current_user.role,
                care_limit=_care_limit(),
                funder=request.form.get("funder", "").strip() or None,
            )
        except DomainError as err:
            db.session.rollback()
            if err.status == 404:
                return html_error(err)
            errors = {f.path: f.reason for f in err.fields} or {"points": err.message.split(": ", 1)[-1]}
        else:
            db.session.commit()
            sign = "+" if entry.points > 0 else ""
            flash(_("Adjusted by %(points)s points.", points=sign + _n(entry.points)), "success")
            return redirect(url_for("admin.customer", customer_id=customer_id))
    try:
        view = customers.staff_profile(db_session(), customer_id, scope())
    except DomainError as err:
        return html_error(err)
    return _page(view, request.form, errors, 422)


@bp.post("/customers/<int:customer_id>/transfers/<int:transfer_id>/reverse")
@permission_required("customers.adjust")
def reverse_transfer(customer_id: int, transfer_id: int) -> Any:
    """Undo a point transfer from the 360 (the service audits it); a provider user only its own provider's."""
    try:
        transfers.get_transfer(db_session(), transfer_id, scope().provider_id)
        view = transfers.reverse(db_session(), transfer_id, actor=current_user.email)
    except DomainError as err:
        db.session.rollback()
        if err.status == 404:
            return html_error(err)
        flash(err.message, "error")
    else:
        db.session.commit()
        flash(
            _(
                "Transfer %(id)s reversed: %(points)s points back to the sender.",
                id=view["id"],
                points=_n(view["points"]),
            ),
            "success",
        )
    return redirect(url_for("admin.customer", customer_id=customer_id) + "#transfers-h")


@bp.post("/customers/<int:customer_id>/merge")
@permission_required("customers.merge")
def merge_customer(customer_id: int) -> Any:
    """Merge another customer (found by phone, national ID or id) into this one."""
    f = request.form
    errors: dict[str, str] = {}
    kind = f.get("merge_kind", "id") if f.get("merge_kind") in KINDS else "id"
    other = None
    try:
        other = customers.find(db_session(), kind, f.get("merge_q", "").strip()[:64])
    except DomainError:
        errors["merge_q"] = _("no customer found with this value")
    if other is not None:
        try:
            record = merge.merge(db_session(), customer_id, other, f.get("merge_reason", ""), actor=current_user.email)
        except DomainError as err:
            db.session.rollback()
            if err.status == 404:
                return html_error(err)
            for x in err.fields:
                errors["merge_reason" if x.path == "reason" else "merge_q"] = x.reason
            errors = errors or {"merge_q": err.message}
        else:
            db.session.commit()
            m = record.moved
            flash(
                _(
                    "Customer #%(other)s merged into #%(id)s: %(identities)s identities, %(entries)s ledger entries, "
                    "%(transactions)s transactions moved.",
                    other=other,
                    id=customer_id,
                    identities=len(m["identities"]),
                    entries=len(m["ledger_entries"]),
                    transactions=len(m["transactions"]),
                ),
                "success",
            )
            return redirect(url_for("admin.customer", customer_id=customer_id))
    try:
        view = customers.staff_profile(db_session(), customer_id, scope())
    except DomainError as err:
        return html_error(err)
    return _page(view, f, errors, 422)


@bp.post("/merges/<int:merge_id>/undo")
@permission_required("customers.unmerge")
def unmerge_customer(merge_id: int) -> Any:
    record = db.session.get(CustomerMerge, merge_id)
    if record is None:
        return render_template("error.html", status=404, message=_("No such merge.")), 404
    try:
        merge.unmerge(db_session(), merge_id, actor=current_user.email)
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("admin.customer", customer_id=record.survivor_id))
    db.session.commit()
    flash(
        _(
            "Merge reversed: customer #%(id)s has its identities, points and history back.",
            id=record.merged_id,
        ),
        "success",
    )
    return redirect(url_for("admin.customer", customer_id=record.survivor_id))


@bp.get("/customers/<int:customer_id>/ledger.csv")
@permission_required("customers.export")
def customer_ledger_csv(customer_id: int) -> Any:
    try:
        rows = customers.ledger_rows(read_session(), customer_id, scope())
    except DomainError as err:
        return html_error(err)
    header = ["id", "created_at", "kind", "points", "pending", "qualifying", "debt", "transaction_id", "campaign_id"]
    header += ["rule", "note"]
    return csv_response(
        f"customer-{customer_id}-ledger.csv",
        header,
        (
            [
                e.id,
                csv_time(e.created_at),
                e.kind,
                e.points,
                e.pending,
                e.qualifying,
                e.debt,
                e.transaction_id or "",
                e.campaign_id or "",
                e.rule_name or "",
                e.note or "",
            ]
            for e in rows
        ),
    )


@bp.get("/customers/<int:customer_id>/transactions.csv")
@permission_required("customers.export")
def customer_transactions_csv(customer_id: int) -> Any:
    try:
        customers.profile(read_session(), customer_id, provider_id=scope().provider_id, limit=1)  # 404 out of scope
    except DomainError as err:
        return html_error(err)
    rows = customers.transaction_rows(read_session(), customer_id, scope(), limit=100_000)
    header = ["id", "provider", "provider_txn_id", "event_type", "category", "channel", "amount", "currency"]
    header += ["status", "occurred_at", "received_at", "points"]
    return csv_response(
        f"customer-{customer_id}-transactions.csv",
        header,
        (
            [
                t["id"],
                t["provider"],
                t["provider_txn_id"],
                t["event_type"],
                t["category"] or "",
                t["channel"] or "",
                t["amount"],
                t["currency"],
                t["status"],
                csv_time(t["occurred_at"]),
                csv_time(t["received_at"]),
                t["points"],
            ]
            for t in rows
        ),
    )


# -- the person's rights (campaigns/privacy) --------------------------------------------------------------------


def _first_reason(err: DomainError) -> str:
    return err.fields[0].reason if err.fields else err.message


@bp.get("/customers/<int:customer_id>/personal-data.json")
@permission_required("customers.personal_export", programme_wide=True)
def customer_personal_data(customer_id: int) -> Any:
    """Everything held about the person, as the customer would get it (audited)."""
    try:
        doc = export.staff_document(db_session(), customer_id, actor=current_user.email, role=current_user.role)
    except DomainError as err:
        return html_error(err)
    db.session.commit()
    resp = jsonify(doc)
    resp.headers["Content-Disposition"] = f'attachment; filename="customer-{customer_id}-personal-data.json"'
    return resp


@bp.post("/customers/<int:customer_id>/reveal")
@permission_required("customers.reveal", programme_wide=True)
def reveal_customer(customer_id: int) -> Any:
    """The page once more, with the numbers in full: the stated reason goes to the audit log."""
    try:
        view = customers.staff_profile(db_session(), customer_id, scope())
    except DomainError as err:
        return html_error(err)
    try:
        shown = masking.reveal(
            db_session(),
            customer_id,
            actor=current_user.email,
            role=current_user.role,
            reason=request.form.get("reveal_reason", ""),
        )
    except DomainError as err:
        db.session.rollback()
        return _page(view, request.form, {"reveal_reason": _first_reason(err)}, 422)
    db.session.commit()
    return _page(view, revealed=shown)


@bp.post("/customers/<int:customer_id>/erasure")
@permission_required("customers.erase", programme_wide=True)
def request_erasure(customer_id: int) -> Any:
    """The first admin's signature; a different admin approves on the same page."""
    try:
        erasure.request(db_session(), customer_id, request.form.get("erase_reason", ""), actor=current_user.email)
    except DomainError as err:
        db.session.rollback()
        if err.status == 404:
            return html_error(err)
        try:
            view = customers.staff_profile(db_session(), customer_id, scope())
        except DomainError as missing:
            return html_error(missing)
        return _page(view, request.form, {"erase_reason": _first_reason(err)}, 422)
    db.session.commit()
    flash(_("Erasure requested: a different admin must approve it."), "success")
    return redirect(url_for("admin.customer", customer_id=customer_id))


@bp.post("/erasure-requests/<int:request_id>/approve")
@permission_required("customers.erase", programme_wide=True)
def approve_erasure(request_id: int) -> Any:
    req = db.session.get(ErasureRequest, request_id)
    if req is None:
        return render_template("error.html", status=404, message=_("No such erasure request.")), 404
    cid = req.customer_id
    try:
        done = erasure.approve(
            db_session(), request_id, actor=current_user.email, secret=str(current_app.config["SECRET_KEY"])
        )
    except DomainError as err:
        db.session.rollback()
        flash(err.message, "error")
        return redirect(url_for("admin.customer", customer_id=cid))
    db.session.commit()
    flash(
        _(
            "Customer #%(id)s erased: %(identities)s identities replaced by keyed hashes; the ledger stays.",
            id=cid,
            identities=done["identities"],
        ),
        "success",
    )
    return redirect(url_for("admin.customer", customer_id=cid))


@bp.post("/erasure-requests/<int:request_id>/reject")
@permission_required("customers.erase", programme_wide=True)
def reject_erasure(request_id: int) -> Any:
    req = db.session.get(ErasureRequest, request_id)
    if req is None:
        return render_template("error.html", status=404, message=_("No such erasure request.")), 404
    cid = req.customer_id
    try:
        erasure.reject(db_session(), request_id, actor=current_user.email, reason=request.form.get("reject_reason", ""))
    except DomainError as err:
        db.session.rollback()
        if err.status != 422:
            flash(err.message, "error")
            return redirect(url_for("admin.customer", customer_id=cid))
        try:
            view = customers.staff_profile(db_session(), cid, scope())
        except DomainError as missing:
            return html_error(missing)
        return _page(view, request.form, {"reject_reason": _first_reason(err)}, 422)
    db.session.commit()
    flash(_("Erasure request #%(id)s rejected; the customer's data stays.", id=request_id), "success")
    return redirect(url_for("admin.customer", customer_id=cid))


def _n(value: int) -> str:
    """A number in the page's language (``1.234`` in Vietnamese) for a message."""
    return i18n.number(value, language())
