"""Webhook deliveries to providers: status, attempts, last error, and replay (a provider user: its own)."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from campaigns.models import Outbox, Provider, WebhookSubscription
from campaigns.notify import webhooks

from ..extensions import db, db_session
from ..security import permission_required
from . import bp

STATUSES = ("pending", "sent", "failed")


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
    rows: list[dict[str, Any]] = []
    if subs:
        q = select(Outbox).where(Outbox.channel == "webhook", Outbox.recipient.in_({s.url for s, _ in subs.values()}))
        if status in STATUSES:
            q = q.where(Outbox.status == status)
        for row in db.session.scalars(q.order_by(Outbox.id.desc()).limit(200)):
            sub_id = (row.payload or {}).get("subscription_id")
            if sub_id in subs:
                rows.append({"row": row, "provider": subs[sub_id][1]})
    return render_template("admin/webhooks.html", rows=rows, subs=list(subs.values()), status=status, statuses=STATUSES)


@bp.post("/webhooks/<int:outbox_id>/replay")
@permission_required("webhooks.replay")
def webhook_replay(outbox_id: int) -> Any:
    row = db.session.get(Outbox, outbox_id)
    subs = _subscriptions()
    if row is None or row.channel != "webhook" or (row.payload or {}).get("subscription_id") not in subs:
        abort(404)
    webhooks.replay(db_session(), outbox_id, actor=current_user.email)
    db.session.commit()
    current_app.extensions["loyalty.dispatcher"].schedule_notify()
    flash(f"Delivery {outbox_id} will be sent again.", "success")
    return redirect(url_for("admin.webhook_deliveries"))
