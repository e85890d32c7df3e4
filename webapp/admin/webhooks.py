"""Webhook deliveries to providers: status, attempts, last error, and replay (a provider user: its own)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from campaigns.models import OutboxStatus, Provider, WebhookSubscription
from campaigns.notify import webhooks

from ..extensions import db, db_session, dispatcher
from ..security import permission_required
from . import bp

STATUSES: tuple[OutboxStatus, ...] = ("pending", "sent", "failed")


def _subscriptions() -> dict[int, tuple[WebhookSubscription, str]]:
    q = select(WebhookSubscription, Provider.code).join(Provider, Provider.id == WebhookSubscription.provider_id)
    if current_user.provider_id is not None:
        q = q.where(WebhookSubscription.provider_id == current_user.provider_id)
    return {sub.id: (sub, code) for sub, code in db.session.execute(q)}


@bp.get("/webhooks")
@permission_required("webhooks.view")
def webhook_deliveries() -> Any:
    subs = _subscriptions()
    status = request.args.get("status", "")
    found = webhooks.deliveries(db_session(), current_user.provider_id, status=status if status in STATUSES else None)
    rows = [{"row": row, "provider": subs[sub.id][1]} for row, sub in found if sub.id in subs]
    return render_template("admin/webhooks.html", rows=rows, subs=list(subs.values()), status=status, statuses=STATUSES)


@bp.post("/webhooks/<int:outbox_id>/replay")
@permission_required("webhooks.replay")
def webhook_replay(outbox_id: int) -> Any:
    if webhooks.owned_delivery(db_session(), outbox_id, current_user.provider_id) is None:
        abort(404)
    webhooks.replay(db_session(), outbox_id, actor=current_user.email)
    db.session.commit()
    dispatcher().schedule_notify()
    flash(_("Delivery %(id)s will be sent again.", id=outbox_id), "success")
    return redirect(url_for("admin.webhook_deliveries"))
