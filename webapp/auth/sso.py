"""Sign-in through the organisation's OpenID Connect provider, and back out through it (RP-initiated logout).

The views only carry the browser between us and the provider; what a proven identity may do here is decided
by ``campaigns.access.sso`` (the same function the LDAP sign-in uses).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user

from campaigns.access import oidc, signin, sso
from campaigns.errors import DomainError
from campaigns.i18n import N_

from ..extensions import db, db_session, settings
from ..security import StaffSession, mark_login, public
from . import bp
from .views import safe_next

log = logging.getLogger(__name__)
PENDING = "oidc_pending"
ID_TOKEN = "oidc_id_token"
MAX_HINT = 2500  # characters; above, logout sends only client_id (allowed by RP-initiated logout)

REFUSALS = {
    "no_group": N_(
        "Your organisation account is not in any group that gives access to the loyalty console. "
        "Ask your manager to request the right group from the directory team."
    ),
    "inactive": N_("Your access to the loyalty console was deactivated by an administrator."),
    "conflict": N_(
        "A loyalty console account with your e-mail address already exists and signs in another way. "
        "Ask an administrator to sort it out."
    ),
    "unknown_provider": N_(
        "Your directory group names a provider this programme does not know. "
        "Ask an administrator to check the group mapping."
    ),
    "no_email": N_("Your organisation account has no e-mail address; ask the directory team to add one."),
}


def _failed(reason: str, message: str, status: int = 400) -> Any:
    """A sign-in that the protocol checks stopped (bad state, forged token...): audited, never a session."""
    sso.record_failure(db_session(), "oidc", reason, request.remote_addr or "")
    db.session.commit()
    log.warning("OpenID Connect sign-in refused: %s (%s)", reason, message)
    page = render_template("auth/sso_refused.html", reason=reason, message=message, status=status)
    return page, status


@bp.get("/oidc/login")
@public
def oidc_login() -> Any:
    conf = settings()
    if not conf.oidc_enabled:
        return render_template("error.html", status=404, message=_("Single sign-on is not configured.")), 404
    try:
        url, pending = oidc.begin(conf, url_for("auth.oidc_callback", _external=True))
    except oidc.OidcError as err:
        return _failed(err.reason, err.message, 503)
    session[PENDING] = {
        "state": pending.state,
        "nonce": pending.nonce,
        "verifier": pending.verifier,
        "redirect_uri": pending.redirect_uri,
        "next": safe_next(request.args.get("next")),
    }
    return redirect(url)


@bp.get("/oidc/callback")
@public
def oidc_callback() -> Any:
    conf = settings()
    if not conf.oidc_enabled:
        return render_template("error.html", status=404, message=_("Single sign-on is not configured.")), 404
    saved = session.pop(PENDING, None)  # one use: a replayed state finds nothing
    said = request.args.get("error", "")
    if said:
        return _failed("provider_denied", _("The identity provider said: %(said)s", said=said[:200]), 401)
    state = request.args.get("state", "")
    if not isinstance(saved, dict) or not state or state != saved.get("state"):
        return _failed("bad_state", _("This sign-in link is stale or was not started here; please sign in again."))
    code = request.args.get("code", "")
    if not code:
        return _failed("no_code", _("The identity provider sent no authorisation code."))
    pending = oidc.Pending(saved["state"], saved["nonce"], saved["verifier"], saved["redirect_uri"])
    try:
        identity, id_token = oidc.complete(conf, code, pending)
    except oidc.OidcError as err:
        return _failed(err.reason, err.message, 401)
    try:
        result = sso.sign_in(db_session(), identity, signin.group_map(conf, "oidc"))
    except DomainError as err:  # the group map itself is broken: an operator's error, said plainly
        db.session.rollback()
        where = f"{err.fields[0].path}: {err.fields[0].reason}" if err.fields else err.message
        return _failed("bad_group_map", _("Single sign-on is misconfigured (%(where)s).", where=where), 500)
    db.session.commit()
    if result.user is None:
        reason = result.error or "no_group"
        page = render_template(
            "auth/sso_refused.html",
            reason=reason,
            message=_(REFUSALS[reason]) if reason in REFUSALS else reason,
            status=403,
        )
        return page, 403
    code_of = signin.provider_code(db_session(), result.user)
    session.clear()
    mark_login()
    session["oidc"] = True
    if len(id_token) <= MAX_HINT:  # the logout hint rides in the cookie; a huge token would not fit
        session[ID_TOKEN] = id_token
    login_user(StaffSession(result.user, code_of))
    log.info("staff sign-in through OpenID Connect: user %s", result.user.id)
    return redirect(saved.get("next") or url_for("admin.dashboard"))
