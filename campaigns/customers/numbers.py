"""Phone numbers have a lifecycle: the operator recycles them and SIMs get swapped.

The phone authority (a provider flagged ``phone_authority``) posts ``number_released`` and ``sim_swapped``
events. A release detaches the number from its customer (kept in ``identity_history``), ends every session
and pending code signed in through it, and quarantines it for ``number_quarantine_days``: nothing naming it
is accepted or credited. A SIM swap holds spending through the number for ``sim_swap_hold_hours`` and raises
a care alert on the first attempt. Every channel asks the functions here, so the rules live in one place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple, Protocol

from sqlalchemy import bindparam, delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.access.providers import is_phone_authority
from campaigns.catalog import programme
from campaigns.clock import utcnow
from campaigns.customers.identity import PHONE, find_customer
from campaigns.errors import DomainError, FieldProblem, conflict, not_found
from campaigns.models import (
    Alert,
    AuditEvent,
    CustomerIdentity,
    CustomerToken,
    IdentityEvent,
    IdentityHistory,
    OtpCode,
    PhoneState,
)
from campaigns.sql import insert_ignore, table_of

RELEASED, SWAPPED = "number_released", "sim_swapped"
QUARANTINED = "number_quarantined"
HOLD = "sim_swap_hold"


class LifecycleEvent(Protocol):
    """What an event carries (``campaigns.schemas.IdentityEventIn`` validates it at the edge)."""

    provider_event_id: str
    event: str
    phone: str
    occurred_at: datetime

    def body_hash(self) -> str: ...


def _audit(session: Session, actor: str, action: str, phone: str, details: dict[str, Any]) -> None:
    session.add(AuditEvent(actor=actor, action=action, object_type="phone", object_id=phone, details=details))


def _state(session: Session, phone: str, now: datetime) -> PhoneState:
    """The number's row, locked: every lifecycle change of one number is serialised on it."""
    state = session.get(PhoneState, phone, with_for_update=True, populate_existing=True)
    if state is None:
        try:
            with session.begin_nested():
                session.add(PhoneState(phone=phone, updated_at=now))
        except IntegrityError:
            pass
        state = session.get(PhoneState, phone, with_for_update=True, populate_existing=True)
    assert state is not None
    state.updated_at = now
    return state


def event_view(ev: IdentityEvent) -> dict[str, Any]:
    return {
        "id": ev.id,
        "provider_event_id": ev.provider_event_id,
        "event": ev.event,
        "phone": ev.phone,
        "occurred_at": ev.occurred_at,
        "received_at": ev.received_at,
        "customer_id": ev.customer_id,
    }


def require_authority(session: Session, provider_id: int | None) -> None:
    if not is_phone_authority(session, provider_id):
        raise DomainError(
            "forbidden", "only the provider that is the authority for phone numbers may post these", status=403
        )


def record_event(
    session: Session, provider_id: int | None, body: LifecycleEvent, *, actor: str, now: datetime | None = None
) -> tuple[dict[str, Any], bool]:
    """Apply one lifecycle event once; a replay with the same body returns the original (no commit)."""
    now = now or utcnow()
    require_authority(session, provider_id)
    assert provider_id is not None
    digest = body.body_hash()
    old = session.scalar(
        select(IdentityEvent).where(
            IdentityEvent.provider_id == provider_id, IdentityEvent.provider_event_id == body.provider_event_id
        )
    )
    if old is None:
        state = _state(session, body.phone, now)  # a replay racing its original waits here
        old = session.scalar(
            select(IdentityEvent).where(
                IdentityEvent.provider_id == provider_id, IdentityEvent.provider_event_id == body.provider_event_id
            )
        )
    if old is not None:
        if old.body_hash != digest:
            raise conflict(
                "duplicate_conflict",
                f"id '{body.provider_event_id}' was already used with a different body",
                [FieldProblem("provider_event_id", "already used with a different body")],
            )
        return event_view(old), False
    ev = IdentityEvent(
        provider_id=provider_id,
        provider_event_id=body.provider_event_id,
        event=body.event,
        phone=body.phone,
        occurred_at=body.occurred_at,
        received_at=now,
        body_hash=digest,
    )
    session.add(ev)
    session.flush()
    prog = programme.load(session)
    if body.event == RELEASED:
        _release(session, state, ev, now, timedelta(days=prog.number_quarantine_days), actor)
    else:
        ev.customer_id = find_customer(session, PHONE, body.phone)
        state.swapped_at, state.swap_event_id = body.occurred_at, ev.id
        state.hold_until = body.occurred_at + timedelta(hours=prog.sim_swap_hold_hours)
        state.hold_lifted_at = state.hold_lifted_by = None
        _audit(session, actor, "phone.sim_swapped", body.phone, {"event_id": ev.id, "customer_id": ev.customer_id})
    session.flush()
    return event_view(ev), True


def _release(
    session: Session, state: PhoneState, ev: IdentityEvent, now: datetime, quarantine: timedelta, actor: str
) -> None:
    ident = session.scalar(
        select(CustomerIdentity)
        .where(CustomerIdentity.kind == PHONE, CustomerIdentity.value == ev.phone)
        .with_for_update()
    )
    cid = ident.customer_id if ident is not None else None
    if ident is not None:
        session.add(
            IdentityHistory(
                customer_id=cid,
                kind=PHONE,
                value=ev.phone,
                linked_at=ident.created_at,
                released_at=ev.occurred_at,
                reason=RELEASED,
                event_id=ev.id,
            )
        )
        session.execute(delete(CustomerIdentity).where(CustomerIdentity.id == ident.id))
    ev.customer_id = cid
    state.released_at, state.quarantine_until = ev.occurred_at, ev.occurred_at + quarantine
    state.released_from = cid if cid is not None else state.released_from
    # Whoever signed in through this number is no longer its holder: their codes and tokens end now.
    session.execute(update(OtpCode).where(OtpCode.phone == ev.phone, OtpCode.used_at.is_(None)).values(used_at=now))
    tokens = CustomerToken.phone == ev.phone
    if cid is not None:
        tokens = or_(tokens, (CustomerToken.customer_id == cid) & CustomerToken.phone.is_(None))
    session.execute(update(CustomerToken).where(tokens, CustomerToken.revoked_at.is_(None)).values(revoked_at=now))
    _audit(session, actor, "phone.released", ev.phone, {"event_id": ev.id, "customer_id": cid})


# -- checks used by every channel ---------------------------------------------------------------------


def quarantined(session: Session, phone: str, at: datetime) -> PhoneState | None:
    """The number's state when ``at`` falls in its quarantine, else None."""
    state = session.get(PhoneState, phone)
    if state is None or state.released_at is None or state.quarantine_until is None:
        return None
    return state if state.released_at <= at < state.quarantine_until else None


class _Quarantined(Protocol):
    @property
    def quarantine_until(self) -> datetime | None: ...


def quarantine_error(state: _Quarantined, path: str = "phone") -> DomainError:
    until = state.quarantine_until.date().isoformat() if state.quarantine_until else ""
    reason = f"this number was released by its operator and is quarantined until {until}"
    return DomainError(QUARANTINED, f"{path}: {reason}", [FieldProblem(path, reason)], 422)


def refuse_if_quarantined(session: Session, phone: str, now: datetime | None = None, path: str = "phone") -> None:
    state = quarantined(session, phone, now or utcnow())
    if state is not None:
        raise quarantine_error(state, path)


class _Route(NamedTuple):
    """What routing a transaction needs of its number's state (plain columns: no ORM identity map per read)."""

    phone: str
    released_at: datetime | None
    released_from: int | None
    quarantine_until: datetime | None


def _shared_states(session: Session, phones: set[str]) -> dict[str, _Route]:
    """Shared locks: a release of one of these numbers in flight is waited for, not half-seen."""
    if not phones:
        return {}
    conn = session.connection()
    if len(phones) == 1:
        rows = conn.execute(_SHARED_STATE, {"phone": next(iter(phones))})
    else:
        rows = conn.execute(_SHARED_STATES, {"phones": sorted(phones)})
    return {row.phone: _Route(*row) for row in rows}


# Built once and run on the session's connection (Core, not the ORM's execute): on a single POST, building the
# statement and the ORM's per-execute steps cost more than the round trip itself; one number is compared, not
# looked up in an expanding IN list (which is rendered again at every execution).
_STATE_COLUMNS = (PhoneState.phone, PhoneState.released_at, PhoneState.released_from, PhoneState.quarantine_until)
_SHARED_STATE = select(*_STATE_COLUMNS).where(PhoneState.phone == bindparam("phone")).with_for_update(read=True)
_SHARED_STATES = (
    select(*_STATE_COLUMNS).where(PhoneState.phone.in_(bindparam("phones", expanding=True))).with_for_update(read=True)
)


def route_transactions(
    session: Session, items: Sequence[tuple[str | None, datetime]], path: str = "customer.phone"
) -> list[int | DomainError | None]:
    """Per (phone, occurred_at): the old holder's id for a late transaction from before a release, an error
    for one that falls in the quarantine, None to resolve the customer as usual. One read per batch."""
    phones = {p for p, _ in items if p}
    states = _shared_states(session, phones)
    missing = phones - states.keys()
    if missing:
        # A number's first-ever event has no row to lock: create it (a release racing us inserts the same
        # row, so one waits for the other). The rows this statement created are ours, locked and blank; only
        # a number somebody else created meanwhile is read again, locked like the rest.
        now = utcnow()
        created = insert_ignore(
            session, table_of(PhoneState), [{"phone": p, "updated_at": now} for p in sorted(missing)]
        )
        if created != len(missing):
            states.update(_shared_states(session, missing))
    out: list[int | DomainError | None] = []
    for phone, at in items:
        state = states.get(phone or "")
        if state is None or state.released_at is None:
            out.append(None)
        elif at < state.released_at and state.released_from is not None:
            out.append(state.released_from)
        elif state.quarantine_until is not None and at < state.quarantine_until:
            out.append(quarantine_error(state, path))
        else:
            out.append(None)
    return out


def check_hold(
    session: Session, phones: Iterable[str], *, action: str, customer_id: int | None, now: datetime | None = None
) -> None:
    """Refuse ``action`` (a redemption, a group or identity change) made through a recently swapped SIM.

    The first attempt raises a ``sim_swap`` care alert, written in its own transaction so that it stays
    when the caller rolls the refused request back.
    """
    now = now or utcnow()
    phones = sorted(set(phones))
    if not phones:
        return
    state = session.scalar(
        select(PhoneState)
        .where(
            PhoneState.phone.in_(phones),
            PhoneState.swapped_at <= now,
            PhoneState.hold_until > now,
            PhoneState.hold_lifted_at.is_(None),
        )
        .limit(1)
    )
    if state is None:
        return
    _alert_once(session, state, customer_id, action, now)
    assert state.hold_until is not None
    until = state.hold_until.strftime("%Y-%m-%d %H:%M UTC")
    reason = f"the SIM of this number was changed recently; {action} through it is held until {until}"
    raise DomainError(
        HOLD,
        f"{reason}. Please call customer care to confirm your identity.",
        [FieldProblem("phone", reason)],
        409,
    )


def _alert_key(state: PhoneState) -> str:
    return f"sim_swap:{state.phone}:{state.swap_event_id}"


def _alert_once(session: Session, state: PhoneState, customer_id: int | None, action: str, now: datetime) -> None:
    """A ``sim_swap`` care alert (worked like the monitors' alerts), once per swap, in its own transaction."""
    key = _alert_key(state)
    alert = Alert(
        key=key,
        active_key=key,
        kind="sim_swap",
        severity="warning",
        status="open",
        subject=f"SIM swap: {action} held for {state.phone}"[:200],
        message=f"Someone tried {action} through {state.phone} (customer {customer_id}) after its SIM was swapped "
        f"at {state.swapped_at:%Y-%m-%d %H:%M} UTC.",
        suggested_action="Call the customer on a known channel, check the national ID, then lift the hold.",
        count=1,
        oldest_at=now,
        details={"phone": state.phone, "customer_id": customer_id, "action": action, "event_id": state.swap_event_id},
        escalation=0,
        times_raised=1,
        raised_at=now,
        seen_at=now,
    )
    with Session(session.get_bind()) as own:
        if own.scalar(select(Alert.id).where(Alert.key == key).limit(1)) is not None:
            return
        own.add(alert)
        try:
            own.commit()
        except IntegrityError:  # a concurrent attempt raised it first
            own.rollback()


def lift_hold(session: Session, phone: str, *, actor: str, reason: str, now: datetime | None = None) -> PhoneState:
    """Staff checked the person: spending through the number works again (audited)."""
    now = now or utcnow()
    if not (reason or "").strip():
        raise DomainError("validation_error", "reason: is required", [FieldProblem("reason", "is required")])
    state = session.get(PhoneState, phone, with_for_update=True)
    if state is None or state.hold_until is None or state.hold_lifted_at is not None or state.hold_until <= now:
        raise not_found(f"a SIM-swap hold on {phone}")
    state.hold_lifted_at, state.hold_lifted_by = now, actor
    for alert in session.scalars(select(Alert).where(Alert.active_key == _alert_key(state)).with_for_update()):
        alert.status, alert.active_key = "resolved", None
        alert.resolved_at, alert.resolved_by, alert.resolution = now, actor, reason[:1000]
    _audit(
        session, actor, "phone.hold_lifted", phone, {"reason": reason.strip()[:500], "event_id": state.swap_event_id}
    )
    return state


def reattach(session: Session, phone: str, *, actor: str, reason: str, now: datetime | None = None) -> int:
    """A ported-back number: give it back to the customer it was released from (audited); returns that id."""
    now = now or utcnow()
    if not (reason or "").strip():
        raise DomainError("validation_error", "reason: is required", [FieldProblem("reason", "is required")])
    state = _state(session, phone, now)
    past = session.scalar(
        select(IdentityHistory)
        .where(IdentityHistory.kind == PHONE, IdentityHistory.value == phone, IdentityHistory.reattached_at.is_(None))
        .order_by(IdentityHistory.id.desc())
        .limit(1)
        .with_for_update()
    )
    if past is None:
        raise not_found(f"a released identity {phone}")
    holder = find_customer(session, PHONE, phone)
    if holder is not None:
        raise conflict(
            "identity_conflict",
            f"{phone} now belongs to customer {holder}; a staff member must resolve that first",
            [FieldProblem("phone", f"belongs to customer {holder}")],
        )
    session.add(CustomerIdentity(customer_id=past.customer_id, kind=PHONE, value=phone, created_at=now))
    past.reattached_at, past.reattached_by = now, actor
    state.released_at = state.quarantine_until = state.released_from = None
    _audit(
        session,
        actor,
        "phone.reattached",
        phone,
        {"customer_id": past.customer_id, "reason": reason.strip()[:500], "history_id": past.id},
    )
    session.flush()
    return past.customer_id


def signed_in_through(session: Session, customer_id: int, phone: str | None) -> bool:
    """A portal or app session stays valid only while its phone still belongs to its customer."""
    return phone is not None and find_customer(session, PHONE, phone) == customer_id


def history_of(session: Session, customer_id: int) -> list[dict[str, Any]]:
    return [
        {
            "type": h.kind,
            "value": h.value,
            "linked_at": h.linked_at,
            "released_at": h.released_at,
            "reason": h.reason,
            "reattached_at": h.reattached_at,
        }
        for h in session.scalars(
            select(IdentityHistory).where(IdentityHistory.customer_id == customer_id).order_by(IdentityHistory.id)
        )
    ]


def state_view(session: Session, phone: str, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    state = session.get(PhoneState, phone)
    q = quarantined(session, phone, now)
    held = (
        state is not None
        and state.hold_until is not None
        and state.hold_lifted_at is None
        and state.swapped_at is not None
        and state.swapped_at <= now < state.hold_until
    )
    return {
        "phone": phone,
        "customer_id": find_customer(session, PHONE, phone),
        "released_at": state.released_at if state else None,
        "released_from": state.released_from if state else None,
        "quarantined": q is not None,
        "quarantine_until": state.quarantine_until if state else None,
        "sim_swapped_at": state.swapped_at if state else None,
        "hold": held,
        "hold_until": state.hold_until if state else None,
        "hold_lifted_at": state.hold_lifted_at if state else None,
    }
