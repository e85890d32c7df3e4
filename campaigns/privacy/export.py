"""Access and portability: one JSON document of everything held about a person.

The document is built from a registry of *sections*, each a function of (session, customer id); a context that
starts holding personal data registers its own section (:func:`register`) instead of this module growing a copy
of its queries. The consent section is the one ``campaigns.consent`` shows the person.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.accounts.ledger import customer_view
from campaigns.clock import utcnow
from campaigns.consent import consents
from campaigns.customers.identity import identities_of
from campaigns.errors import not_found
from campaigns.models import (
    AuditEvent,
    Claim,
    ClaimEvent,
    Customer,
    CustomerTag,
    ErasureRequest,
    IdentityEvent,
    IdentityHistory,
    LedgerEntry,
    Outbox,
    PointLot,
    Provider,
    Redemption,
    Reward,
    SmsInbound,
    TierChange,
    Transaction,
    UssdSession,
)

Section = Callable[[Session, int], Any]
SECTIONS: dict[str, Section] = {}
FORMAT = "loyalty-personal-data/1"


def register(name: str, section: Section) -> None:
    """Add a section to every export from now on (a second registration of a name replaces the first)."""
    SECTIONS[name] = section


def _row(obj: Any, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of an ORM row: an export leaves nothing out by forgetting to list it."""
    return {c.key: getattr(obj, c.key) for c in obj.__mapper__.column_attrs if c.key not in skip}


def _profile(session: Session, cid: int) -> dict[str, Any]:
    customer = session.get(Customer, cid)
    assert customer is not None
    tags = sorted(session.scalars(select(CustomerTag.tag).where(CustomerTag.customer_id == cid)))
    return {**_row(customer), "tags": tags}


def _identities(session: Session, cid: int) -> dict[str, Any]:
    history = session.scalars(select(IdentityHistory).where(IdentityHistory.customer_id == cid))
    events = session.scalars(select(IdentityEvent).where(IdentityEvent.customer_id == cid))
    return {
        "current": identities_of(session, cid),
        "history": [_row(h, ("customer_id",)) for h in history],
        "lifecycle_events": [_row(e, ("body_hash", "customer_id")) for e in events],
    }


def _balance(session: Session, cid: int) -> dict[str, Any]:
    view = customer_view(session, cid, limit=1) or {}
    return {k: v for k, v in view.items() if k != "ledger"}


def _ledger(session: Session, cid: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(LedgerEntry).where(LedgerEntry.customer_id == cid).order_by(LedgerEntry.id))
    return [_row(e, ("entry_key",)) for e in rows]


def _lots(session: Session, cid: int) -> list[dict[str, Any]]:
    return [_row(lot) for lot in session.scalars(select(PointLot).where(PointLot.customer_id == cid))]


def _tiers(session: Session, cid: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(TierChange).where(TierChange.customer_id == cid).order_by(TierChange.id))
    return [_row(t) for t in rows]


def _transactions(session: Session, cid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Transaction, Provider.code)
        .join(Provider, Provider.id == Transaction.provider_id)
        .where(Transaction.customer_id == cid)
        .order_by(Transaction.id)
    )
    return [{**_row(t, ("body_hash", "provider_id")), "provider": code} for t, code in rows]


def _redemptions(session: Session, cid: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Redemption, Reward.code, Reward.name)
        .join(Reward, Reward.id == Redemption.reward_id)
        .where(Redemption.customer_id == cid)
        .order_by(Redemption.id)
    )
    return [{**_row(r, ("idempotency_key",)), "reward": code, "reward_name": name} for r, code, name in rows]


def _claims(session: Session, cid: int) -> list[dict[str, Any]]:
    claims = list(session.scalars(select(Claim).where(Claim.customer_id == cid).order_by(Claim.id)))
    events: dict[int, list[dict[str, Any]]] = {c.id: [] for c in claims}
    if claims:
        for ev in session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id.in_(events)).order_by(ClaimEvent.id)):
            events[ev.claim_id].append(_row(ev, ("claim_id",)))
    return [{**_row(c, ("filed_ref",)), "events": events[c.id]} for c in claims]


def _messages(session: Session, cid: int) -> dict[str, Any]:
    """Messages sent to the person (SMS outbox) and received from them (keywords, USSD sessions)."""
    sent = session.scalars(select(Outbox).where(Outbox.customer_id == cid, Outbox.channel == "sms").order_by(Outbox.id))
    received = session.scalars(select(SmsInbound).where(SmsInbound.customer_id == cid).order_by(SmsInbound.id))
    ussd = session.scalars(select(UssdSession).where(UssdSession.customer_id == cid).order_by(UssdSession.id))
    return {
        "sent": [_row(m, ("dedupe_key", "last_error", "attempts", "next_attempt_at")) for m in sent],
        "received_sms": [_row(m, ("message_id",)) for m in received],
        "ussd_sessions": [_row(u) for u in ussd],
    }


def _requests(session: Session, cid: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(ErasureRequest).where(ErasureRequest.customer_id == cid))
    return [_row(r) for r in rows]


for _name, _section in (
    ("profile", _profile),
    ("identities", _identities),
    ("balance", _balance),
    ("ledger", _ledger),
    ("point_lots", _lots),
    ("tier_changes", _tiers),
    ("transactions", _transactions),
    ("redemptions", _redemptions),
    ("claims", _claims),
    ("messages", _messages),
    ("erasure_requests", _requests),
    ("consents", consents.view),
):
    register(_name, _section)


def document(session: Session, customer_id: int) -> dict[str, Any]:
    """Everything held about the person, section by section (404 when there is no such customer)."""
    if session.get(Customer, customer_id) is None:
        raise not_found(f"customer {customer_id}")
    return {
        "format": FORMAT,
        "customer_id": customer_id,
        "generated_at": utcnow(),
        "sections": list(SECTIONS),
        **{name: section(session, customer_id) for name, section in SECTIONS.items()},
    }


def staff_document(session: Session, customer_id: int, *, actor: str, role: str) -> dict[str, Any]:
    """The same document for a care agent or admin; each export is an audit event (no commit)."""
    doc = document(session, customer_id)
    session.add(
        AuditEvent(
            actor=actor,
            action="customer.data_exported",
            object_type="customer",
            object_id=str(customer_id),
            details={"role": role, "sections": doc["sections"]},
        )
    )
    return doc
