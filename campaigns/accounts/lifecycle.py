"""The points lifecycle jobs: release pending points, convert or expire what is due, requalify tiers.

Points about to expire are written off, or (programme setting ``expired_points``:
``convert_to_offer``) first converted into a reward for customers who have not
redeemed for N months: one redemption through ``rewards.redeem`` made by the
programme, so stock, eligibility, the voucher, the notification, the fulfilling
provider's webhook and clearing all work as for any redemption.

All set-based and chunked: each pass reads a chunk of due lots or customers,
writes its ledger entries and balance deltas in bulk and commits, so a run over
millions of rows holds no long lock and can be stopped and resumed at any time
(every entry has a unique key: a re-run writes nothing twice).
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from campaigns.accounts.ledger import add_to_balances
from campaigns.accounts.rewards import redeem
from campaigns.catalog.programme import CONVERSION_DEFAULT_WITHIN_DAYS
from campaigns.catalog.programme import load as load_programme
from campaigns.catalog.published import Published
from campaigns.clock import utcnow
from campaigns.customers.aggregates import EMPTY_WINDOWS, load_states, window_start, window_sums
from campaigns.errors import DomainError
from campaigns.models import (
    AuditEvent,
    Customer,
    CustomerBalance,
    LedgerEntry,
    LotConsumption,
    Outbox,
    PointLot,
    Redemption,
    Reward,
    TierChange,
)
from campaigns.sql import table_of, upsert
from rules import evaluate_tier


@dataclass
class LifecycleReport:
    released: int = 0
    released_points: int = 0
    expired: int = 0
    expired_points: int = 0
    converted: int = 0
    converted_points: int = 0
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


PROGRAMME_ACTOR = "programme"  # who makes the conversion (requested_by, audit actor)
CONVERSION_SOURCE = "expiry_offer"


def _months_before(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.month - 1 - months, 12)
    year += moment.year
    month += 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def convert_expiring(
    session: Session, now: datetime, *, after: int = 0, chunk: int = 5000
) -> tuple[int, int, int, int]:
    """Convert the soon-expiring points of customers with ``after`` < id (one chunk) into the programme's offer.

    Returns (last customer id looked at, customers looked at, conversions, points converted). Only a
    customer whose points expiring within ``within_days`` cover the reward's cost and who has made no
    paid redemption (a conversion included) for ``after_months_without_redemption`` months; the
    idempotency key names the first expiring lot, so a rerun, or a run after the conversion was
    cancelled (which gives those lots their points back), never converts them again. A customer the
    reward refuses (stock, eligibility, per-customer limit, a hold) keeps the points: they expire.
    """
    policy = load_programme(session).expired_points or {}
    if policy.get("action") != "convert_to_offer":
        return after, 0, 0, 0
    reward = session.scalar(select(Reward).where(Reward.code == policy["offer"]))
    if reward is None or not reward.active:
        return after, 0, 0, 0
    horizon = now + timedelta(days=int(policy.get("within_days", CONVERSION_DEFAULT_WITHIN_DAYS)))
    expiring = session.execute(
        select(PointLot.customer_id, func.sum(PointLot.remaining), func.min(PointLot.id))
        .where(
            PointLot.status == "available",
            PointLot.remaining > 0,
            PointLot.expires_at <= horizon,
            PointLot.customer_id > after,
        )
        .group_by(PointLot.customer_id)
        .order_by(PointLot.customer_id)
        .limit(chunk)
    ).all()
    if not expiring:
        return after, 0, 0, 0
    last = expiring[-1][0]
    due = {cid: (int(points), first) for cid, points, first in expiring if int(points) >= reward.cost}
    since = _months_before(now, int(policy["after_months_without_redemption"]))
    recent: set[int] = set()
    if due:
        recent = set(
            session.scalars(
                select(Redemption.customer_id).where(
                    Redemption.customer_id.in_(due),
                    Redemption.points > 0,
                    Redemption.status == "issued",
                    Redemption.created_at >= since,
                )
            )
        )
    converted = points = 0
    for cid, (amount, first_lot) in sorted(due.items()):
        if cid in recent:
            continue
        try:
            with session.begin_nested():
                view, created = redeem(
                    session,
                    cid,
                    reward.code,
                    requested_by=PROGRAMME_ACTOR,
                    idempotency_key=f"expiring:{first_lot}",
                    now=now,
                    source=CONVERSION_SOURCE,
                    template="expired_points_converted",
                )
        except DomainError:
            continue
        if not created:
            continue
        session.add(
            AuditEvent(
                actor=PROGRAMME_ACTOR,
                action="redemption.converted",
                object_type="redemption",
                object_id=str(view["id"]),
                details={"customer_id": cid, "reward": reward.code, "points": view["points"], "expiring": amount},
            )
        )
        converted += 1
        points += view["points"]
    return last, len(expiring), converted, points


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

    def release(session: Session) -> bool:
        n, pts = release_due(session, now, chunk=chunk)
        report.released += n
        report.released_points += pts
        return n < chunk

    cursor = {"convert": 0, "requalify": 0}  # the last customer id each scan has passed

    def convert(session: Session) -> bool:
        cursor["convert"], seen, n, pts = convert_expiring(session, now, after=cursor["convert"], chunk=chunk)
        report.converted += n
        report.converted_points += pts
        return seen < chunk

    def expire(session: Session) -> bool:
        n, pts = expire_due(session, now, chunk=chunk)
        report.expired += n
        report.expired_points += pts
        return n < chunk

    _in_chunks(session_factory, release)
    _in_chunks(session_factory, convert)  # before expiry, so the points it converts are never written off
    _in_chunks(session_factory, expire)
    if requalify:
        with session_factory() as session:
            pub = pub_loader(session)

        def requalify_next(session: Session) -> bool:
            cursor["requalify"], seen, up, down = requalify_chunk(session, pub, cursor["requalify"], now, chunk=chunk)
            report.customers += seen
            report.upgraded += up
            report.downgraded += down
            return seen < chunk

        _in_chunks(session_factory, requalify_next)
    return report


def _in_chunks(session_factory: Callable[[], Session], step: Callable[[Session], bool]) -> None:
    """Run ``step`` in a transaction of its own, committed, until it says nothing is left (one commit a chunk)."""
    while True:
        with session_factory() as session:
            done = step(session)
            session.commit()
        if done:
            return


def _skip_locked(session: Session) -> bool:
    return session.get_bind().dialect.name in ("mysql", "mariadb")
