"""Staff users (admin only): list, create, unlock, deactivate."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from campaigns.access import sso, users
from campaigns.access.providers import provider_codes
from campaigns.errors import DomainError
from campaigns.models import StaffUser
from campaigns.permissions import ACTIONS, PERMISSIONS, ROLES

from ..api.auth import forget_cached_keys
from ..extensions import db, db_session
from ..i18n import csv_time
from ..replica import read_session
from ..security import permission_required
from . import bp
from .util import csv_response


def _page(errors: dict[str, str] | None = None, form: Any = None) -> Any:
    return (
        render_template(
            "admin/users.html",
            users=users.list_users(db_session()),
            roles=ROLES,
            actions=ACTIONS,
            permissions=PERMISSIONS,
            providers=sorted(provider_codes(db_session()).values()),
            errors=errors or {},
            form=form or {},
        ),
        422 if errors else 200,
    )


@bp.get("/users")
@permission_required("users.manage")
def users_list() -> Any:
    return _page()


@bp.post("/users")
@permission_required("users.manage")
def users_create() -> Any:
    f = request.form
    try:
        user = users.create_user(
            db_session(),
            f.get("email", ""),
            f.get("password", ""),
            f.get("role", ""),
            provider_code=f.get("provider") or None,
            name=f.get("name", ""),
            actor=current_user.email,
        )
    except DomainError as err:
        db.session.rollback()
        return _page({x.path: x.reason for x in err.fields} or {"email": err.message}, f)
    db.session.commit()
    flash(
        _(
            "Created %(email)s (%(role)s). Give them the password through a safe channel.",
            email=user.email,
            role=user.role,
        ),
        "success",
    )
    return redirect(url_for("admin.users_list"))


def _user(user_id: int) -> StaffUser:
    """The staff user of the URL, or the 404 page (ends the request)."""
    user = db.session.get(StaffUser, user_id)
    if user is None:
        abort(make_response(render_template("error.html", status=404, message=_("No such user.")), 404))
    return user


@bp.post("/users/<int:user_id>/unlock")
@permission_required("users.manage")
def users_unlock(user_id: int) -> Any:
    user = _user(user_id)
    users.unlock(db_session(), user, actor=current_user.email)
    db.session.commit()
    flash(_("%(email)s unlocked.", email=user.email), "success")
    return redirect(url_for("admin.users_list"))


@bp.post("/users/<int:user_id>/active")
@permission_required("users.manage")
def users_active(user_id: int) -> Any:
    user = _user(user_id)
    if user.id == current_user.id:
        flash(_("You cannot deactivate yourself."), "error")
        return redirect(url_for("admin.users_list"))
    users.set_active(db_session(), user, request.form.get("active") == "1", actor=current_user.email)
    db.session.commit()
    forget_cached_keys()
    flash(
        _("%(email)s activated.", email=user.email)
        if user.active
        else _("%(email)s deactivated; their sessions and tokens ended.", email=user.email),
        "success",
    )
    return redirect(url_for("admin.users_list"))


@bp.post("/users/<int:user_id>/sessions/end")
@permission_required("users.manage")
def users_end_sessions(user_id: int) -> Any:
    """Signs the person out everywhere at once (their API tokens are ended by deactivating them)."""
    user = _user(user_id)
    sso.end_sessions(db_session(), user, actor=current_user.email)
    db.session.commit()
    flash(_("Every session of %(email)s has ended.", email=user.email), "success")
    return redirect(url_for("admin.users_list"))


@bp.post("/users/<int:user_id>/break-glass")
@permission_required("users.manage")
def users_break_glass(user_id: int) -> Any:
    user = _user(user_id)
    try:
        sso.set_break_glass(db_session(), user, request.form.get("break_glass") == "1", actor=current_user.email)
    except DomainError as err:
        db.session.rollback()
        flash(err.fields[0].reason if err.fields else err.message, "error")
        return redirect(url_for("admin.users_list"))
    db.session.commit()
    flash(
        _("%(email)s is now a break-glass account.", email=user.email)
        if user.break_glass
        else _("%(email)s is no longer a break-glass account.", email=user.email),
        "success",
    )
    return redirect(url_for("admin.users_list"))


@bp.get("/users.csv")
@permission_required("users.manage")
def users_csv() -> Any:
    header = [
        "id",
        "email",
        "name",
        "role",
        "provider",
        "status",
        "created_at",
        "last_login_at",
        "origin",
        "break_glass",
    ]
    return csv_response(
        "staff-users.csv",
        header,
        (
            [
                u["id"],
                u["email"],
                u["name"],
                u["role"],
                u["provider"] or "",
                "locked" if u["locked"] else "active" if u["active"] else "inactive",
                csv_time(u["created_at"]),
                csv_time(u["last_login_at"]),
                u["origin"],
                "yes" if u["break_glass"] else "",
            ]
            for u in users.list_users(read_session())
        ),
    )
