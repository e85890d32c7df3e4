"""Missing-points claims: filing from every channel, the care workflow with deadlines, matching, alerts.

Workflow: ``open`` (filed) -> ``assigned`` (in the responsible provider's
queue; a claim whose provider is unknown goes to the programme's care queue,
``provider_id`` NULL) -> ``investigating`` (someone took it) -> ``resolved``
(points credited through an audited manual adjustment, or the claim matched a
transaction that was credited) or ``rejected`` (with a reason the customer is
told by SMS). Every step is a ``claim_events`` row and an audit event.

Deadlines: each live state allows a number of hours (programme setting
``claim_deadlines``, defaults open 4 h, assigned 24 h, investigating 72 h);
``due_at`` is set when the claim enters the state. The care monitor raises one
alert per late claim, key ``claim:<id>``, kind ``claim``: ``warning`` once
``warning_share`` of the time has passed, ``overdue`` past the deadline,
``critical`` once ``critical_factor`` times the time allowed has passed.
One alert per claim rather than one per provider and state, because a claim is
a customer waiting for an answer: whoever acknowledges the alert owns that
customer's case, the claim page shows its alert and who it is in front of, and
the alerts list (filtered by kind ``claim`` and scoped by provider) still
reads as a provider's backlog. The alert's provider is the claim's queue, so a
provider user sees the alerts of its own queue. Unacknowledged alerts climb the
escalation chain of :mod:`campaigns.care.alerts` (responsible unit -> provider
manager -> programme admin; critical starts at the manager), and clear when the
claim moves on or closes.

Matching never credits: a claim matched to a credited transaction is resolved
with "credited on <date> by transaction X"; one matched to a transaction still
queued waits for it, and the monitor's auto-match resolves it once the worker
has credited it (also for claims whose reference has since arrived). A claim
whose transaction was credited cannot be resolved with an adjustment, so the
customer is never credited twice.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns import localdays
from campaigns.accounts import adjustments
from campaigns.accounts.profile import transaction_rows
from campaigns.care import alerts
from campaigns.catalog import programme
from campaigns.clock import utcnow
from campaigns.errors import DomainError, FieldProblem, conflict, invalid, not_found
from campaigns.i18n import N_
from campaigns.models import (
    Alert,
    AuditEvent,
    Claim,
    ClaimEvent,
    ClaimState,
    Customer,
    LedgerEntry,
    Provider,
    Transaction,
)
from campaigns.notify.outbox import queue_sms
from campaigns.permissions import UNLIMITED, Scope
from campaigns.schemas import MAX_AMOUNT

STATES: tuple[ClaimState, ...] = ("open", "assigned", "investigating", "resolved", "rejected")
LIVE: tuple[ClaimState, ...] = ("open", "assigned", "investigating")
CLOSED: tuple[ClaimState, ...] = ("resolved", "rejected")
CHANNELS = ("portal", "app", "sms", "ussd", "care")
CARE_QUEUE = "care"  # the programme's own queue: claims whose provider is unknown
MONITOR = "monitor"
MAX_REASON = 500
# the claim form's amount range, as the ``claims.amount`` column holds it (a static text: the catalog translates it)
AMOUNT_RANGE = N_("must be a number from 0 to 1,000,000,000,000,000")
CANDIDATE_DAYS = 3  # a transaction within this many days of the claimed date is a candidate
AMOUNT_SLACK = Decimal("0.05")  # ... or within 5% of the claimed amount
SUGGESTED = {
    "open": "Assign it to the responsible provider's queue (or the care queue when the provider is unknown).",
    "assigned": "Take it: start investigating, and tell the customer's provider if its data is needed.",
    "investigating": "Match it to a transaction, credit the points with an adjustment, or reject it with a reason.",
}


# ---------------------------------------------------------------------------------------------- deadlines


def deadlines(session: Session) -> dict[str, float]:
    return {**programme.DEFAULTS["claim_deadlines"], **(programme.load(session).claim_deadlines or {})}


def _enter(session: Session, claim: Claim, status: ClaimState, now: datetime) -> None:
    claim.status, claim.state_since = status, now
    if status in LIVE:
        claim.due_at, claim.closed_at = now + timedelta(hours=float(deadlines(session)[status])), None
    else:
        claim.due_at, claim.closed_at = None, now


def severity(claim: Claim, now: datetime, limits: dict[str, float]) -> str | None:
    """How late a live claim is now: None (on time), warning, overdue or critical."""
    if claim.status not in LIVE or claim.due_at is None:
        return None
    since = claim.state_since or claim.created_at
    allowed = claim.due_at - since
    elapsed = now - since
    if elapsed >= allowed * float(limits["critical_factor"]):
        return "critical"
    if now >= claim.due_at:
        return "overdue"
    if elapsed >= allowed * float(limits["warning_share"]):
        return "warning"
    return None


# ---------------------------------------------------------------------------------------------- filing


def file(
    session: Session,
    customer_id: int,
    data: dict[str, Any],
    *,
    channel: str,
    actor: str | None = None,
    filed_ref: str | None = None,
    now: datetime | None = None,
) -> Claim:
    """Store a new claim (status open, its deadline running); ``filed_ref`` makes a channel's retry harmless."""
    if channel not in CHANNELS:  # a caller's mistake, not the customer's: a real check that survives python -O
        raise ValueError(f"unknown claim channel {channel!r}; one of {', '.join(CHANNELS)}")
    now = now or utcnow()
    if filed_ref:
        old = session.scalar(select(Claim).where(Claim.filed_ref == filed_ref))
        if old is not None:
            return old
    problems: list[FieldProblem] = []
    ref = str(data.get("transaction_ref") or "").strip()[:64] or None
    description = str(data.get("description") or "").strip()
    if not ref and not description:
        problems.append(FieldProblem("transaction_ref", N_("give the receipt or transaction number, or describe it")))
    if len(description) > 1000:
        problems.append(FieldProblem("description", N_("at most 1000 characters")))
    provider_id = None
    if data.get("provider"):
        provider_id = session.scalar(select(Provider.id).where(Provider.code == str(data["provider"])))
        if provider_id is None:
            problems.append(FieldProblem("provider", N_("unknown provider")))
    occurred_on = None
    if data.get("occurred_on"):
        try:
            occurred_on = date.fromisoformat(str(data["occurred_on"]))
        except ValueError:
            problems.append(FieldProblem("occurred_on", N_("must be a date as YYYY-MM-DD")))
    amount = None
    if data.get("amount") not in (None, ""):
        try:
            amount = Decimal(str(data["amount"]).replace(".", "").replace(",", ""))
        except InvalidOperation:
            problems.append(FieldProblem("amount", N_("must be a number")))
        else:
            if not amount.is_finite() or not 0 <= amount < MAX_AMOUNT:  # the column's range: else a 500
                problems.append(FieldProblem("amount", AMOUNT_RANGE))
                amount = None
    if problems:
        raise DomainError("validation_error", f"{problems[0].path}: {problems[0].reason}", problems)
    if session.get(Customer, customer_id) is None:
        raise not_found(f"customer {customer_id}")
    claim = Claim(
        customer_id=customer_id,
        provider_id=provider_id,
        transaction_ref=ref,
        occurred_on=occurred_on,
        amount=amount,
        description=description,
        channel=channel,
        created_at=now,
        filed_by=actor if channel == "care" else None,
        filed_ref=filed_ref,
    )
    _enter(session, claim, "open", now)
    if filed_ref:
        try:
            with session.begin_nested():
                session.add(claim)
                session.flush()
        except IntegrityError:  # the same channel request, filed concurrently
            old = session.scalar(select(Claim).where(Claim.filed_ref == filed_ref))
            if old is None:
                raise
            return old
    else:
        session.add(claim)
        session.flush()
    _event(session, claim, actor or f"customer:{customer_id}", None, "open", f"filed by {channel}", {}, now)
    return claim


# ---------------------------------------------------------------------------------------------- reading


def get(session: Session, claim_id: int, scope: Scope, *, lock: bool = False) -> Claim:
    """The claim, if the caller may see it: a provider user only sees its own provider's queue."""
    q = select(Claim).where(Claim.id == claim_id)
    if lock:
        q = q.with_for_update()
    claim = session.scalar(q)
    if claim is None or (scope.limited and claim.provider_id != scope.provider_id):
        raise not_found(f"claim {claim_id}")
    return claim


def list_claims(
    session: Session,
    scope: Scope,
    *,
    state: str | None = None,
    provider: str | None = None,
    overdue: bool = False,
    now: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The queue, soonest deadline first; ``state`` one of STATES or ``live``, ``provider`` a code or ``care``."""
    now = now or utcnow()
    q = select(Claim, Provider.code).outerjoin(Provider, Provider.id == Claim.provider_id)
    if state == "live":
        q = q.where(Claim.status.in_(LIVE))
    elif state in STATES:
        q = q.where(Claim.status == state)
    if provider == CARE_QUEUE:
        q = q.where(Claim.provider_id.is_(None))
    elif provider:
        q = q.where(Provider.code == provider)
    if overdue:
        q = q.where(Claim.status.in_(LIVE), Claim.due_at <= now)
    if scope.limited:
        q = q.where(Claim.provider_id == scope.provider_id)
    q = q.order_by(Claim.due_at.is_(None), Claim.due_at, Claim.id.desc()).limit(limit)
    rows = session.execute(q).all()
    by_claim = _live_alerts(session, [c.id for c, _ in rows])
    limits = deadlines(session)
    return [
        {"claim": c, "queue": code or CARE_QUEUE, "lateness": severity(c, now, limits), "alert": by_claim.get(c.id)}
        for c, code in rows
    ]


def _live_alerts(session: Session, ids: list[int]) -> dict[int, Alert]:
    if not ids:
        return {}
    found = session.scalars(select(Alert).where(Alert.active_key.in_([f"claim:{i}" for i in ids])))
    return {int(a.key.split(":", 1)[1]): a for a in found}


def counts(session: Session, scope: Scope, now: datetime | None = None) -> dict[str, int]:
    """Claims per state, and how many live ones are past their deadline."""
    now = now or utcnow()
    q = select(Claim.status, func.count()).group_by(Claim.status)
    late = select(func.count()).select_from(Claim).where(Claim.status.in_(LIVE), Claim.due_at <= now)
    if scope.limited:
        q = q.where(Claim.provider_id == scope.provider_id)
        late = late.where(Claim.provider_id == scope.provider_id)
    out: dict[str, int] = dict.fromkeys(STATES, 0)
    out.update({s: n for s, n in session.execute(q).all()})
    out["overdue"] = int(session.scalar(late) or 0)
    return out


def history(session: Session, claim_id: int) -> list[ClaimEvent]:
    return list(session.scalars(select(ClaimEvent).where(ClaimEvent.claim_id == claim_id).order_by(ClaimEvent.id)))


def live_alert(session: Session, claim_id: int) -> Alert | None:
    return session.scalar(select(Alert).where(Alert.active_key == f"claim:{claim_id}"))


def provider_code(session: Session, provider_id: int | None) -> str:
    if provider_id is None:
        return CARE_QUEUE
    return session.scalar(select(Provider.code).where(Provider.id == provider_id)) or CARE_QUEUE


def candidates(session: Session, claim: Claim, scope: Scope, *, limit: int = 20) -> list[dict[str, Any]]:
    """The customer's transactions that may be the one claimed, best first, each with why it was picked.

    Same reference first; then, at the claim's provider (any when unknown), a date within
    ``CANDIDATE_DAYS`` or an amount within 5%. Transactions received after the claim are flagged
    ``late``: they are the ones the customer could not see credited when filing.
    """
    code = provider_code(session, claim.provider_id) if claim.provider_id else None
    tz = programme.load(session).timezone  # the customer claims a day of the programme's calendar
    out = []
    for t in transaction_rows(session, claim.customer_id, scope, limit=500):
        why = []
        if claim.transaction_ref and t["provider_txn_id"].lower() == claim.transaction_ref.lower():
            why.append("same reference")
        if code is None or t["provider"] == code:
            claimed = claim.occurred_on
            if claimed and abs((localdays.day_of(t["occurred_at"], tz) - claimed).days) <= CANDIDATE_DAYS:
                why.append("close date")
            if claim.amount and abs(Decimal(t["amount"]) - claim.amount) <= claim.amount * AMOUNT_SLACK:
                why.append("close amount")
            if code is not None and not claim.occurred_on and not claim.amount and not why:
                why.append("same provider")
        if why:
            out.append({**t, "why": why, "late": t["received_at"] > claim.created_at})
    out.sort(key=lambda t: ("same reference" not in t["why"], -len(t["why"]), -t["id"]))
    return out[:limit]


# ---------------------------------------------------------------------------------------------- transitions


def _event(
    session: Session,
    claim: Claim,
    actor: str,
    before: ClaimState | None,
    after: ClaimState,
    note: str,
    details: dict[str, Any],
    now: datetime,
) -> None:
    session.add(
        ClaimEvent(
            claim_id=claim.id,
            at=now,
            actor=actor[:254],
            from_status=before,
            to_status=after,
            note=note[:1000],
            details=details,
        )
    )
    session.add(
        AuditEvent(
            at=now,
            actor=actor[:200],
            action="claim.filed" if before is None else f"claim.{after}" if before != after else "claim.note",
            object_type="claim",
            object_id=str(claim.id),
            details={"from": before, "to": after, "note": note[:1000], **details},
        )
    )
    session.flush()


def _move(session: Session, claim: Claim, to: ClaimState, actor: str, note: str, now: datetime, **details: Any) -> None:
    before = claim.status
    _enter(session, claim, to, now)
    _event(session, claim, actor, before, to, note, details, now)


def _require(claim: Claim, *states: str, action: str) -> None:
    if claim.status not in states:
        raise conflict(
            "claim_state", f"claim {claim.id} is {claim.status}; only a claim {' or '.join(states)} can be {action}"
        )


def responsible_provider(session: Session, claim: Claim) -> int | None:
    """The claim's provider, else that of its matched transaction, else of the one transaction with its reference."""
    if claim.provider_id is not None:
        return claim.provider_id
    if claim.transaction_id is not None:
        return session.scalar(select(Transaction.provider_id).where(Transaction.id == claim.transaction_id))
    if claim.transaction_ref:
        found = session.scalars(
            select(Transaction.provider_id)
            .where(Transaction.customer_id == claim.customer_id, Transaction.provider_txn_id == claim.transaction_ref)
            .distinct()
        ).all()
        if len(found) == 1:
            return found[0]
    return None


def assign(
    session: Session,
    claim_id: int,
    scope: Scope,
    actor: str,
    queue: str | None = None,
    note: str = "",
    now: datetime | None = None,
) -> Claim:
    """Put a live claim in a queue: a provider code, ``care``, or None to derive the responsible provider."""
    now = now or utcnow()
    claim = get(session, claim_id, scope, lock=True)
    _require(claim, *LIVE, action="assigned")
    if queue == CARE_QUEUE:
        provider_id = None
    elif queue:
        provider_id = session.scalar(select(Provider.id).where(Provider.code == queue))
        if provider_id is None:
            raise invalid("queue", "unknown provider")
    else:
        provider_id = responsible_provider(session, claim)
    if scope.limited and provider_id not in (None, scope.provider_id):
        raise invalid("queue", "a provider user can keep a claim or hand it to the care queue")
    claim.provider_id = provider_id
    claim.assignee = None
    target = provider_code(session, provider_id)
    _move(session, claim, "assigned", actor, note.strip() or f"assigned to the {target} queue", now, queue=target)
    return claim


def investigate(
    session: Session, claim_id: int, scope: Scope, actor: str, note: str = "", now: datetime | None = None
) -> Claim:
    """Someone takes an assigned claim; the investigating deadline starts."""
    now = now or utcnow()
    claim = get(session, claim_id, scope, lock=True)
    _require(claim, "assigned", action="taken for investigation")
    claim.assignee = actor[:254]
    _move(session, claim, "investigating", actor, note.strip() or f"{actor} is investigating", now)
    return claim


def _reason(value: str, path: str = "reason") -> str:
    value = (value or "").strip()
    if len(value) < 5:
        raise invalid(path, "say why (at least 5 characters): the customer reads it")
    if len(value) > MAX_REASON:
        raise invalid(path, f"at most {MAX_REASON} characters")
    return value


def reject(
    session: Session, claim_id: int, scope: Scope, actor: str, reason: str, now: datetime | None = None
) -> Claim:
    """Close a claim without points; the reason goes to the customer by SMS."""
    now = now or utcnow()
    reason = _reason(reason)
    claim = get(session, claim_id, scope, lock=True)
    _require(claim, "investigating", action="rejected")
    claim.resolution = reason
    _move(session, claim, "rejected", actor, reason, now)
    _notify(session, claim, "claim_rejected", {"reason": reason}, now)
    return claim


def credited_transaction(session: Session, claim: Claim) -> tuple[Transaction, int] | None:
    """The claim's transaction if it has been credited with points (matched, or found by reference)."""
    q = select(Transaction).where(Transaction.customer_id == claim.customer_id, Transaction.status == "processed")
    if claim.transaction_id is not None:
        q = q.where(Transaction.id == claim.transaction_id)
    elif claim.transaction_ref:
        q = q.where(Transaction.provider_txn_id == claim.transaction_ref)
        if claim.provider_id is not None:
            q = q.where(Transaction.provider_id == claim.provider_id)
    else:
        return None
    for txn in session.scalars(q.order_by(Transaction.id)):
        points = _points(session, txn.id)
        if points > 0:
            return txn, points
    return None


def _points(session: Session, transaction_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.points + LedgerEntry.pending), 0)).where(
                LedgerEntry.transaction_id == transaction_id
            )
        )
        or 0
    )


def resolve(
    session: Session,
    claim_id: int,
    scope: Scope,
    actor: str,
    *,
    role: str,
    points: int,
    reason: str,
    care_limit: int,
    now: datetime | None = None,
) -> Claim:
    """Credit the missing points through an audited adjustment (claim id in its reason and audit details)."""
    now = now or utcnow()
    claim = get(session, claim_id, scope, lock=True)
    _require(claim, "investigating", action="resolved with an adjustment")
    already = credited_transaction(session, claim)
    if already is not None:
        txn, got = already
        raise conflict(
            "already_credited",
            f"points: transaction {txn.id} ({txn.provider_txn_id}) already earned {got} points; match the claim to it",
            [FieldProblem("points", f"transaction {txn.id} already earned {got} points: match it instead")],
        )
    if isinstance(points, int) and not isinstance(points, bool) and points < 0:
        raise invalid("points", "a claim is resolved by crediting points (a positive number)")
    reason = _reason(reason)
    entry = adjustments.adjust(
        session,
        claim.customer_id,
        points,
        f"claim #{claim.id}: {reason}"[: adjustments.MAX_REASON],
        actor=actor,
        role=role,
        care_limit=care_limit,
        details={"claim_id": claim.id},
    )
    claim.points, claim.adjustment_entry_id, claim.resolution = points, entry.id, reason
    _move(session, claim, "resolved", actor, reason, now, points=points, entry_id=entry.id)
    _notify(session, claim, "claim_credited", {"points": points}, now)
    return claim


def match(
    session: Session, claim_id: int, scope: Scope, actor: str, transaction_id: int, now: datetime | None = None
) -> Claim:
    """Tie the claim to one of the customer's transactions: resolved if it was credited, else it waits for it."""
    now = now or utcnow()
    claim = get(session, claim_id, scope, lock=True)
    _require(claim, *LIVE, action="matched")
    txn = session.get(Transaction, transaction_id)
    if txn is None or txn.customer_id != claim.customer_id or (scope.limited and txn.provider_id != scope.provider_id):
        raise invalid("transaction_id", "not a transaction of this customer")
    if txn.status == "rejected":
        raise invalid(
            "transaction_id",
            f"transaction {txn.id} was rejected ({txn.reject_reason or 'no reason'}): credit or reject the claim",
        )
    claim.transaction_id = txn.id
    if claim.provider_id is None and not scope.limited:
        claim.provider_id = txn.provider_id
    if txn.status == "processed":
        points = _points(session, txn.id)
        if points <= 0:
            claim.transaction_id = None
            raise invalid(
                "transaction_id",
                f"transaction {txn.id} was processed but earned no points: credit or reject the claim",
            )
        _resolve_matched(session, claim, txn, points, actor, now)
    else:
        note = f"matched to transaction {txn.id} ({txn.provider_txn_id}), still {txn.status}: waiting for its credit"
        _event(session, claim, actor, claim.status, claim.status, note, {"transaction_id": txn.id}, now)
    return claim


def _resolve_matched(session: Session, claim: Claim, txn: Transaction, points: int, actor: str, now: datetime) -> None:
    credited = txn.processed_at or now
    day = localdays.day_of(credited, programme.load(session).timezone).isoformat()
    claim.transaction_id, claim.points = txn.id, points
    claim.resolution = f"credited on {day} by transaction {txn.id} ({txn.provider_txn_id})"
    _move(session, claim, "resolved", actor, claim.resolution, now, transaction_id=txn.id, points=points)
    _notify(
        session,
        claim,
        "claim_matched",
        {"points": points, "ref": txn.provider_txn_id, "date": day},
        now,
    )


def _notify(session: Session, claim: Claim, template: str, payload: dict[str, Any], now: datetime) -> None:
    queue_sms(
        session,
        dedupe_key=f"claim:{claim.id}:{claim.status}",
        template=template,
        payload={"claim": claim.id, **payload},
        customer_id=claim.customer_id,
        now=now,
    )


# ---------------------------------------------------------------------------------------------- the monitor


def auto_match(session: Session, now: datetime) -> int:
    """Resolve live claims whose transaction has since arrived and been credited (and tell the customer).

    One join finds the claims worth a look (their transaction, or one with their reference, is processed);
    only those are locked and re-checked, so a large open backlog costs one query per pass.
    """
    hits = session.scalars(
        select(Claim.id)
        .join(
            Transaction,
            (Transaction.customer_id == Claim.customer_id)
            & (Transaction.status == "processed")
            & (
                (Transaction.id == Claim.transaction_id)
                | (Claim.transaction_id.is_(None) & (Transaction.provider_txn_id == Claim.transaction_ref))
            ),
        )
        .where(Claim.status.in_(LIVE))
        .distinct()
    ).all()
    resolved = 0
    for claim_id in sorted(hits):
        claim = session.scalar(select(Claim).where(Claim.id == claim_id).with_for_update())
        if claim is None or claim.status not in LIVE:
            continue
        found = credited_transaction(session, claim)
        if found is not None:
            _resolve_matched(session, claim, found[0], found[1], MONITOR, now)
            resolved += 1
    return resolved


def check_deadlines(session: Session, now: datetime) -> int:
    """One alert per live claim that is near or past its state's deadline (see the module docstring)."""
    limits = deadlines(session)
    codes = {pid: code for pid, code in session.execute(select(Provider.id, Provider.code))}
    conditions = []
    for claim in session.scalars(select(Claim).where(Claim.status.in_(LIVE), Claim.due_at.is_not(None))):
        level = severity(claim, now, limits)
        if level is None or claim.due_at is None:
            continue
        queue = codes.get(claim.provider_id, CARE_QUEUE) if claim.provider_id is not None else CARE_QUEUE
        late = "due" if now < claim.due_at else "overdue since"
        conditions.append(
            alerts.Condition(
                key=f"claim:{claim.id}",
                severity=level,
                subject=f"Claim #{claim.id} {level} ({claim.status}, {queue} queue)",
                message=(
                    f"Claim #{claim.id} of customer #{claim.customer_id} ({claim.transaction_ref or 'no reference'}) "
                    f"has been {claim.status} since {claim.state_since:%Y-%m-%d %H:%M} UTC; "
                    f"{late} {claim.due_at:%Y-%m-%d %H:%M} UTC."
                ),
                suggested_action=SUGGESTED[claim.status],
                provider_id=claim.provider_id,
                count=1,
                oldest_at=claim.state_since,
                details={
                    "claim_id": claim.id,
                    "state": claim.status,
                    "due_at": claim.due_at.isoformat(),
                    "queue": queue,
                },
            )
        )
    alerts.reconcile(session, "claim", conditions, now)
    return len(conditions)


def for_customer(session: Session, customer_id: int, scope: Scope = UNLIMITED) -> list[Claim]:
    q = select(Claim).where(Claim.customer_id == customer_id).order_by(Claim.id.desc()).limit(50)
    if scope.limited:
        q = q.where(Claim.provider_id == scope.provider_id)
    return list(session.scalars(q))
