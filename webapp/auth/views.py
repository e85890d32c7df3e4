"""Sign-in with lock-out, sign-out, password change, personal API tokens (shown once)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from campaigns.access import oidc, signin, users
from campaigns.errors import DomainError
from campaigns.models import StaffUser

from ..api.auth import forget_cached_keys
from ..extensions import db, db_session, settings
from ..ratelimit import RateLimited, client_ip, hit
from ..security import StaffSession, mark_login, permission_required, public
from . import bp

log = logging.getLogger(__name__)
LOGIN_WINDOW = 900  # seconds; LOYALTY_LOGIN_RATE_PER_IP attempts per window


def safe_next(target: str | None) -> str:
    """Only same-site paths: never an open redirect."""
    if not target:
        return url_for("admin.dashboard")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("admin.dashboard")
    return target


def _login_page(email: str, error: str | None) -> dict[str, Any]:
    conf = settings()
    organisation = conf.oidc_name or (urlsplit(conf.oidc_issuer or "").hostname or _("your organisation"))
    return {
        "email": email,
        "error": error,
        "next": request.args.get("next", ""),
        "sso_name": organisation if conf.oidc_enabled else None,
        "local_login": conf.local_login or conf.ldap_enabled,
        "ldap": conf.ldap_enabled,
    }


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Any:
    if current_user.is_authenticated and request.method == "GET":
        return redirect(safe_next(request.args.get("next")))
    email = ""
    error = None
    status = 200
    headers: dict[str, str] = {}
    if request.method == "POST":
        email = request.form.get("email", "")[:254]
        try:  # before the password hash is computed: a flood from one address costs no argon2 time
            hit("login-ip", client_ip(), settings().login_rate_per_ip, LOGIN_WINDOW)
        except RateLimited as err:
            error = _(
                "Too many sign-in attempts from your address; try again in %(seconds)s seconds.",
                seconds=err.retry_after,
            )
            page = render_template("auth/login.html", **_login_page(email, error))
            return page, 429, {"Retry-After": str(err.retry_after)}
        result = signin.password_sign_in(db_session(), settings(), email, request.form.get("password", "")[:1024])
        db.session.commit()
        if result.user is not None:
            session.clear()
            mark_login()
            provider_code = signin.provider_code(db_session(), result.user)
            login_user(StaffSession(result.user, provider_code))
            log.info("staff sign-in: user %s", result.user.id)
            return redirect(safe_next(request.form.get("next") or request.args.get("next")))
        status = 401
        if result.error == "locked":
            error = _(
                "Too many failed attempts: this account is locked for %(minutes)s minutes. "
                "An administrator can unlock it sooner.",
                minutes=users.LOCK_MINUTES,
            )
            status = 429
            headers["Retry-After"] = str(users.LOCK_MINUTES * 60)
        elif result.error == "local_disabled":
            error = _("Password sign-in is switched off: use your organisation's sign-in.")
            status = 403
        elif result.error == "no_group":
            error = _("Your directory account is in no group that gives access to the loyalty console.")
            status = 403
        elif result.error and result.error.startswith("misconfigured"):
            where = result.error.removeprefix("misconfigured: ")
            error = _("Directory sign-in is misconfigured (%(where)s); an administrator must fix it.", where=where)
            status = 500
        elif result.error == "unreachable":
            error = _("The directory cannot be reached; try again shortly.")
            status = 503
        else:
            error = _("That e-mail and password do not match an active account.")
    return (
        render_template("auth/login.html", **_login_page(email, error)),
        status,
        headers,
    )


@bp.post("/logout")
@permission_required("account.self")
def logout() -> Any:
    """Ends our session; a single-sign-on session is then ended at the provider too (RP-initiated logout)."""
    id_token = session.get("oidc_id_token")
    session_was_sso = bool(session.get("oidc"))
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    conf = settings()
    if session_was_sso and conf.oidc_enabled:
        url = oidc.logout_url(conf, id_token, url_for("auth.login", _external=True))
        if url:
            return redirect(url)
    return redirect(url_for("auth.login"))


def _me() -> StaffUser:
    user = db.session.get(StaffUser, current_user.id)
    assert user is not None
    return user


@bp.route("/password", methods=["GET", "POST"])
@permission_required("account.self")
def password() -> Any:
    errors: dict[str, str] = {}
    if request.method == "POST":
        new = request.form.get("new_password", "")
        if new != request.form.get("confirm_password", ""):
            errors["confirm_password"] = _("does not match the new password")
        else:
            user = _me()
            try:
                users.change_password(db_session(), user, request.form.get("current_password", ""), new)
            except DomainError as err:
                db.session.rollback()
                errors = {f.path: f.reason for f in err.fields}
            else:
                db.session.commit()
                forget_cached_keys()
                login_user(StaffSession(user, current_user.provider_code))  # this session goes on, others end
                flash(_("Your password was changed. Other sessions were signed out."), "success")
                return redirect(url_for("auth.password"))
    return render_template("auth/password.html", errors=errors), 422 if errors else 200


@bp.post("/language")
@permission_required("account.self")
def language() -> Any:
    """The console's language for the signed-in user (empty: the programme's default)."""
    try:
        users.set_language(db_session(), _me(), request.form.get("language", "")[:8], actor=current_user.email)
    except DomainError as err:
        db.session.rollback()
        reason = err.fields[0].reason if err.fields else err.message
        return render_template("error.html", status=422, message=_("Language: %(reason)s", reason=reason)), 422
    db.session.commit()
    return redirect(safe_next(request.form.get("next")))


@bp.route("/tokens", methods=["GET", "POST"])
@permission_required("account.self")
def tokens() -> Any:
    new_key = None
    error = None
    if request.method == "POST":
        try:
            new_key = users.create_token(db_session(), _me(), request.form.get("name", ""))
            db.session.commit()
        except DomainError as err:
            db.session.rollback()
            error = err.fields[0].reason if err.fields else err.message
    rows = users.tokens_of(db_session(), current_user.id)
    return (
        render_template("auth/tokens.html", tokens=rows, new_key=new_key, error=error),
        422 if error else 200,
    )


@bp.post("/tokens/<int:token_id>/revoke")
@permission_required("account.self")
def revoke_token(token_id: int) -> Any:
    try:
        users.revoke_token(db_session(), _me(), token_id)
    except DomainError:
        db.session.rollback()
        return render_template("error.html", status=404, message=_("No such token of yours.")), 404
    db.session.commit()
    forget_cached_keys()
    flash(_("Token revoked."), "success")
    return redirect(url_for("auth.tokens"))
