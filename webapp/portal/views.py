"""Portal pages. The customer's sign-in lives under its own session key (``portal``), apart from flask-login's
staff sign-in, so one browser can hold either without the two ever mixing."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from flask import current_app, flash, g, jsonify, redirect, render_template, request, session, url_for

from campaigns.accounts import rewards
from campaigns.channels import portal
from campaigns.channels.keywords import redeem_error_text
from campaigns.consent import consents
from campaigns.customers import numbers
from campaigns.errors import DomainError
from campaigns.i18n import reason_sentence, translate
from campaigns.models import Customer, Reward
from campaigns.notify import messages
from campaigns.privacy import erasure, export

from ..extensions import db, db_session, dispatcher
from ..ratelimit import OTP_PER_IP, OTP_PER_PHONE, VERIFY_PER_IP, RateLimited, client_ip, hit
from . import bp
from .i18n import TEXT

SESSION_KEY = "portal"
LIFETIME = 8 * 3600


def _lang() -> str:
    return g.get("portal_lang") or messages.language_of(session.get("portal_lang"))


def tr(key: str, **values: Any) -> str:
    return translate(_lang(), TEXT[key], **values)


@bp.context_processor
def _inject() -> dict[str, Any]:
    return {"t": tr, "lang": _lang()}


def _customer_id() -> int | None:
    """The signed-in customer while the phone signed in through is still theirs (a release ends it at once)."""
    data = session.get(SESSION_KEY)
    if not isinstance(data, dict) or time.time() - float(data.get("at", 0)) > LIFETIME:
        return None
    cid = int(data["cid"])
    return cid if numbers.signed_in_through(db_session(), cid, data.get("phone")) else None


def customer_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        cid = _customer_id()
        if cid is None:
            session.pop(SESSION_KEY, None)
            return redirect(url_for("portal.login"))
        customer = db.session.get(Customer, cid)
        if customer is None:
            session.pop(SESSION_KEY, None)
            return redirect(url_for("portal.login"))
        g.customer = customer
        g.portal_lang = messages.language_of(customer.language)
        return view(*args, **kwargs)

    return wrapper


def _limited(err: RateLimited, template: str, **ctx: Any) -> Any:
    resp = current_app.make_response(
        (render_template(template, error=tr("rate_limited", seconds=err.retry_after), **ctx), 429)
    )
    resp.headers["Retry-After"] = str(err.retry_after)
    return resp


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.args.get("lang") in messages.LANGUAGES:
        session["portal_lang"] = request.args["lang"]
    if request.method == "GET":
        if _customer_id() is not None:
            return redirect(url_for("portal.home"))
        return render_template("portal/login.html", phone="", error=None)
    raw = request.form.get("phone", "")[:32]
    try:
        phone = portal.phone_or_error(raw)
    except DomainError:
        return render_template("portal/login.html", phone=raw, error=tr("bad_phone")), 422
    try:
        hit("otp-ip", client_ip(), *OTP_PER_IP)
        hit("otp-phone", phone, *OTP_PER_PHONE)
    except RateLimited as err:
        return _limited(err, "portal/login.html", phone=raw)
    try:
        cid = portal.request_code(db_session(), phone, pepper=current_app.config["SECRET_KEY"])
    except DomainError as err:
        db.session.rollback()
        if err.code != numbers.QUARANTINED:
            raise
        return render_template("portal/login.html", phone=raw, error=tr("number_quarantined")), 422
    db.session.commit()
    if cid is not None:
        dispatcher().schedule_notify()
    session["portal_phone"] = phone  # the same page follows for members and strangers alike
    return redirect(url_for("portal.verify"))


@bp.route("/verify", methods=["GET", "POST"])
def verify() -> Any:
    phone = session.get("portal_phone")
    if not phone:
        return redirect(url_for("portal.login"))
    if request.method == "GET":
        return render_template("portal/verify.html", phone=phone, error=None)
    try:
        hit("verify-ip", client_ip(), *VERIFY_PER_IP)
    except RateLimited as err:
        return _limited(err, "portal/verify.html", phone=phone)
    try:
        cid = portal.verify_code(
            db_session(), phone, request.form.get("code", "")[:16], pepper=current_app.config["SECRET_KEY"]
        )
    except DomainError as err:
        db.session.commit()  # the attempt is counted
        message = tr("too_many") if err.code == "too_many_attempts" else tr("wrong_code")
        return render_template("portal/verify.html", phone=phone, error=message), err.status
    db.session.commit()
    session.pop("portal_phone", None)
    session[SESSION_KEY] = {"cid": cid, "phone": phone, "at": int(time.time())}
    session.permanent = True
    return redirect(url_for("portal.home"))


@bp.post("/logout")
@customer_required
def logout() -> Any:
    session.pop(SESSION_KEY, None)
    return redirect(url_for("portal.login"))


@bp.post("/language")
@customer_required
def language() -> Any:
    g.customer.language = "en" if g.customer.language == "vi" else "vi"
    db.session.commit()
    return redirect(url_for("portal.home"))


@bp.get("/")
@customer_required
def home() -> Any:
    cid = g.customer.id
    view = portal.home(db_session(), cid)
    offered = portal.rewards_for(db_session(), cid)
    activity = portal.activity(db_session(), cid, limit=10)
    for a in activity:
        own = a["provider"] if a["kind"] == "points" else None
        kind = f"kind_{a['kind']}"
        a["label"] = own or (tr(kind) if kind in TEXT else None) or a["provider"] or a["kind"]
        if a["campaign"]:  # what it was for, in the customer's language, and where
            a["label"] = " · ".join(x for x in (a["campaign"], a["provider"]) if x)
    return render_template(
        "portal/home.html",
        v=view,
        activity=activity,
        rewards=[r for r in offered if r["affordable"]],
        vouchers=portal.vouchers(db_session(), cid),
        claims=portal.claims_of(db_session(), cid),
        erasure_open=erasure.open_request(db_session(), cid),
    )


@bp.route("/rewards/<code>/redeem", methods=["GET", "POST"])
@customer_required
def redeem(code: str) -> Any:
    cid = g.customer.id
    offer = next((r for r in portal.rewards_for(db_session(), cid) if r["code"] == code), None)
    if offer is None:
        return render_template("error.html", status=404, message="—"), 404
    balance = portal.home(db_session(), cid)["balance"]
    if request.method == "POST":
        try:
            view, _ = rewards.redeem(
                db_session(),
                cid,
                code,
                requested_by="portal",
                idempotency_key=(request.form.get("nonce") or None),
                through_phones=[session[SESSION_KEY]["phone"]],
            )
        except DomainError as err:
            db.session.rollback()

            reward = db.session.scalar(db.select(Reward).where(Reward.code == code))
            flash(redeem_error_text(err, reward, _lang(), balance), "error")
            return redirect(url_for("portal.home"))
        db.session.commit()
        dispatcher().schedule_notify()
        flash(tr("redeemed", voucher=view["voucher_code"]), "success")
        return redirect(url_for("portal.home") + "#vouchers")
    import secrets

    return render_template("portal/confirm.html", r=offer, after=balance - offer["cost"], nonce=secrets.token_hex(16))


@bp.route("/claims", methods=["GET", "POST"])
@customer_required
def claims() -> Any:
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            claim = portal.create_claim(db_session(), g.customer.id, request.form.to_dict(), channel="portal")
        except DomainError as err:
            db.session.rollback()
            errors = {f.path: reason_sentence(_lang(), f.reason) for f in err.fields}
        else:
            db.session.commit()
            flash(tr("claim_sent", id=claim.id), "success")
            return redirect(url_for("portal.home") + "#claims")
    return (
        render_template(
            "portal/claim.html", form=request.form, errors=errors, providers=portal.providers(db_session())
        ),
        422 if errors else 200,
    )


@bp.get("/my-data.json")
@customer_required
def my_data() -> Any:
    """Access and portability: the same document as ``GET /api/v1/me/export``."""
    resp = jsonify(export.document(db_session(), g.customer.id))
    resp.headers["Content-Disposition"] = 'attachment; filename="my-data.json"'
    return resp


@bp.post("/erasure")
@customer_required
def erasure_request() -> Any:
    """The person asks to be erased: a case due within the legal deadline, which an admin approves."""
    req, created = erasure.request(
        db_session(),
        g.customer.id,
        "the person asked through the portal",
        actor=f"customer:{g.customer.id}",
        source="portal",
    )
    db.session.commit()
    date = messages.day(req.due_at, _lang())
    flash(tr("erase_sent" if created else "erase_pending", id=req.id, date=date), "success")
    return redirect(url_for("portal.home") + "#my-data")


@bp.route("/consents", methods=["GET", "POST"])
@customer_required
def consent_page() -> Any:
    """The member's consents: each purpose's text and state, a grant/withdraw button, the printable history."""
    cid = g.customer.id
    errors: dict[str, str] = {}
    if request.method == "POST":
        body = {
            "purpose": request.form.get("purpose"),
            "granted": {"1": True, "0": False}.get(request.form.get("granted", "")),
        }
        try:
            consents.record_request(db_session(), cid, body, channel="portal", actor=f"customer:{cid}")
        except DomainError as err:
            db.session.rollback()
            errors = {f.path: f.reason for f in err.fields}
        else:
            db.session.commit()
            flash(tr("consent_saved"), "success")
            return redirect(url_for("portal.consent_page"))
    view = consents.view(db_session(), cid)
    return render_template("portal/consents.html", v=view, errors=errors), 422 if errors else 200


@bp.route("/send", methods=["GET", "POST"])
@customer_required
def send_points() -> Any:
    """Send points to another member; the same service, limits and SIM-swap hold as the API."""
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST":
        form = request.form
        points = form.get("points", "").strip()
        data = {
            "to": {"phone": form.get("to", "")},
            "points": int(points) if points.isdigit() and len(points) < 13 else points,
            "idempotency_key": form.get("nonce") or None,
        }
        try:
            view, _ = portal.send_points(
                db_session(), g.customer.id, data, channel="portal", through_phone=session[SESSION_KEY]["phone"]
            )
        except DomainError as err:
            db.session.rollback()
            errors = {("to" if f.path.startswith("to") else f.path): f.reason for f in err.fields}
            if not errors:
                errors = {"points" if err.code != "not_found" else "to": err.message}
            status = err.status
        else:
            db.session.commit()
            lang = _lang()
            points, balance = messages.number(int(view["points"]), lang), messages.number(int(view["balance"]), lang)
            flash(tr("sent", points=points, balance=balance), "success")
            return redirect(url_for("portal.home"))
    import secrets

    fee = portal.transfer_fee(db_session())
    return (
        render_template("portal/send.html", form=request.form, errors=errors, fee=fee, nonce=secrets.token_hex(16)),
        status,
    )
