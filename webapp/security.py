"""Staff sessions (flask-login), the permission decorator, and the HTML security headers.

Every staff UI view is wrapped by :func:`permission_required` (or marked
:func:`public`); the decorator records the action on the view so a test can
walk the URL map and check every route against ``campaigns.permissions``.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, make_response, render_template, request, session
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user
from sqlalchemy import select

from campaigns.models import Provider, StaffUser
from campaigns.permissions import Scope, allowed
from campaigns.privacy import masking

from .extensions import db

F = TypeVar("F", bound=Callable[..., Any])

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "basic"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)

HSTS = "max-age=31536000; includeSubDomains"


class StaffSession(UserMixin):
    """The signed-in staff user for this request (a plain snapshot, not an ORM row)."""

    def __init__(self, user: StaffUser, provider_code: str | None) -> None:
        self.id = user.id
        self.email = user.email
        self.name = user.name or user.email.split("@")[0]
        self.role = user.role
        # a provider user, or a directory user of another role scoped to one provider (e.g. post's care desk)
        self.provider_id = user.provider_id if user.role != "admin" else None
        self.provider_code = provider_code if self.provider_id is not None else None
        self.session_version = user.session_version
        self.language = user.language

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def can(self, action: str) -> bool:
        return allowed(self.role, action)

    @property
    def scope(self) -> Scope:
        return Scope(self.role, self.provider_id, self.provider_code)


@login_manager.user_loader
def _load_user(raw: str) -> StaffSession | None:
    """A session stays valid while the user is active, its password unchanged and the lifetime not over."""
    try:
        user_id, version = (int(x) for x in raw.split(":", 1))
    except ValueError:
        return None
    row = db.session.execute(
        select(StaffUser, Provider.code)
        .outerjoin(Provider, Provider.id == StaffUser.provider_id)
        .where(StaffUser.id == user_id)
    ).first()
    if row is None:
        return None
    user, code = row
    if not user.active or user.session_version != version:
        return None
    if user.role == "provider" and user.provider_id is None:
        return None
    started = session.get("login_at")
    lifetime: timedelta = current_app.permanent_session_lifetime
    if not isinstance(started, int | float) or time.time() - started > lifetime.total_seconds():
        return None
    return StaffSession(user, code)


def permission_required(action: str, *, programme_wide: bool = False) -> Callable[[F], F]:
    """Signed in (else 302 to the login page) and the role may perform ``action`` (else 403).

    ``programme_wide``: the page concerns the whole person or programme, not one provider's share of it (a
    customer's full record, its export, its erasure): staff limited to one provider get the 403 page too, as the
    API's ``require(..., programme_wide=True)`` answers 403.
    """
    allowed("admin", action)  # unknown actions fail at import time

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(action):
                abort(403)
            if programme_wide and current_user.scope.limited:
                message = _("Staff limited to one provider may not do this.")
                abort(make_response(render_template("error.html", status=403, message=message), 403))
            return view(*args, **kwargs)

        wrapper.permission = action  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Explicitly open to everyone (the login page); the route matrix test knows these."""
    view.permission = None  # type: ignore[attr-defined]
    return view


def scope() -> Scope:
    return current_user.scope


def mark_login() -> None:
    session.permanent = True
    session["login_at"] = int(time.time())


def session_config(settings: Any) -> dict[str, Any]:
    """Cookie and session settings (the app factory applies them before any override)."""
    return {
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=settings.session_hours),
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SECURE": settings.secure_cookies,
        "SESSION_COOKIE_NAME": "loyalty_session",
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
    }


def _csp() -> str:
    """The policy; signing out of single sign-on posts to us and is redirected to the issuer, so it may go there."""
    conf = current_app.config.get("LOYALTY")
    issuer = getattr(conf, "oidc_issuer", None) if getattr(conf, "oidc_enabled", False) else None
    if not issuer:
        return CSP
    parts = urlsplit(issuer)
    return CSP.replace("form-action 'self'", f"form-action 'self' {parts.scheme}://{parts.netloc}")


def init_security(app: Flask) -> None:
    login_manager.init_app(app)

    @app.before_request
    def _start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def _headers(resp: Any) -> Any:
        started = g.get("started")
        if started is not None:
            resp.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        if resp.mimetype == "text/html" or request.path.startswith(("/auth", "/admin")) or request.path == "/":
            resp.headers.setdefault("Content-Security-Policy", _csp())
            resp.headers.setdefault("X-Frame-Options", "DENY")
            resp.headers.setdefault("Referrer-Policy", "same-origin")
            resp.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
            resp.headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
            if not request.path.startswith("/static"):
                resp.headers.setdefault("Cache-Control", "no-store")
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.is_secure:  # only over TLS (directly, or X-Forwarded-Proto through LOYALTY_PROXY_COUNT proxies)
            resp.headers.setdefault("Strict-Transport-Security", HSTS)
        return resp

    @app.template_filter("masked")
    def _masked(value: Any) -> str:
        """Numbers inside system-written text, masked for the signed-in role (campaigns/privacy/masking.py)."""
        role = current_user.role if current_user.is_authenticated else None
        return masking.text_for(role, "" if value is None else str(value))

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"can": lambda action: current_user.is_authenticated and current_user.can(action)}
