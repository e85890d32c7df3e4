"""Customer self-service: sign-in codes by SMS, mobile-app tokens, the home view, missing-points claims.

Codes are 6 digits, kept only as HMAC-SHA256 (keyed with the app secret, so a
leaked table cannot be brute-forced offline), valid 5 minutes, 5 wrong tries
burn the code, and a new code replaces the previous one. Tokens are 256-bit
random, SHA-256 at rest (like API keys).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field, StrictInt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from campaigns.accounts import rewards as rewards_service
from campaigns.accounts import transfers
from campaigns.accounts.profile import resolve_existing
from campaigns.accrual import challenges as challenges_service
from campaigns.care import claims
from campaigns.catalog.programme import load as load_programme
from campaigns.channels.keywords import affordable_rewards, recent_activity, summary
from campaigns.clock import utcnow
from campaigns.customers import numbers
from campaigns.customers.identity import PHONE, find_customer, normalize_phone
from campaigns.errors import DomainError, invalid
from campaigns.i18n import DEFAULT_LANGUAGE, language_of
from campaigns.models import Claim, Customer, CustomerBalance, CustomerToken, OtpCode, Provider
from campaigns.notify.outbox import queue_sms
from campaigns.schemas import CustomerRef, Strict, validation_error

CODE_MINUTES = 5
MAX_ATTEMPTS = 5
TOKEN_DAYS = 90
VOUCHER_FIELDS = ("id", "reward", "reward_name", "points", "voucher_code", "status", "expires_at", "created_at")


def _digest(pepper: str, phone: str, code: str) -> str:
    return hmac.new(pepper.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def phone_or_error(raw: str, path: str = "phone") -> str:
    try:
        return normalize_phone(raw)
    except ValueError as exc:
        raise invalid(path, str(exc)) from None


def request_code(session: Session, raw_phone: str, *, pepper: str, now: datetime | None = None) -> int | None:
    """Queue a sign-in code by SMS for a member's phone; None (and nothing sent) for an unknown phone.

    The caller answers the same either way, so the endpoint does not reveal who is a member.
    """
    now = now or utcnow()
    phone = phone_or_error(raw_phone)
    numbers.refuse_if_quarantined(session, phone, now)
    cid = find_customer(session, PHONE, phone)
    if cid is None:
        return None
    session.execute(
        update(OtpCode).where(OtpCode.phone == phone, OtpCode.used_at.is_(None)).values(used_at=now)
    )  # a new code replaces the old one
    code = f"{secrets.randbelow(1_000_000):06d}"
    otp = OtpCode(
        phone=phone,
        customer_id=cid,
        code_hash=_digest(pepper, phone, code),
        attempts=0,
        expires_at=now + timedelta(minutes=CODE_MINUTES),
        created_at=now,
    )
    session.add(otp)
    session.flush()
    queue_sms(session, dedupe_key=f"otp:{otp.id}", template="otp", payload={"code": code}, customer_id=cid, to=phone)
    return cid


def verify_code(session: Session, raw_phone: str, code: str, *, pepper: str, now: datetime | None = None) -> int:
    """The customer id for a right code; a wrong one counts an attempt (the caller commits either way)."""
    now = now or utcnow()
    phone = phone_or_error(raw_phone)
    otp = session.scalar(
        select(OtpCode)
        .where(OtpCode.phone == phone, OtpCode.used_at.is_(None))
        .order_by(OtpCode.id.desc())
        .limit(1)
        .with_for_update()
    )
    wrong = DomainError("invalid_code", "the code is wrong or has expired; ask for a new one", status=401)
    if otp is None or otp.expires_at <= now:
        raise wrong
    if otp.attempts >= MAX_ATTEMPTS:
        otp.used_at = now
        raise DomainError("too_many_attempts", "too many wrong codes; ask for a new one", status=429)
    given = "".join(ch for ch in (code or "") if ch.isdigit())
    if not hmac.compare_digest(otp.code_hash, _digest(pepper, phone, given)):
        otp.attempts += 1
        if otp.attempts >= MAX_ATTEMPTS:
            otp.used_at = now
        raise wrong
    otp.used_at = now
    if not numbers.signed_in_through(session, otp.customer_id, phone):  # released since the code was sent
        raise wrong
    return otp.customer_id


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, customer_id: int, now: datetime | None = None, *, phone: str | None = None
) -> tuple[str, datetime]:
    """``phone`` is the number signed in through: its release revokes the token, its SIM swap holds spending."""
    now = now or utcnow()
    token = "lc_" + secrets.token_urlsafe(32)
    expires = now + timedelta(days=TOKEN_DAYS)
    session.add(
        CustomerToken(
            customer_id=customer_id,
            prefix=token[:10],
            token_hash=hash_token(token),
            phone=phone,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return token, expires


def authenticate_token(session: Session, token: str, now: datetime | None = None) -> int | None:
    found = authenticate(session, token, now)
    return found[0] if found else None


def authenticate(session: Session, token: str, now: datetime | None = None) -> tuple[int, str | None] | None:
    """(customer id, phone signed in through) of a live token."""
    now = now or utcnow()
    row = session.scalar(select(CustomerToken).where(CustomerToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        row.last_used_at = now
    return row.customer_id, row.phone


def revoke_token(session: Session, token: str) -> None:
    session.execute(
        update(CustomerToken).where(CustomerToken.token_hash == hash_token(token)).values(revoked_at=utcnow())
    )


def home(session: Session, customer_id: int, language: str | None = None) -> dict[str, Any]:
    """Everything the portal's home page and the app's ``/me`` show; names in ``language`` (default: the
    customer's)."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise DomainError("not_found", "customer not found", status=404)
    s = summary(session, customer_id, language)
    bal = session.get(CustomerBalance, customer_id)
    return {
        "id": customer_id,
        "language": customer.language,
        "balance": s.balance,
        "pending_points": bal.pending if bal else 0,
        "tier": {"code": s.tier_code, "name": s.tier},
        "next_tier": (
            {"name": s.next_name, "points_needed": s.left, "qualifying_points": s.have}
            if s.next_name is not None
            else None
        ),
        "expiring": s.expiring,
        "challenges": challenges_service.customer_challenges(
            session, customer_id, customer.timezone, utcnow(), language_of(language or customer.language)
        ),
    }


def rewards_for(session: Session, customer_id: int, language: str | None = None) -> list[dict[str, Any]]:
    """The rewards on offer, named and described in ``language`` (default: the customer's)."""
    view = home(session, customer_id)
    lang = language or view["language"]
    return [
        {
            "code": r.code,
            "name": r.name_in(lang),
            "description": r.description_in(lang),
            "cost": r.cost,
            "affordable": r.cost <= view["balance"],
        }
        for r in affordable_rewards(session)
    ]


def vouchers(session: Session, customer_id: int, language: str | None = None) -> list[dict[str, Any]]:
    customer = session.get(Customer, customer_id)
    lang = language or (customer.language if customer else DEFAULT_LANGUAGE)
    names = {r.code: r.name_in(lang) for r in rewards_service.list_rewards(session)}
    return [
        {**{k: v[k] for k in VOUCHER_FIELDS}, "reward_name": names.get(v["reward"], v["reward_name"])}
        for v in rewards_service.customer_redemptions(session, customer_id, limit=50)
    ]


def activity(session: Session, customer_id: int, limit: int = 20, language: str | None = None) -> list[dict[str, Any]]:
    """Recent ledger entries; providers named in ``language`` (default: the customer's)."""
    customer = session.get(Customer, customer_id)
    lang = language or (customer.language if customer else None)
    return recent_activity(session, customer_id, limit=limit, language=lang)


class SendPointsIn(Strict):
    """What a member sends from the app, the portal or USSD: to whom (phone or national ID) and how many."""

    to: CustomerRef
    points: StrictInt = Field(ge=1, le=10**12)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=64)


def send_points(
    session: Session,
    customer_id: int,
    data: dict[str, Any],
    *,
    channel: str,
    through_phone: str | None,
) -> tuple[dict[str, Any], bool]:
    """A member's own transfer (app, portal, USSD): the same service, limits and hold as the provider API."""
    body = validation_error(SendPointsIn, data)
    try:
        recipient = resolve_existing(session, body.to, None)
    except DomainError:
        raise DomainError("not_found", "to: no member has this phone or national ID", [], 404) from None
    to = body.to.model_dump(mode="json")
    digest = hashlib.sha256(f"{sorted(to.items())}:{body.points}".encode()).hexdigest()
    return transfers.transfer(
        session,
        customer_id,
        recipient,
        body.points,
        requested_by=f"{channel}:{customer_id}",
        idempotency_key=body.idempotency_key,
        body_hash=digest,
        channel=channel,
        through_phones=[through_phone],
    )


def transfer_fee(session: Session) -> int:
    """The fee in points a member pays on top of a transfer (shown before sending)."""
    return int(load_programme(session).transfer_rules()["fee_points"])


def create_claim(session: Session, customer_id: int, data: dict[str, Any], *, channel: str) -> Claim:
    """Store a 'missing points' report (status open, its deadline running); the care centre works it."""
    return claims.file(session, customer_id, data, channel=channel)


def claims_of(session: Session, customer_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Claim, Provider.name)
        .outerjoin(Provider, Provider.id == Claim.provider_id)
        .where(Claim.customer_id == customer_id)
        .order_by(Claim.id.desc())
        .limit(50)
    ).all()
    return [
        {
            "id": c.id,
            "transaction_ref": c.transaction_ref,
            "provider": name,
            "occurred_on": c.occurred_on.isoformat() if c.occurred_on else None,
            "amount": c.amount,
            "description": c.description,
            "status": c.status,
            "resolution": c.resolution,
            "created_at": c.created_at,
        }
        for c, name in rows
    ]


def providers(session: Session) -> list[tuple[str, str]]:
    return [(c, n) for c, n in session.execute(select(Provider.code, Provider.name).order_by(Provider.name)).all()]
