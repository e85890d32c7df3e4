"""Providers and their integration keys (admin): create, issue (shown once), rotate, revoke; audited."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from campaigns.access import providers
from campaigns.errors import DomainError
from campaigns.models import ApiKey, Provider

from ..api.auth import forget_cached_keys
from ..extensions import db, db_session
from ..i18n import csv_time
from ..replica import read_session
from ..security import permission_required
from . import bp
from .util import csv_response, html_error


def _page(
    *, new_key: str | None = None, new_for: str | None = None, errors: dict[str, str] | None = None, form: Any = None
) -> Any:
    return (
        render_template(
            "admin/providers.html",
            rows=providers.list_providers(db_session()),
            new_key=new_key,
            new_for=new_for,
            errors=errors or {},
            form=form or {},
        ),
        422 if errors else 200,
    )


@bp.get("/providers")
@permission_required("providers.manage")
def providers_list() -> Any:
    return _page()


@bp.post("/providers")
@permission_required("providers.manage")
def providers_create() -> Any:
    f = request.form
    try:
        provider, key = providers.create_provider(
            db_session(),
            f.get("code", "").strip(),
            f.get("name", ""),
            actor=current_user.email,
            name_en=f.get("name_en", ""),
        )
    except DomainError as err:
        db.session.rollback()
        return _page(errors={x.path: x.reason for x in err.fields} or {"code": err.message}, form=f)
    db.session.commit()
    forget_cached_keys()
    flash(_("Provider %(code)s created with its first API key.", code=provider.code), "success")
    return _page(new_key=key, new_for=provider.code)  # shown this once: no redirect


@bp.post("/providers/<int:provider_id>/keys")
@permission_required("providers.manage")
def providers_new_key(provider_id: int) -> Any:
    provider = db.session.get(Provider, provider_id)
    if provider is None:
        return render_template("error.html", status=404, message=_("No such provider.")), 404
    key = providers.rotate_provider_key(
        db_session(), provider.code, actor=current_user.email, name=request.form.get("name", "")
    )
    db.session.commit()
    flash(_("New key for %(code)s. The older keys keep working until you revoke them.", code=provider.code), "success")
    return _page(new_key=key, new_for=provider.code)


@bp.post("/providers/<int:provider_id>/keys/<int:key_id>/revoke")
@permission_required("providers.manage")
def providers_revoke_key(provider_id: int, key_id: int) -> Any:
    try:
        key = providers.revoke_provider_key(db_session(), provider_id, key_id, actor=current_user.email)
    except DomainError as err:
        db.session.rollback()
        return html_error(err)
    db.session.commit()
    forget_cached_keys()
    flash(_("Key %(prefix)s… revoked: it stops working within seconds.", prefix=key.prefix), "success")
    return redirect(url_for("admin.providers_list"))


@bp.get("/providers.csv")
@permission_required("providers.manage")
def providers_csv() -> Any:
    header = ["provider", "name", "active", "key_prefix", "key_name", "key_created_at", "key_revoked_at"]
    rows = []
    for p in providers.list_providers(read_session()):
        keys: list[ApiKey | None] = [*p.keys] or [None]  # a provider with no key still gets its row
        for k in keys:
            rows.append(
                [
                    p.code,
                    p.name,
                    p.active,
                    k.prefix if k else "",
                    k.name if k else "",
                    csv_time(k.created_at) if k else "",
                    csv_time(k.revoked_at) if k else "",
                ]
            )
    return csv_response("providers.csv", header, rows)
