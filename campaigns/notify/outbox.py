"""The outbox sender: render per customer language, apply opt-out, quiet hours and the daily limit,
send through the gateway, retry with back-off.

Outbox rows are written in the same database transaction as their cause
(accrual, tier changes, redemptions, keyword replies, sign-in codes). One
sender runs at a time (the caller holds a lock), commits after each message,
and passes ``outbox-<id>`` as the gateway reference, so a crash between the
gateway's acceptance and the commit at worst sends one message twice, and a
gateway that honours the reference drops even that.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns.catalog import programme
from campaigns.catalog.tiers import entry_tier, tier_names
from campaigns.clock import utcnow
from campaigns.consent import consents
from campaigns.customers.identity import PHONE
from campaigns.i18n import localized
from campaigns.models import Customer, CustomerBalance, CustomerIdentity, CustomerProvider, Outbox, PointLot, Reward
from campaigns.notify import messages
from campaigns.notify.due import due_ids
from campaigns.notify.gateways import GatewayError, SmsGateway
from campaigns.notify.sms import count
from campaigns.notify.webhooks import Events
from campaigns.sql import table_of, upsert

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_FIRST = 30  # seconds; doubles each attempt, at most BACKOFF_MAX
BACKOFF_MAX = 3600
EXPIRY_WINDOW_DAYS = 30


@dataclass
class SendReport:
    sent: int = 0
    deferred: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, attempts - 1)))


def queue_sms(
    session: Session,
    *,
    dedupe_key: str,
    template: str,
    payload: dict[str, Any],
    customer_id: int | None = None,
    to: str | None = None,
    now: datetime | None = None,
) -> Outbox:
    """Add one SMS to the outbox (the caller's transaction commits it with its cause)."""
    row = Outbox(
        dedupe_key=dedupe_key,
        customer_id=customer_id,
        channel="sms",
        template=template,
        payload=payload,
        status="pending",
        recipient=to,
        created_at=now or utcnow(),
        attempts=0,
    )
    session.add(row)
    session.flush()
    return row


def phone_of(session: Session, customer_id: int) -> str | None:
    return session.scalar(
        select(CustomerIdentity.value)
        .where(CustomerIdentity.customer_id == customer_id, CustomerIdentity.kind == PHONE)
        .order_by(CustomerIdentity.id)
        .limit(1)
    )


def in_quiet_hours(local: datetime, quiet: dict[str, str] | None) -> datetime | None:
    """When quiet hours end (local), if ``local`` falls inside them; else None."""
    if not quiet:
        return None
    start = time.fromisoformat(quiet["start"])
    end = time.fromisoformat(quiet["end"])
    now_t = local.time().replace(tzinfo=None)
    if start == end:
        return None
    if start < end:  # e.g. 12:00-14:00
        inside = start <= now_t < end
        end_day = local.date()
    else:  # spans midnight, e.g. 21:00-08:00
        inside = now_t >= start or now_t < end
        end_day = local.date() + timedelta(days=1) if now_t >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=local.tzinfo)


def _context(
    session: Session, row: Outbox, language: str, customer_id: int | None, zone: str | None = None
) -> dict[str, Any]:
    payload = dict(row.payload or {})
    ctx: dict[str, Any] = dict(payload)
    for key in ("points", "amount"):
        if isinstance(payload.get(key), int):
            ctx[key] = messages.number(payload[key], language)
    if customer_id is not None:
        bal = session.get(CustomerBalance, customer_id)
        ctx["balance"] = messages.number(bal.balance if bal else 0, language)
    if payload.get("date"):
        ctx["date"] = messages.day(payload["date"], language, zone)  # a time: its day in the programme's zone
    if payload.get("reward"):
        reward = session.scalar(select(Reward).where(Reward.code == payload["reward"]))
        ctx["reward"] = reward.name_in(language) if reward else payload["reward"]
    if row.template == "tier_changed":
        ctx["tier"] = tier_name(session, payload.get("to"), language)
    if isinstance(payload.get("challenge"), dict):  # a campaign named {vi, en}
        ctx["challenge"] = localized(payload["challenge"], language)
    if row.template == "sms_reply" and isinstance(payload.get(language), str):
        ctx["text"] = payload[language]
    return ctx


def tier_name(session: Session, code: str | None, language: str | None = None) -> str:
    if not code:
        return "—"
    return tier_names(session, language).get(code, code)


def _sent_today(session: Session, customer_id: int, start: datetime) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                Outbox.customer_id == customer_id,
                Outbox.channel == "sms",
                Outbox.sent_at >= start,
                Outbox.template.not_in(sorted(messages.TRANSACTIONAL)),
            )
        )
        or 0
    )


def send_due(
    session_factory: Callable[[], Session],
    gateway: SmsGateway,
    *,
    now: datetime | None = None,
    limit: int = 500,
    keep_going: Callable[[], bool] = lambda: True,
) -> SendReport:
    """Send every SMS row that is due; the caller makes sure only one sender runs (``keep_going`` is asked before
    each row: False, the caller's lock is lost, and the rest waits for the next pass)."""
    report = SendReport()
    clock = now
    with session_factory() as session:
        settings = programme.load(session)
        ids = due_ids(session, "sms", clock or utcnow(), limit)
    for outbox_id in ids:
        if not keep_going():
            break
        with session_factory() as session:
            row = session.get(Outbox, outbox_id)
            if row is None or row.status != "pending":
                continue
            outcome = _send_one(session, row, gateway, settings, clock or utcnow())
            session.commit()
            setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _send_one(session: Session, row: Outbox, gateway: SmsGateway, settings: programme.Programme, now: datetime) -> str:
    customer = session.get(Customer, row.customer_id) if row.customer_id is not None else None
    language = messages.language_of(customer.language if customer else (row.payload or {}).get("language"))
    transactional = row.template in messages.TRANSACTIONAL
    to = row.recipient or (phone_of(session, customer.id) if customer else None)
    if not to:
        row.status, row.last_error = "failed", "no phone number to send to"
        return "failed"
    row.recipient = to
    payload = row.payload or {}
    if row.template == "tier_changed" and not payload.get("from") and payload.get("to") == entry_tier(session):
        row.status, row.last_error = "suppressed", "joining the entry tier is not news"
        return "suppressed"
    if not consents.may_send(session, customer.id if customer else None, messages.is_marketing(row.template)):
        row.status, row.last_error = "suppressed", "marketing without the customer's marketing consent"
        return "suppressed"
    if not transactional:
        if customer is not None and customer.sms_opt_out_at is not None:
            row.status, row.last_error = "suppressed", "customer opted out (TUCHOI / STOP)"
            return "suppressed"
        tz = ZoneInfo(customer.timezone if customer else settings.timezone)
        local = now.astimezone(tz)
        resume = in_quiet_hours(local, settings.quiet_hours)
        if resume is not None:
            row.next_attempt_at = resume
            row.last_error = "deferred: quiet hours"
            return "deferred"
        if customer is not None and settings.sms_daily_limit is not None:
            day_start = datetime.combine(local.date(), time(0), tzinfo=tz)
            if _sent_today(session, customer.id, day_start) >= settings.sms_daily_limit:
                tomorrow = day_start + timedelta(days=1)
                row.next_attempt_at = in_quiet_hours(tomorrow, settings.quiet_hours) or tomorrow
                row.last_error = "deferred: daily limit reached"
                return "deferred"
    try:
        text = messages.render(
            row.template,
            _context(session, row, language, customer.id if customer else None, settings.timezone),
            language,
            settings.sms_templates,
        )
    except KeyError:
        row.status, row.last_error = "suppressed", f"no message template '{row.template}'"
        return "suppressed"
    try:
        gateway.send(to, text, ref=f"outbox-{row.id}")
    except GatewayError as exc:
        row.attempts += 1
        row.last_error = str(exc)[:500]
        if not exc.retryable or row.attempts >= MAX_ATTEMPTS:
            row.status = "failed"
            log.warning("outbox %s failed for good: %s", row.id, exc)
            return "failed"
        row.next_attempt_at = now + backoff(row.attempts)
        return "retried"
    row.attempts += 1
    row.status, row.sent_at, row.last_error = "sent", now, None
    row.segments = count(text).segments
    if row.template == "otp":  # the code is a credential: keep neither it nor the text
        row.body = messages.render("otp", {"code": "******"}, language)
        row.payload = {"code": "******"}
    else:
        row.body = text
    return "sent"


def queue_expiring(session: Session, now: datetime | None = None, *, days: int = EXPIRY_WINDOW_DAYS) -> int:
    """One ``points_expiring`` row per customer per month for points expiring within ``days`` (the caller commits).

    The dedupe key ``exp:<customer>:<yyyymm>`` makes the job safe to run as often as you like.
    """
    now = now or utcnow()
    rows = session.execute(
        select(PointLot.customer_id, func.sum(PointLot.remaining), func.min(PointLot.expires_at))
        .where(
            PointLot.status == "available",
            PointLot.remaining > 0,
            PointLot.expires_at.is_not(None),
            PointLot.expires_at > now,
            PointLot.expires_at <= now + timedelta(days=days),
        )
        .group_by(PointLot.customer_id)
    ).all()
    out = []
    month = now.strftime("%Y%m")
    for cid, points, first in rows:
        first_at = first if isinstance(first, datetime) else datetime.fromisoformat(str(first))
        out.append(
            {
                "dedupe_key": f"exp:{cid}:{month}",
                "customer_id": cid,
                "channel": "sms",
                "template": "points_expiring",
                "payload": {"points": int(points), "date": first_at.date().isoformat()},
                "status": "pending",
                "created_at": now,
                "attempts": 0,
            }
        )
    if out:
        upsert(session, table_of(Outbox), out, ["dedupe_key"])
        _expiring_webhooks(session, out, now)
    return len(out)


def _expiring_webhooks(session: Session, rows: list[dict[str, Any]], now: datetime) -> None:
    """``points_expiring`` to the providers each customer has dealt with (nobody else learns of the customer)."""
    by_customer = {r["customer_id"]: r for r in rows}
    events = Events()
    for cid, pid in session.execute(
        select(CustomerProvider.customer_id, CustomerProvider.provider_id).where(
            CustomerProvider.customer_id.in_(sorted(by_customer))
        )
    ).all():
        row = by_customer[cid]
        events.add("points_expiring", {"customer_id": cid, **row["payload"]}, row["dedupe_key"], pid)
    hooks = events.rows(session, now)
    if hooks:
        upsert(session, table_of(Outbox), hooks, ["dedupe_key"])
