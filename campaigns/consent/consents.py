"""Consent by purpose: what a person agreed to, when, through which channel, and after reading which text.

Silence is not consent: a purpose nobody recorded is not granted. Every decision is a new row of
``consent_records`` (the history is the printable record); the latest row per purpose is the current state.
Every channel (app API, portal, SMS, USSD, a provider's paper form) records through :func:`record`, and every
effect asks :func:`granted` — the provider lookup through :func:`provider_view`, the SMS sender through
:func:`may_send` — so the rules live here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.catalog import programme
from campaigns.clock import utcnow
from campaigns.errors import FieldProblem, conflict, invalid, not_found
from campaigns.models import AuditEvent, ConsentChannel, ConsentPurpose, ConsentRecord, Customer, Provider, Transaction

PURPOSES: tuple[ConsentPurpose, ...] = get_args(ConsentPurpose)
CHANNELS: tuple[ConsentChannel, ...] = get_args(ConsentChannel)
SHARING: ConsentPurpose = "cross_provider_sharing"
MARKETING: ConsentPurpose = "marketing"
MAX_REFERENCE = 64


def texts(session: Session) -> dict[str, dict[str, str]]:
    """Per purpose, the consent text shown today (``version``, ``vi``, ``en``): programme setting ``consent_texts``."""
    return programme.load(session).consent_texts or programme.DEFAULTS["consent_texts"]


def purpose_or_error(value: Any, path: str = "purpose") -> ConsentPurpose:
    if value not in PURPOSES:
        raise invalid(path, f"must be one of {', '.join(PURPOSES)}")
    return cast(ConsentPurpose, value)


def granted_or_error(value: Any, path: str = "granted") -> bool:
    if not isinstance(value, bool):
        raise invalid(path, "must be true or false")
    return value


def record(
    session: Session,
    customer_id: int,
    purpose: ConsentPurpose,
    granted: bool,
    *,
    channel: ConsentChannel,
    actor: str,
    provider_id: int | None = None,
    form_reference: str | None = None,
    signed_at: datetime | None = None,
    request_ref: str | None = None,
    now: datetime | None = None,
) -> ConsentRecord:
    """Append one decision, stamped with the version of the text shown today (the caller commits).

    ``request_ref`` names the request (a USSD session's): a gateway repeating it gets the first row back."""
    if session.get(Customer, customer_id) is None:
        raise not_found(f"customer {customer_id}")
    if request_ref is not None:
        old = session.scalar(
            select(ConsentRecord).where(
                ConsentRecord.customer_id == customer_id, ConsentRecord.request_ref == request_ref
            )
        )
        if old is not None:
            return old
    row = ConsentRecord(
        customer_id=customer_id,
        purpose=purpose,
        granted=granted,
        channel=channel,
        actor=actor[:200],
        text_version=str(texts(session)[purpose]["version"])[:32],
        recorded_at=now or utcnow(),
        signed_at=signed_at,
        form_reference=form_reference,
        provider_id=provider_id,
        request_ref=request_ref,
    )
    session.add(row)
    session.flush()
    return row


def _records(session: Session, customer_id: int) -> list[ConsentRecord]:
    return list(
        session.scalars(
            select(ConsentRecord).where(ConsentRecord.customer_id == customer_id).order_by(ConsentRecord.id)
        )
    )


def current(session: Session, customer_id: int) -> dict[str, ConsentRecord | None]:
    """The latest decision per purpose (None: never asked, so not granted)."""
    out: dict[str, ConsentRecord | None] = dict.fromkeys(PURPOSES)
    out.update({row.purpose: row for row in _records(session, customer_id)})
    return out


def granted(session: Session, customer_id: int, purpose: ConsentPurpose) -> bool:
    latest = session.scalar(
        select(ConsentRecord.granted)
        .where(ConsentRecord.customer_id == customer_id, ConsentRecord.purpose == purpose)
        .order_by(ConsentRecord.id.desc())
        .limit(1)
    )
    return bool(latest)


def record_view(row: ConsentRecord, provider_code: str | None = None) -> dict[str, Any]:
    return {
        "id": row.id,
        "purpose": row.purpose,
        "granted": row.granted,
        "recorded_at": row.recorded_at,
        "channel": row.channel,
        "actor": row.actor,
        "text_version": row.text_version,
        "form_reference": row.form_reference,
        "signed_at": row.signed_at,
        "provider": provider_code,
    }


def view(session: Session, customer_id: int) -> dict[str, Any]:
    """The printable record: the current state of every purpose with its text, and the whole history."""
    shown = texts(session)
    codes = {pid: code for pid, code in session.execute(select(Provider.id, Provider.code))}
    rows = _records(session, customer_id)
    latest: dict[str, ConsentRecord] = {r.purpose: r for r in rows}
    return {
        "customer_id": customer_id,
        "consents": [
            {
                "purpose": p,
                "granted": bool(latest[p].granted) if p in latest else False,
                "since": latest[p].recorded_at if p in latest else None,
                "channel": latest[p].channel if p in latest else None,
                "text_version": str(shown[p]["version"]),
                "text": {"vi": shown[p]["vi"], "en": shown[p]["en"]},
            }
            for p in PURPOSES
        ],
        "history": [record_view(r, codes.get(r.provider_id or 0)) for r in rows],
    }


def record_request(
    session: Session, customer_id: int, body: dict[str, Any], *, channel: ConsentChannel, actor: str
) -> ConsentRecord:
    """``{purpose, granted}`` from the app or the portal, checked field by field."""
    unknown = sorted(set(body) - {"purpose", "granted"})
    if unknown:
        raise invalid(unknown[0], "unknown field; send purpose and granted")
    purpose = purpose_or_error(body.get("purpose"))
    return record(session, customer_id, purpose, granted_or_error(body.get("granted")), channel=channel, actor=actor)


def _reference(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid("form_reference", "is required: the reference printed on the signed form")
    if len(value.strip()) > MAX_REFERENCE:
        raise invalid("form_reference", f"at most {MAX_REFERENCE} characters")
    return value.strip()


def _signed_at(value: Any, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise invalid("signed_at", "must be an ISO 8601 time with its offset, e.g. 2026-12-01T09:30:00+07:00")
    if at > now:
        raise invalid("signed_at", "is in the future")
    return at.astimezone(UTC)


def _dealt_with(session: Session, customer_id: int, provider_id: int) -> bool:
    return (
        session.scalar(
            select(Transaction.id)
            .where(Transaction.customer_id == customer_id, Transaction.provider_id == provider_id)
            .limit(1)
        )
        is not None
    )


def record_form(
    session: Session,
    customer_id: int,
    body: dict[str, Any],
    *,
    provider_id: int | None,
    actor: str,
    now: datetime | None = None,
) -> tuple[dict[str, Any], bool]:
    """A signed paper form, recorded by a provider (or staff); audited. Idempotent by (provider, form
    reference, purpose): the same form again returns the original, a contradicting one ``409``."""
    now = now or utcnow()
    if session.get(Customer, customer_id) is None or (
        provider_id is not None and not _dealt_with(session, customer_id, provider_id)
    ):  # before the body: a provider learns nothing of customers it never dealt with
        raise not_found(f"customer {customer_id}")
    unknown = sorted(set(body) - {"purpose", "granted", "form_reference", "signed_at"})
    if unknown:
        raise invalid(unknown[0], "unknown field; send purpose, granted, form_reference and signed_at")
    purpose = purpose_or_error(body.get("purpose"))
    is_granted = granted_or_error(body.get("granted"))
    reference = _reference(body.get("form_reference"))
    signed_at = _signed_at(body.get("signed_at"), now)
    old = session.scalar(
        select(ConsentRecord).where(
            ConsentRecord.customer_id == customer_id,
            ConsentRecord.channel == "paper_form",
            ConsentRecord.form_reference == reference,
            ConsentRecord.purpose == purpose,
            ConsentRecord.provider_id.is_(None) if provider_id is None else ConsentRecord.provider_id == provider_id,
        )
    )
    code = session.scalar(select(Provider.code).where(Provider.id == provider_id)) if provider_id else None
    if old is not None:
        if old.granted != is_granted:
            raise conflict(
                "duplicate_conflict",
                f"form '{reference}' was already recorded for {purpose} with granted={str(old.granted).lower()}",
                [FieldProblem("form_reference", "already recorded with a different answer")],
            )
        return record_view(old, code), False
    row = record(
        session,
        customer_id,
        purpose,
        is_granted,
        channel="paper_form",
        actor=actor,
        provider_id=provider_id,
        form_reference=reference,
        signed_at=signed_at,
        now=now,
    )
    session.add(
        AuditEvent(
            actor=actor,
            action="consent.recorded",
            object_type="customer",
            object_id=str(customer_id),
            details={"purpose": purpose, "granted": is_granted, "form_reference": reference, "record_id": row.id},
        )
    )
    return record_view(row, code), True


# -- effects ----------------------------------------------------------------------------------------------


def provider_view(session: Session, customer_id: int, view: dict[str, Any], provider_id: int | None) -> dict[str, Any]:
    """What a provider sees of a member: without ``cross_provider_sharing``, only its own ledger lines and
    transactions besides the programme-wide balance and tier (and the programme's own lines, which name no
    provider); staff (``provider_id`` None) see everything."""
    if provider_id is None:
        return view
    if granted(session, customer_id, SHARING):
        return {**view, "shared": True}
    code = session.scalar(select(Provider.code).where(Provider.id == provider_id))
    ledger, tiers = view.get("ledger", []), view.get("tier_history", [])
    named = {x["transaction_id"] for x in [*ledger, *tiers] if x.get("transaction_id") is not None}
    own_txns = (
        set(
            session.scalars(
                select(Transaction.id).where(Transaction.id.in_(sorted(named)), Transaction.provider_id == provider_id)
            )
        )
        if named
        else set()
    )
    out = dict(view)
    # its own lines, and the programme's own that belong to no other provider's transaction (opening balances,
    # expiry, staff adjustments), so the balance still adds up; those keep no free text, campaign or rule
    out["ledger"] = [
        e if e.get("provider") == code else {**e, "note": None, "campaign": None, "rule": None}
        for e in ledger
        if e.get("provider") == code
        or (e.get("provider") is None and (e.get("transaction_id") is None or e["transaction_id"] in own_txns))
    ]
    if "transactions" in view:
        out["transactions"] = [t for t in view["transactions"] if t.get("provider") == code]
    out["redemptions"] = []
    out["tier_history"] = [
        {**h, "transaction_id": h["transaction_id"] if h.get("transaction_id") in own_txns else None} for h in tiers
    ]
    out["shared"] = False
    return out


def may_send(session: Session, customer_id: int | None, marketing: bool) -> bool:
    """A marketing message goes only to someone who granted ``marketing``; service messages always go."""
    return not marketing or (customer_id is not None and granted(session, customer_id, MARKETING))
