"""Credit a batch of queued transactions: evaluate the published rules, write the ledger.

One database transaction per batch: the queued rows are locked, evaluated in
id order (so one customer's earlier transactions count before later ones),
their ledger entries inserted with unique keys, balances moved by deltas and
the rows marked ``processed``. A second run over the same ids finds nothing
``queued`` and credits nothing: retries and duplicate jobs are harmless.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from rules import EvaluationContext, RuleSet

from .ledger import add_to_balances, apply_reversal, balances_of, mark_processed
from .models import Customer, LedgerEntry, Reversal, Transaction, utcnow
from .providers import provider_codes

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CreditReport:
    processed: int = 0
    rejected: int = 0
    skipped: int = 0
    points: int = 0
    reversals: int = 0
    latencies: list[float] = field(default_factory=list)


class RuleCache:
    """The compiled published campaigns, rebuilt only when the publication counter moves."""

    def __init__(self, loader: Callable[[Session], Any]) -> None:
        self._loader = loader
        self._version: int | None = None
        self._ruleset: RuleSet = RuleSet([])
        self._providers: dict[int, str] = {}

    def get(self, session: Session, version: int) -> tuple[RuleSet, dict[int, str]]:
        if version != self._version:
            self._ruleset = RuleSet(self._loader(session))
            self._providers = provider_codes(session)
            self._version = version
            log.info("loaded published campaigns", extra={"publication": version})
        return self._ruleset, self._providers

    def provider_code(self, session: Session, provider_id: int) -> str:
        if provider_id not in self._providers:
            self._providers = provider_codes(session)
        return self._providers[provider_id]


def credit_batch(
    session: Session,
    txn_ids: Sequence[int],
    ruleset: RuleSet,
    provider_code: Callable[[int], str],
    now: datetime | None = None,
) -> CreditReport:
    """Credit the still-queued transactions among ``txn_ids`` (caller commits)."""
    now = now or utcnow()
    report = CreditReport()
    if not txn_ids:
        return report
    txns = session.scalars(
        select(Transaction)
        .where(Transaction.id.in_(sorted(set(txn_ids))), Transaction.status == "queued")
        .order_by(Transaction.id)
        .with_for_update()
    ).all()
    report.skipped = len(set(txn_ids)) - len(txns)
    if not txns:
        return report
    customer_ids = sorted({t.customer_id for t in txns})
    profiles = {
        cid: (tier, tz)
        for cid, tier, tz in session.execute(
            select(Customer.id, Customer.tier, Customer.timezone).where(Customer.id.in_(customer_ids))
        )
    }
    lifetime = {cid: life for cid, (_bal, life) in balances_of(session, customer_ids).items()}
    entries: list[dict[str, Any]] = []
    deltas: dict[int, tuple[int, int]] = {}
    done: list[int] = []
    for txn in txns:
        tier, tz = profiles.get(txn.customer_id, (None, "Asia/Ho_Chi_Minh"))
        try:
            ctx = EvaluationContext(
                amount=txn.amount,
                currency=txn.currency,
                provider=provider_code(txn.provider_id),
                category=txn.category,
                channel=txn.channel,
                occurred_at=txn.occurred_at,
                customer_tier=tier,
                lifetime_points=lifetime.get(txn.customer_id, 0),
                attributes=txn.attributes or {},
                timezone=tz,
            )
            effects = ruleset.evaluate(ctx, received_at=txn.received_at)
        except Exception as exc:  # one poisoned transaction must not block its partition
            log.exception("transaction %s rejected", txn.id)
            txn.status = "rejected"
            txn.reject_reason = f"evaluation failed: {exc}"[:500]
            txn.processed_at = now
            report.rejected += 1
            continue
        points = 0
        for eff in effects:
            if eff.points <= 0:
                continue
            points += eff.points
            entries.append(
                {
                    "entry_key": f"e:{txn.id}:{eff.campaign_id}:{eff.rule_index}:{eff.action_index}",
                    "customer_id": txn.customer_id,
                    "kind": "earn",
                    "points": eff.points,
                    "transaction_id": txn.id,
                    "provider_id": txn.provider_id,
                    "campaign_id": eff.campaign_id,
                    "campaign_version": eff.campaign_version,
                    "rule_index": eff.rule_index,
                    "rule_name": eff.rule_name,
                    "created_at": now,
                }
            )
        if points:
            bal, life = deltas.get(txn.customer_id, (0, 0))
            deltas[txn.customer_id] = (bal + points, life + points)
            lifetime[txn.customer_id] = lifetime.get(txn.customer_id, 0) + points
        report.points += points
        done.append(txn.id)
        report.latencies.append((now - txn.received_at).total_seconds())
    if entries:
        session.execute(insert(LedgerEntry), entries)
    add_to_balances(session, deltas, now)
    mark_processed(session, done, now)
    report.processed = len(done)
    report.reversals = apply_pending_reversals(session, [t for t in txns if t.id in set(done)], now)
    return report


def apply_pending_reversals(session: Session, txns: Sequence[Transaction], now: datetime) -> int:
    """Refunds that arrived before the credit are applied right after it, in arrival order."""
    if not txns:
        return 0
    by_id = {t.id: t for t in txns}
    pending = session.scalars(
        select(Reversal)
        .where(Reversal.transaction_id.in_(list(by_id)), Reversal.status == "pending")
        .order_by(Reversal.id)
    ).all()
    for rev in pending:
        txn = by_id[rev.transaction_id]
        txn.status = "processed"
        apply_reversal(session, txn, rev, now)
    session.flush()
    return len(pending)


def reset_for_retry(session: Session, txn_ids: Sequence[int]) -> None:
    """Put rejected transactions back in the queue (an operator action after a fix)."""
    session.execute(
        update(Transaction)
        .where(Transaction.id.in_(list(txn_ids)), Transaction.status == "rejected")
        .values(status="queued", reject_reason=None, processed_at=None)
    )
