"""Accept provider transactions: validate, resolve the customer, persist before acknowledging.

The caller commits and then hands the new ids to the dispatcher; a row that is
committed but never dispatched (Redis down or flushed, process killed) is picked
up by the sweeper, by a replay, or by the next transaction of its customer
(:func:`in_customer_order`), so an acknowledged transaction is never lost nor
overtaken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from campaigns.customers import numbers
from campaigns.customers.identity import NATIONAL_ID, find_customer, resolve_many
from campaigns.errors import DomainError, FieldProblem, conflict, not_found
from campaigns.models import Campaign, LedgerEntry, Provider, Reversal, Transaction
from campaigns.schemas import CustomerRef, EventIn, TransactionIn
from campaigns.sql import insert_rows, table_of

ACCEPTED, DUPLICATE, ERROR = "accepted", "duplicate", "error"


@dataclass(frozen=True, slots=True)
class Incoming:
    """A validated purchase or custom event, in the one shape the ingest path stores."""

    ref: str
    customer: CustomerRef
    amount: Decimal
    currency: str
    category: str | None
    channel: str | None
    occurred_at: datetime
    attributes: dict[str, Any]
    event_type: str
    body_hash: str

    @classmethod
    def of(cls, item: TransactionIn | EventIn) -> Incoming:
        if isinstance(item, EventIn):
            return cls(
                item.provider_event_id,
                item.customer,
                Decimal(0),
                "VND",
                None,
                item.channel,
                item.occurred_at,
                item.attributes,
                item.event_type,
                item.body_hash(),
            )
        return cls(
            item.provider_txn_id,
            item.customer,
            item.amount,
            item.currency,
            item.category,
            item.channel,
            item.occurred_at,
            item.attributes,
            "purchase",
            item.body_hash(),
        )


@dataclass(slots=True)
class Outcome:
    status: str
    txn: dict[str, Any] | None = None
    error: DomainError | None = None


def _summary(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "provider_txn_id": row.provider_txn_id,
        "customer_id": row.customer_id,
        "status": row.status,
        "received_at": row.received_at,
    }


_SUMMARY_COLS = (
    Transaction.id,
    Transaction.provider_txn_id,
    Transaction.customer_id,
    Transaction.status,
    Transaction.received_at,
    Transaction.body_hash,
)


def ingest(
    session: Session,
    provider_id: int,
    items: Sequence[TransactionIn | EventIn],
    now: datetime,
    *,
    source: str = "txn",
    look_first: bool = True,
) -> list[Outcome]:
    """Insert new transactions in bulk; duplicates and conflicts are reported per item.

    A unique-key race with a concurrent request (the same ``provider_txn_id``) fails the one multi-row INSERT,
    which InnoDB and SQLite undo as a statement, leaving the transaction usable: the pass runs again and finds
    the winner's row. So no savepoint is needed (they cost two round trips a request).

    ``look_first=False`` (a single POST: replays are rare, and the read for an earlier copy was one of its few
    round trips) inserts without looking; a clash on the unique key rolls the session back, so it must hold
    nothing else, and the usual pass runs, finding the earlier copy.
    """
    incoming = [Incoming.of(i) for i in items]
    look = look_first
    for _attempt in range(3):
        try:
            return _ingest_pass(session, provider_id, incoming, now, source, look)
        except IntegrityError:
            if not look:  # what this pass wrote (a customer for a replay whose number changed hands) goes too
                session.rollback()
                look = True
            continue
    raise conflict("ingest_race", "the same transactions are being posted concurrently; retry")


def _ingest_pass(
    session: Session, provider_id: int, items: Sequence[Incoming], now: datetime, source: str, look: bool
) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * len(items)
    hashes = [item.body_hash for item in items]
    existing = (
        {
            row.provider_txn_id: row
            for row in session.execute(
                select(*_SUMMARY_COLS).where(
                    Transaction.provider_id == provider_id,
                    Transaction.source == source,
                    Transaction.provider_txn_id.in_({item.ref for item in items}),
                )
            )
        }
        if look
        else {}
    )
    first_in_batch: dict[str, int] = {}
    fresh: list[int] = []
    for i, item in enumerate(items):
        old = existing.get(item.ref)
        if old is not None:
            outcomes[i] = _replay(old, hashes[i], item.ref)
            continue
        j = first_in_batch.get(item.ref)
        if j is not None:
            outcomes[i] = Outcome(DUPLICATE) if hashes[j] == hashes[i] else Outcome(ERROR, error=_differs(item.ref))
            continue
        first_in_batch[item.ref] = i
        fresh.append(i)

    # A released number: a late transaction from before the release goes to the old holder, one in the
    # quarantine is refused; the rest resolve as usual.
    routes = numbers.route_transactions(session, [(items[i].customer.phone, items[i].occurred_at) for i in fresh])
    usual = [i for i, r in zip(fresh, routes, strict=True) if r is None]
    resolved = iter(resolve_many(session, [items[i].customer.claim() for i in usual]))
    customers = [
        next(resolved) if r is None else _late_holder(session, items[i], r) for i, r in zip(fresh, routes, strict=True)
    ]
    rows: list[dict[str, Any]] = []
    row_of: list[int] = []
    for i, cid in zip(fresh, customers, strict=True):
        if isinstance(cid, DomainError):
            outcomes[i] = Outcome(ERROR, error=cid)
            continue
        item = items[i]
        rows.append(
            {
                "provider_id": provider_id,
                "provider_txn_id": item.ref,
                "source": source,
                "event_type": item.event_type,
                "customer_id": cid,
                "amount": item.amount,
                "currency": item.currency,
                "category": item.category,
                "channel": item.channel,
                "occurred_at": item.occurred_at,
                "received_at": now,
                "status": "queued",
                "attributes": item.attributes,
                "body_hash": hashes[i],
                "reversed_amount": 0,
            }
        )
        row_of.append(i)
    if rows:
        # One literal multi-row INSERT (campaigns.sql): no ORM bookkeeping or per-value binding per row.
        ids = insert_rows(session, table_of(Transaction), rows, returning_ids=True)
        for i, row, new_id in zip(row_of, rows, ids, strict=True):
            outcomes[i] = Outcome(
                ACCEPTED,
                {
                    "id": new_id,
                    "provider_txn_id": row["provider_txn_id"],
                    "customer_id": row["customer_id"],
                    "status": "queued",
                    "received_at": now,
                },
            )
    for i, item in enumerate(items):
        out = outcomes[i]
        if out is not None and out.status == DUPLICATE and out.txn is None:
            j = first_in_batch[item.ref]
            first = outcomes[j]
            assert first is not None
            outcomes[i] = Outcome(DUPLICATE, first.txn) if first.status == ACCEPTED else first
    return outcomes  # type: ignore[return-value]


def _late_holder(session: Session, item: Incoming, route: int | DomainError) -> int | DomainError:
    """The old holder, unless the transaction's national ID names somebody else."""
    if isinstance(route, DomainError) or not item.customer.national_id:
        return route
    owner = find_customer(session, NATIONAL_ID, item.customer.national_id)
    if owner is not None and owner != route:
        return conflict(
            "identity_conflict",
            f"the phone belonged to customer {route} at occurred_at and the national_id belongs to customer {owner}",
            [FieldProblem("customer.national_id", f"belongs to customer {owner}")],
        )
    return route


def _differs(provider_txn_id: str) -> DomainError:
    return conflict(
        "duplicate_conflict",
        f"id '{provider_txn_id}' was already used with a different body",
        [FieldProblem("provider_txn_id", "already used with a different body")],
    )


def _replay(old: Any, body_hash: str, provider_txn_id: str) -> Outcome:
    if old.body_hash != body_hash:
        return Outcome(ERROR, error=_differs(provider_txn_id))
    return Outcome(DUPLICATE, _summary(old))


def get_transaction(session: Session, txn_id: int, provider_id: int | None) -> dict[str, Any]:
    """Full view of one transaction: status, net points and each award (provider-scoped)."""
    q = (
        select(Transaction, Provider.code)
        .join(Provider, Provider.id == Transaction.provider_id)
        .where(Transaction.id == txn_id)
    )
    if provider_id is not None:
        q = q.where(Transaction.provider_id == provider_id)
    found = session.execute(q).first()
    if found is None:
        raise not_found(f"transaction {txn_id}")
    txn, provider_code = found
    entries = session.execute(
        select(LedgerEntry, Campaign.name)
        .outerjoin(Campaign, Campaign.id == LedgerEntry.campaign_id)
        .where(LedgerEntry.transaction_id == txn.id)
        .order_by(LedgerEntry.id)
    ).all()
    reversals = session.scalars(select(Reversal).where(Reversal.transaction_id == txn.id).order_by(Reversal.id)).all()
    return {
        "id": txn.id,
        "provider": provider_code,
        "provider_txn_id": txn.provider_txn_id,
        "source": txn.source,
        "event_type": txn.event_type,
        "customer_id": txn.customer_id,
        "status": txn.status,
        "amount": txn.amount,
        "currency": txn.currency,
        "category": txn.category,
        "channel": txn.channel,
        "attributes": txn.attributes or {},
        "occurred_at": txn.occurred_at,
        "received_at": txn.received_at,
        "processed_at": txn.processed_at,
        "reject_reason": txn.reject_reason,
        "reversed_amount": txn.reversed_amount,
        "points": sum(
            e.points + e.pending + (-e.debt if e.kind == "reversal" else 0)
            for e, _ in entries
            if e.customer_id == txn.customer_id and e.kind in ("earn", "reversal")
        ),
        "awards": [
            {
                "campaign": name,
                "campaign_id": e.campaign_id,
                "campaign_version": e.campaign_version,
                "rule": e.rule_name,
                "points": e.points + e.pending,
                "pending": e.pending,
                "qualifying": e.qualifying,
                "customer_id": e.customer_id,
                "note": e.note,
            }
            for e, name in entries
            if e.kind == "earn"
        ],
        "reversals": [reversal_view(r) for r in reversals],
    }


def reversal_view(r: Reversal) -> dict[str, Any]:
    return {
        "id": r.id,
        "transaction_id": r.transaction_id,
        "reversal_id": r.provider_reversal_id,
        "amount": r.amount,
        "status": r.status,
        "points": r.points,
        "created_at": r.created_at,
        "applied_at": r.applied_at,
    }


def queued_ids(session: Session, older_than: datetime, limit: int) -> list[tuple[int, int]]:
    """(transaction id, customer id) of transactions still waiting: the sweeper's input."""
    return list(
        session.execute(
            select(Transaction.id, Transaction.customer_id)
            .where(Transaction.status == "queued", Transaction.received_at < older_than)
            .order_by(Transaction.status, Transaction.received_at)
            .limit(limit)
        ).all()
    )


def backlog(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Transaction).where(Transaction.status == "queued")) or 0


# -- each customer's order, whatever happened to Redis -------------------------------------------------


# Every queued transaction of the batch's customers older than that customer's newest in the batch. Built once
# (run on the connection, per call only the ids and the limit are bound): the drains of single POSTs run it for
# batches of a few transactions, where building the statement cost more than running it.
_NEWEST = (
    select(Transaction.customer_id, func.max(Transaction.id).label("newest"))
    .where(Transaction.id.in_(bindparam("ids", expanding=True)))
    .group_by(Transaction.customer_id)
    .subquery()
)
_QUEUED_BEFORE = (
    select(Transaction.id)
    .join(_NEWEST, _NEWEST.c.customer_id == Transaction.customer_id)
    .where(Transaction.status == "queued", Transaction.id < _NEWEST.c.newest)
    .order_by(Transaction.id)
    .limit(bindparam("most"))
)


def in_customer_order(session: Session, txn_ids: Sequence[int], limit: int) -> tuple[list[int], list[int]]:
    """The batch to credit and the ids to hand back: a customer's older ``queued`` transactions join the
    batch ahead of it, so a transaction is never credited before an older one of the same customer.

    Redis may lose ids silently (a flush, a restart without persistence, a failover): the older rows then
    come back through the sweeper after newer ones were dispatched. MariaDB knows what is still queued,
    so the order is checked here, in one indexed range read per batch (``ix_txn_customer_status``);
    normally it finds nothing. Beyond ``limit`` older rows the batch's newer ids are returned to be
    dispatched again, and credited once what precedes them is.
    """
    ids = sorted(set(txn_ids))
    if not ids:
        return [], []
    batch = set(ids)
    # the batch's own queued rows come back too: cheaper than a NOT IN of the ids
    found = session.connection().execute(_QUEUED_BEFORE, {"ids": ids, "most": limit + len(ids) + 1}).scalars()
    older = [i for i in found if i not in batch][: limit + 1]
    if len(older) <= limit:
        return sorted([*ids, *older]), []
    # Every qualifying row up to the last one taken is in the batch; a batch row above it may not have
    # all of its customer's older rows yet, so it waits.
    last = older[limit - 1]
    return sorted([*(i for i in ids if i < last), *older[:limit]]), [i for i in ids if i > last]
