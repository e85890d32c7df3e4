"""Erasure: a person's identities and personal fields are replaced by keyed hashes or removed.

What goes: phone numbers and national IDs (current and past) become ``h:`` + HMAC-SHA256(secret, kind:value),
the birth date, tags, claim texts, inbound SMS and USSD texts and the bodies of messages sent are removed, codes
are deleted and app tokens revoked. What stays: the customer row (now pseudonymous), its ledger, point lots,
transactions, redemptions and settlement statements, because accounting must keep them; the points stay on the
pseudonymous id and expire under the programme's rules (nobody can spend them: no identity reaches the id).

The hash is keyed and deterministic, so the same number always hashes the same: the erased id can be matched
to a number only by someone holding both the number and the secret, and no lookup of the plain number finds
it. The number is released at once (no quarantine: its holder is the person who asked), so its next use
creates a new customer; a late transaction naming it never reaches the erased id (``released_from`` is
cleared), and ``phones reattach`` cannot give it back (the history holds only the hash).

Staff erasure takes two admins: one requests (:func:`request`), a different one approves (:func:`approve`).
A person's own request (portal) is the first signature, so one admin approves it. The CLI
(``flask customers erase``) is for operators, who already hold the database; it records who ran it and, when
given, who approved it.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from campaigns.care import alerts
from campaigns.clock import utcnow
from campaigns.customers.identity import PHONE
from campaigns.errors import DomainError, FieldProblem, conflict, not_found
from campaigns.models import (
    AuditEvent,
    Claim,
    ClaimEvent,
    Customer,
    CustomerIdentity,
    CustomerTag,
    CustomerToken,
    ErasureRequest,
    ErasureSource,
    IdentityEvent,
    IdentityHistory,
    OtpCode,
    Outbox,
    PhoneState,
    SmsInbound,
    UssdSession,
)
from campaigns.privacy.masking import HASHED_PREFIX

# Decree 13/2023/ND-CP art. 16: the controller erases within 72 hours of the person's request.
DEADLINE = timedelta(hours=72)
ERASED = "erased"


def keyed(secret: str, kind: str, value: str) -> str:
    """``h:`` and 30 hex digits of HMAC-SHA256 (fits the 32-character identity columns)."""
    if value.startswith(HASHED_PREFIX):
        return value
    digest = hmac.new(secret.encode(), f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return HASHED_PREFIX + digest[:30]


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("validation_error", "reason: is required", [FieldProblem("reason", "is required")])
    if len(reason) > 500:
        raise DomainError("validation_error", "reason: 500 characters at most", [FieldProblem("reason", "500 at most")])
    return reason


def _audit(session: Session, actor: str, action: str, customer_id: int, details: dict[str, Any]) -> None:
    session.add(
        AuditEvent(actor=actor, action=action, object_type="customer", object_id=str(customer_id), details=details)
    )


def erased(session: Session, customer_id: int) -> bool:
    return (
        session.scalar(
            select(ErasureRequest.id)
            .where(ErasureRequest.customer_id == customer_id, ErasureRequest.status == "done")
            .limit(1)
        )
        is not None
    )


def _customer(session: Session, customer_id: int) -> Customer:
    customer = session.get(Customer, customer_id, with_for_update=True)
    if customer is None:
        raise not_found(f"customer {customer_id}")
    if customer.merged_into is not None:
        raise conflict(
            "merged",
            f"customer {customer_id} was merged into customer {customer.merged_into}: erase that one",
            [FieldProblem("customer_id", f"merged into {customer.merged_into}")],
        )
    if erased(session, customer_id):
        raise conflict("already_erased", f"customer {customer_id} is already erased")
    return customer


def request_view(r: ErasureRequest) -> dict[str, Any]:
    return {
        "id": r.id,
        "customer_id": r.customer_id,
        "source": r.source,
        "reason": r.reason,
        "requested_by": r.requested_by,
        "requested_at": r.requested_at,
        "due_at": r.due_at,
        "status": r.status,
        "decided_by": r.decided_by,
        "decided_at": r.decided_at,
        "decision": r.decision,
    }


def open_request(session: Session, customer_id: int) -> ErasureRequest | None:
    return session.scalar(
        select(ErasureRequest)
        .where(ErasureRequest.customer_id == customer_id, ErasureRequest.status == "open")
        .order_by(ErasureRequest.id)
        .limit(1)
    )


def open_requests(session: Session) -> list[ErasureRequest]:
    """The open cases, the one closest to its legal deadline first."""
    return list(
        session.scalars(select(ErasureRequest).where(ErasureRequest.status == "open").order_by(ErasureRequest.due_at))
    )


def check_deadlines(session: Session, now: datetime | None = None) -> int:
    """One care alert (kind ``erasure``) per open request: a warning while it waits, overdue past its legal
    deadline; it clears when the request is decided. Run on every change and by the care monitor."""
    now = now or utcnow()
    conditions = [
        alerts.Condition(
            key=f"erasure:{r.id}",
            severity="overdue" if now >= r.due_at else "warning",
            subject=f"Erasure of customer #{r.customer_id} requested ({r.source}), due {r.due_at:%Y-%m-%d %H:%M} UTC",
            message=f"{r.requested_by} asked on {r.requested_at:%Y-%m-%d %H:%M} UTC: {r.reason}",
            suggested_action="An admin other than the requester approves it on the customer's page.",
            count=1,
            oldest_at=r.requested_at,
            details={"request_id": r.id, "customer_id": r.customer_id},
        )
        for r in open_requests(session)
    ]
    alerts.reconcile(session, "erasure", conditions, now)
    return len(conditions)


def request(
    session: Session,
    customer_id: int,
    reason: str,
    *,
    actor: str,
    source: ErasureSource = "staff",
    now: datetime | None = None,
) -> tuple[ErasureRequest, bool]:
    """Open the case (due in 72 hours); returns (request, created). The person asking twice gets the same case;
    staff asking for a customer with an open case are told so (409)."""
    now = now or utcnow()
    reason = _reason(reason)
    _customer(session, customer_id)
    pending = open_request(session, customer_id)
    if pending is not None:
        if source != "staff":
            return pending, False
        raise conflict(
            "erasure_pending",
            f"erasure request {pending.id} for customer {customer_id} already waits for approval",
            [FieldProblem("customer_id", f"request {pending.id} is open")],
        )
    req = ErasureRequest(
        customer_id=customer_id,
        source=source,
        reason=reason,
        requested_by=actor,
        requested_at=now,
        due_at=now + DEADLINE,
        status="open",
    )
    session.add(req)
    session.flush()
    _audit(session, actor, "customer.erasure_requested", customer_id, {"request_id": req.id, "source": source})
    check_deadlines(session, now)
    return req, True


def approve(
    session: Session, request_id: int, *, actor: str, secret: str, now: datetime | None = None
) -> dict[str, Any]:
    """A second admin approves and the erasure runs; the admin who asked cannot approve (403)."""
    req = session.get(ErasureRequest, request_id, with_for_update=True)
    if req is None:
        raise not_found(f"erasure request {request_id}")
    if req.status != "open":
        raise conflict("not_open", f"erasure request {request_id} is {req.status}")
    if req.requested_by == actor:
        raise DomainError(
            "same_approver",
            "a different admin must approve an erasure you requested",
            [FieldProblem("approved_by", "must not be the admin who requested it")],
            403,
        )
    return erase(
        session,
        req.customer_id,
        reason=req.reason,
        actor=req.requested_by,
        approved_by=actor,
        secret=secret,
        request=req,
        now=now,
    )


def reject(
    session: Session, request_id: int, *, actor: str, reason: str, now: datetime | None = None
) -> ErasureRequest:
    """Close a case without erasing (e.g. the law requires keeping the data, or the request was not the person's);
    the reason is kept on the case and in the audit log."""
    now = now or utcnow()
    reason = _reason(reason)
    req = session.get(ErasureRequest, request_id, with_for_update=True)
    if req is None:
        raise not_found(f"erasure request {request_id}")
    if req.status != "open":
        raise conflict("not_open", f"erasure request {request_id} is {req.status}")
    req.status, req.decided_by, req.decided_at, req.decision = "rejected", actor, now, reason
    session.flush()
    _audit(session, actor, "customer.erasure_rejected", req.customer_id, {"request_id": req.id, "reason": reason})
    check_deadlines(session, now)
    return req


def erase(
    session: Session,
    customer_id: int,
    *,
    reason: str,
    actor: str,
    secret: str,
    approved_by: str | None = None,
    request: ErasureRequest | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Pseudonymise the customer now (no commit); returns what was done, also written to the audit event."""
    now = now or utcnow()
    reason = _reason(reason)
    customer = _customer(session, customer_id)
    cid = customer.id
    idents = list(session.scalars(select(CustomerIdentity).where(CustomerIdentity.customer_id == cid)))
    phones = [i.value for i in idents if i.kind == PHONE]
    for ident in idents:
        session.add(
            IdentityHistory(
                customer_id=cid,
                kind=ident.kind,
                value=keyed(secret, ident.kind, ident.value),
                linked_at=ident.created_at,
                released_at=now,
                reason=ERASED,
            )
        )
    session.execute(delete(CustomerIdentity).where(CustomerIdentity.customer_id == cid))
    for past in session.scalars(select(IdentityHistory).where(IdentityHistory.customer_id == cid)):
        past.value = keyed(secret, past.kind, past.value)
    for ev in session.scalars(select(IdentityEvent).where(IdentityEvent.customer_id == cid)):
        ev.phone = keyed(secret, PHONE, ev.phone)
    # a late transaction naming a number released from this customer must not reach the erased id
    session.execute(update(PhoneState).where(PhoneState.released_from == cid).values(released_from=None))
    customer.birth_date = None
    session.execute(delete(CustomerTag).where(CustomerTag.customer_id == cid))
    session.execute(delete(OtpCode).where(OtpCode.customer_id == cid))
    session.execute(
        update(CustomerToken)
        .where(CustomerToken.customer_id == cid)
        .values(phone=None, revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    for sms in session.scalars(select(SmsInbound).where(SmsInbound.customer_id == cid)):
        sms.phone, sms.text, sms.reply, sms.argument = keyed(secret, PHONE, sms.phone), "", None, None
    for log in session.scalars(select(UssdSession).where(UssdSession.customer_id == cid)):
        log.phone, log.text = keyed(secret, PHONE, log.phone), ""
    session.execute(
        update(Outbox)
        .where(Outbox.customer_id == cid, Outbox.channel == "sms", Outbox.status == "pending")
        .values(status="suppressed")
    )
    session.execute(
        update(Outbox)
        .where(Outbox.customer_id == cid, Outbox.channel == "sms")
        .values(body=None, recipient=None, payload={})
    )
    claim_ids = list(session.scalars(select(Claim.id).where(Claim.customer_id == cid)))
    if claim_ids:
        session.execute(update(Claim).where(Claim.id.in_(claim_ids)).values(description="", resolution=None))
        session.execute(update(ClaimEvent).where(ClaimEvent.claim_id.in_(claim_ids)).values(note=""))
    request = request or open_request(session, cid)  # the operator's erasure closes the person's open case
    if request is None:
        request = ErasureRequest(
            customer_id=cid,
            source="staff",
            reason=reason,
            requested_by=actor,
            requested_at=now,
            due_at=now,
        )
        session.add(request)
    request.status, request.decided_by, request.decided_at = "done", approved_by or actor, now
    session.flush()
    check_deadlines(session, now)
    done = {
        "customer_id": cid,
        "request_id": request.id,
        "identities": len(idents),
        "phones_released": len(phones),
        "claims": len(claim_ids),
        "requested_by": request.requested_by,
        "approved_by": approved_by,
        "erased_at": now,
    }
    _audit(
        session,
        approved_by or actor,
        "customer.erased",
        cid,
        {**{k: v for k, v in done.items() if k != "erased_at"}, "reason": reason},
    )
    return done
