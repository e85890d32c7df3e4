"""Webhooks to providers: subscriptions, signed deliveries through the outbox, retries for a day.

A delivery is an outbox row on the ``webhook`` channel written in the same
database transaction as its event. The body is JSON; the signature header is

    X-Loyalty-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

so a receiver checks the timestamp (replays) and the body in one step.
Failures are retried with exponential back-off (1 min, 2, 4 … at most 1 h) until
a day has passed since the event; then the row is ``failed``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.clock import utcnow
from campaigns.errors import invalid, not_found
from campaigns.models import AuditEvent, Outbox, WebhookSubscription
from campaigns.notify.due import due_ids
from campaigns.sql import table_of, upsert

log = logging.getLogger(__name__)

EVENTS = (
    "points_credited",
    "transaction_rejected",
    "tier_changed",
    "points_expiring",
    "redemption_issued",
    "redemption_cancelled",
)
RETRY_FOR = timedelta(days=1)
FIRST_DELAY, MAX_DELAY = 60, 3600

Post = Callable[[str, bytes, dict[str, str]], int]


class Subscription(Protocol):
    """What an outbox row needs of a subscription: the ORM object or a plain row of these columns."""

    @property
    def id(self) -> int: ...
    @property
    def provider_id(self) -> int: ...
    @property
    def url(self) -> str: ...
    @property
    def events(self) -> list[str]: ...


@dataclass
class DeliveryReport:
    delivered: int = 0
    retried: int = 0
    failed: int = 0


def subscribe(session: Session, provider_id: int, url: str, events: list[str]) -> tuple[WebhookSubscription, str]:
    if not url.startswith(("https://", "http://")) or len(url) > 500:
        raise invalid("url", "must be an http(s) URL of at most 500 characters")
    unknown = sorted(set(events) - set(EVENTS))
    if not events or unknown:
        raise invalid(
            "events", f"choose from {', '.join(EVENTS)}" + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    secret = "whsec_" + secrets.token_urlsafe(32)
    sub = WebhookSubscription(provider_id=provider_id, url=url, secret=secret, events=sorted(set(events)), active=True)
    session.add(sub)
    session.flush()
    return sub, secret


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def rows_for(
    session: Session, event: str, data: dict[str, Any], key: str, now: datetime, provider_ids: set[int] | None = None
) -> list[dict[str, Any]]:
    """Outbox rows for every active subscription to ``event`` (of the given providers, or all)."""
    q = select(WebhookSubscription).where(WebhookSubscription.active.is_(True))
    if provider_ids is not None:
        if not provider_ids:
            return []
        q = q.where(WebhookSubscription.provider_id.in_(sorted(provider_ids)))
    return [_row(sub, event, data, key, now) for sub in session.scalars(q) if event in (sub.events or [])]


class Events:
    """Collects the webhook events of one database transaction; ``rows()`` turns them into outbox rows.

    Subscriptions are read once, and not at all when nothing was collected, unless the caller read them already
    (``subscriptions``: rows with ``id``, ``provider_id``, ``url`` and ``events``, as crediting reads them together
    with what else its batch needs, in one statement).
    """

    def __init__(self) -> None:
        self.items: list[tuple[str, dict[str, Any], str, int | None]] = []
        self.subscriptions: Sequence[Subscription] | None = None

    def add(self, event: str, data: dict[str, Any], key: str, provider_id: int | None) -> None:
        self.items.append((event, data, key, provider_id))

    def rows(self, session: Session, now: datetime) -> list[dict[str, Any]]:
        if not self.items:
            return []
        subs = self.subscriptions
        if subs is None:
            subs = list(session.scalars(select(WebhookSubscription).where(WebhookSubscription.active.is_(True))))
        out = []
        for event, data, key, provider_id in self.items:
            for sub in subs:
                if event in (sub.events or []) and (provider_id is None or sub.provider_id == provider_id):
                    out.append(_row(sub, event, data, key, now))
        return out


def _row(sub: Subscription, event: str, data: dict[str, Any], key: str, now: datetime) -> dict[str, Any]:
    return {
        "dedupe_key": f"wh:{sub.id}:{key}"[:128],
        "customer_id": data.get("customer_id"),
        "channel": "webhook",
        "template": event,
        "payload": {"subscription_id": sub.id, "event": event, "id": key, "data": data},
        "status": "pending",
        "recipient": sub.url,
        "created_at": now,
        "attempts": 0,
    }


def add_event(
    session: Session, event: str, data: dict[str, Any], key: str, now: datetime, provider_ids: set[int] | None = None
) -> None:
    rows = rows_for(session, event, data, key, now, provider_ids)
    if rows:
        upsert(session, table_of(Outbox), rows, ["dedupe_key"])


def _urllib_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def subscription_of(session: Session, row: Outbox) -> WebhookSubscription | None:
    """The subscription a webhook outbox row was written for; None when its payload names none (never a
    ``get`` by a None key, which SQLAlchemy warns will become an error)."""
    sub_id = (row.payload or {}).get("subscription_id")
    if isinstance(sub_id, bool) or not isinstance(sub_id, int):
        return None
    return session.get(WebhookSubscription, sub_id)


def deliver_due(
    session_factory: Callable[[], Session],
    *,
    post: Post | None = None,
    now: datetime | None = None,
    limit: int = 500,
    keep_going: Callable[[], bool] = lambda: True,
) -> DeliveryReport:
    """POST every webhook row that is due; ``keep_going`` is asked before each (False: the sender's lock is lost)."""
    report = DeliveryReport()
    post = post or _urllib_post
    clock = now or utcnow()
    with session_factory() as session:
        ids = due_ids(session, "webhook", clock, limit)
    for outbox_id in ids:
        if not keep_going():
            break
        with session_factory() as session:
            row = session.get(Outbox, outbox_id)
            if row is None or row.status != "pending":
                continue
            sub = subscription_of(session, row)
            if sub is None or not sub.active:
                row.status, row.last_error = "suppressed", "subscription removed"
                session.commit()
                continue
            body = json.dumps(
                {
                    "id": row.payload["id"],
                    "type": row.template,
                    "created_at": row.created_at.isoformat(),
                    "data": row.payload["data"],
                },
                separators=(",", ":"),
                default=str,
            ).encode()
            stamp = int(clock.timestamp())
            headers = {
                "Content-Type": "application/json",
                "X-Loyalty-Event": row.template,
                "X-Loyalty-Delivery": str(row.id),
                "X-Loyalty-Signature": sign(sub.secret, stamp, body),
            }
            row.attempts += 1
            try:
                status = post(sub.url, body, headers)
                error = None if 200 <= status < 300 else f"receiver answered {status}"
            except Exception as exc:  # network errors of any kind: retry
                error = f"unreachable: {exc}"[:500]
            if error is None:
                row.status, row.sent_at, row.last_error = "sent", clock, None
                report.delivered += 1
            elif clock - row.created_at >= RETRY_FOR:
                row.status, row.last_error = "failed", error
                report.failed += 1
            else:
                delay = min(MAX_DELAY, FIRST_DELAY * 2 ** (row.attempts - 1))
                row.next_attempt_at, row.last_error = clock + timedelta(seconds=delay), error
                report.retried += 1
            session.commit()
    return report


def deliveries(
    session: Session, provider_id: int | None, *, status: str | None = None, limit: int = 200
) -> list[tuple[Outbox, WebhookSubscription]]:
    """The newest deliveries to one provider's subscriptions (``None``: every provider's), with their subscription.

    A row is the provider's when its subscription is: the URL narrows the scan, the subscription id decides (two
    providers may subscribe the same URL)."""
    q = select(WebhookSubscription)
    if provider_id is not None:
        q = q.where(WebhookSubscription.provider_id == provider_id)
    subs = {sub.id: sub for sub in session.scalars(q)}
    if not subs:
        return []
    rows = select(Outbox).where(
        Outbox.channel == "webhook", Outbox.recipient.in_(sorted({s.url for s in subs.values()}))
    )
    if status:
        rows = rows.where(Outbox.status == status)
    out = []
    for row in session.scalars(rows.order_by(Outbox.id.desc()).limit(limit)):
        sub_id = (row.payload or {}).get("subscription_id")
        if isinstance(sub_id, int) and sub_id in subs:
            out.append((row, subs[sub_id]))
    return out


def owned_delivery(session: Session, outbox_id: int, provider_id: int | None) -> Outbox | None:
    """One delivery if it went to one of the provider's subscriptions (``None``: any provider's), else None."""
    row = session.get(Outbox, outbox_id)
    sub_id = (row.payload or {}).get("subscription_id") if row is not None and row.channel == "webhook" else None
    sub = session.get(WebhookSubscription, sub_id) if sub_id is not None else None
    if sub is None or (provider_id is not None and sub.provider_id != provider_id):
        return None
    return row


def replay(session: Session, outbox_id: int, *, actor: str) -> Outbox:
    """Send a delivery again (staff or the provider): back to pending, due now; audited."""
    row = session.get(Outbox, outbox_id)
    if row is None or row.channel != "webhook":
        raise not_found(f"delivery {outbox_id}")
    previous = row.status
    row.status, row.next_attempt_at, row.created_at = "pending", None, utcnow()
    session.add(
        AuditEvent(
            actor=actor,
            action="webhook.replayed",
            object_type="outbox",
            object_id=str(outbox_id),
            details={"previous_status": previous, "url": row.recipient},
        )
    )
    return row
