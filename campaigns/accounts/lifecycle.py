"""The points lifecycle jobs: release pending points, expire what is due, requalify tiers.

All set-based and chunked: each pass reads a chunk of due lots or customers,
writes its ledger entries and balance deltas in bulk and commits, so a run over
millions of rows holds no long lock and can be stopped and resumed at any time
(every entry has a unique key: a re-run writes nothing twice).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from campaigns.accounts.ledger import add_to_balances
from campaigns.catalog.published import Published
from campaigns.clock import utcnow
from campaigns.customers.aggregates import EMPTY_WINDOWS, load_states, window_start, window_sums
from campaigns.models import Customer, CustomerBalance, LedgerEntry, LotConsumption, Outbox, PointLot, TierChange
from campaigns.sql import table_of, upsert
from rules import evaluate_tier


@dataclass
class LifecycleReport:
    released: int = 0
    released_points: int = 0
    expired: int = 0
    expired_points: int = 0
    upgraded: int = 0
    downgraded: int = 0
    customers: int = 0


def release_due(session: Session, now: datetime, *, chunk: int = 5000) -> tuple[int, int]:
    """Pending lots whose return window has passed become spendable (one chunk; caller loops)."""
    lots = session.execute(
        select(PointLot.id, PointLot.customer_id, PointLot.remaining, PointLot.entry_id)
        .where(PointLot.status == "pending", PointLot.available_at <= now)
        .order_by(PointLot.available_at, PointLot.id)
        .limit(chunk)
        .with_for_update(skip_locked=_skip_locked(session))
    ).all()
    if not lots:
        return 0, 0
    debts = dict(
        session.execute(
            select(CustomerBalance.customer_id, CustomerBalance.debt).where(
                CustomerBalance.customer_id.in_({c for _, c, _, _ in lots}), CustomerBalance.debt > 0
            )
        ).all()
    )
    entries: list[dict[str, Any]] = []
    deltas: defaultdict[int, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    lot_updates = []
    recoveries: dict[int, tuple[int, int]] = {}  # entry index -> (lot id, points): the repayment consumes the lot
    total = 0
    for lot_id, cid, remaining, _entry in lots:
        recovered = min(debts.get(cid, 0), remaining)
        debts[cid] = debts.get(cid, 0) - recovered
        entries.append(
            {
                "entry_key": f"rel:{lot_id}",
                "customer_id": cid,
                "kind": "release",
                "points": remaining,
                "pending": -remaining,
                "debt": 0,  # every row has the same keys: one multi-row insert
                "note": "return window over",
                "created_at": now,
            }
        )
        if recovered:
            recoveries[len(entries)] = (lot_id, recovered)
            entries.append(
                {
                    "entry_key": f"relD:{lot_id}",
                    "customer_id": cid,
                    "kind": "debt_recovery",
                    "points": -recovered,
                    "pending": 0,
                    "debt": -recovered,
                    "note": "recovers points clawed back after they were spent",
                    "created_at": now,
                }
            )
        left = remaining - recovered
        lot_updates.append((lot_id, left))
        d = deltas[cid]
        d["balance"] += left
        d["pending"] -= remaining
        d["debt"] -= recovered
        total += remaining
    ids = session.scalars(insert(LedgerEntry).returning(LedgerEntry.id, sort_by_parameter_order=True), entries).all()
    if recoveries:
        session.execute(
            insert(LotConsumption),
            [{"lot_id": lot_id, "entry_id": ids[i], "points": pts} for i, (lot_id, pts) in recoveries.items()],
        )
    for lot_id, left in lot_updates:
        session.execute(
            update(PointLot)
            .where(PointLot.id == lot_id)
            .values(remaining=left, status="available" if left else "closed")
        )
    add_to_balances(session, deltas, now)
    return len(lots), total


def expire_due(session: Session, now: datetime, *, chunk: int = 5000) -> tuple[int, int]:
    """Available lots past their expiry lose what is left, as ledger entries (one chunk)."""
    lots = session.execute(
        select(PointLot.id, PointLot.customer_id, PointLot.remaining)
        .where(PointLot.status == "available", PointLot.expires_at <= now)
        .order_by(PointLot.expires_at, PointLot.id)
        .limit(chunk)
        .with_for_update(skip_locked=_skip_locked(session))
    ).all()
    if not lots:
        return 0, 0
    live = [(lot_id, cid, rem) for lot_id, cid, rem in lots if rem > 0]
    if live:
        ids = session.scalars(
            insert(LedgerEntry).returning(LedgerEntry.id, sort_by_parameter_order=True),
            [
                {
                    "entry_key": f"x:{lot_id}",
                    "customer_id": cid,
                    "kind": "expiry",
                    "points": -rem,
                    "note": "points expired",
                    "created_at": now,
                }
                for lot_id, cid, rem in live
            ],
        ).all()
        session.execute(
            insert(LotConsumption),
            [
                {"lot_id": lot_id, "entry_id": eid, "points": rem}
                for (lot_id, _c, rem), eid in zip(live, ids, strict=True)
            ],
        )
        deltas: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for _lot, cid, rem in live:
            deltas[cid]["balance"] -= rem
        add_to_balances(session, deltas, now)
    session.execute(
        update(PointLot).where(PointLot.id.in_([lot_id for lot_id, _, _ in lots])).values(remaining=0, status="closed")
    )
    return len(lots), sum(rem for _, _, rem in live)


def requalify_chunk(
    session: Session, pub: Published, after_id: int, now: datetime, *, chunk: int = 5000
) -> tuple[int, int, int, int]:
    """Re-evaluate tiers for up to ``chunk`` customers with id > ``after_id``.

    Returns (last id, customers seen, upgrades, downgrades). Upgrades apply at
    once; a downgrade only once the customer has held the tier for the grace
    period (``grace_days`` of the tier document).
    """
    ids = list(session.scalars(select(Customer.id).where(Customer.id > after_id).order_by(Customer.id).limit(chunk)))
    if not ids or pub.tier_spec is None:
        return (ids[-1] if ids else after_id), len(ids), 0, 0
    states = load_states(session, ids, window_start(now.date()), with_days=False)
    today = now.astimezone(ZoneInfo(pub.settings.timezone)).date()
    sums = window_sums(session, ids, today)
    changes: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    up = down = 0
    grace = timedelta(days=pub.grace_days)
    for cid in ids:
        st = states[cid]
        ctx = st.standing(now, "requalification", sums.get(cid, EMPTY_WINDOWS), pub.settings.timezone)
        target = evaluate_tier(pub.tier_spec.document, ctx)
        if target == st.tier:
            continue
        if pub.rank(target) > pub.rank(st.tier):
            reason, up = "qualified at requalification", up + 1
        elif st.tier_since is None or now - st.tier_since >= grace:
            reason, down = f"no longer qualifies (grace of {pub.grace_days} days over)", down + 1
        else:
            continue
        changes.append({"customer_id": cid, "from_tier": st.tier, "to_tier": target, "reason": reason, "at": now})
        outbox.append(
            {
                "dedupe_key": f"tq:{cid}:{now:%Y%m%d}:{target}",
                "customer_id": cid,
                "channel": "sms",
                "template": "tier_changed",
                "payload": {"from": st.tier, "to": target},
                "status": "pending",
                "created_at": now,
            }
        )
    by_target: dict[str | None, list[int]] = defaultdict(list)
    for ch in changes:
        by_target[ch["to_tier"]].append(ch["customer_id"])
    for tier, members in by_target.items():  # one statement per tier, not one per customer
        session.execute(update(Customer).where(Customer.id.in_(members)).values(tier=tier, tier_since=now))
    if changes:
        session.execute(insert(TierChange), changes)
        upsert(session, table_of(Outbox), outbox, ["dedupe_key"])
    return ids[-1], len(ids), up, down


def run_all(
    session_factory: Callable[[], Session],
    pub_loader: Callable[[Session], Published],
    now: datetime | None = None,
    *,
    requalify: bool = False,
    chunk: int = 5000,
) -> LifecycleReport:
    """Release, expire (and optionally requalify) until nothing is due; one commit per chunk."""
    now = now or utcnow()
    report = LifecycleReport()
    for step in (release_due, expire_due):
        while True:
            with session_factory() as session:
                n, pts = step(session, now, chunk=chunk)
                session.commit()
            if step is release_due:
                report.released += n
                report.released_points += pts
            else:
                report.expired += n
                report.expired_points += pts
            if n < chunk:
                break
    if requalify:
        with session_factory() as session:
            pub = pub_loader(session)
        after = 0
        while True:
            with session_factory() as session:
                after, seen, up, down = requalify_chunk(session, pub, after, now, chunk=chunk)
                session.commit()
            report.customers += seen
            report.upgraded += up
            report.downgraded += down
            if seen < chunk:
                break
    return report


def _skip_locked(session: Session) -> bool:
    return session.get_bind().dialect.name in ("mysql", "mariadb")
