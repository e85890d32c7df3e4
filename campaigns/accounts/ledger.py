"""The append-only points ledger and the balances kept in step with it.

Nothing here updates or deletes a ledger row: corrections are new entries.
Each entry moves up to four quantities at once: ``points`` (spendable now),
``pending`` (spendable after a return window), ``qualifying`` (tiers only) and
``debt`` (a clawback that found no points left to take). Balances move by SQL
deltas in the same database transaction as their entries, and the spendable
balance always equals the sum of the available point lots;
:func:`check_invariants` proves all of it.

Reversal policy (documented in docs/rules.md): a refund claws back points in
proportion to the refunded share, first from the points of that earning, then
from the customer's other points (soonest expiry first). What is left becomes
debt, recovered from the customer's next earnings; lots never go negative.
With ``allow_negative_balance`` the API shows ``balance - debt`` (which may be
negative); otherwise it shows the balance and the debt separately.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from campaigns.accounts.lots import apply_take, plan_take
from campaigns.catalog.documents import campaign_labels, published_budgets
from campaigns.clearing.checks import money_problems
from campaigns.clearing.funding import share_out as split
from campaigns.models import (
    Campaign,
    CampaignCounter,
    Customer,
    CustomerBalance,
    CustomerDaily,
    LedgerEntry,
    LotConsumption,
    PointLot,
    Provider,
    Reversal,
    Transaction,
)
from campaigns.sql import table_of, upsert

BALANCE_COLUMNS = ("balance", "lifetime_points", "pending", "qualifying", "debt", "agg_seq")


def add_to_balances(session: Session, deltas: Mapping[int, Mapping[str, int]], now: datetime) -> None:
    """Add per-customer deltas (keys of BALANCE_COLUMNS) in one statement, in customer order."""
    rows = [
        {"customer_id": cid, **{c: int(d.get(c, 0)) for c in BALANCE_COLUMNS}, "updated_at": now}
        for cid, d in deltas.items()
        if any(d.values())
    ]
    upsert(session, table_of(CustomerBalance), rows, ["customer_id"], add=BALANCE_COLUMNS, replace=("updated_at",))


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(ROUND_FLOOR))


def apply_reversal(session: Session, txn: Transaction, reversal: Reversal, now: datetime) -> int:
    """Claw back in proportion to the cumulative refunded share; returns the spendable points taken back.

    Cumulative shares mean partial refunds that add up to the whole amount
    claw back exactly what was earned, never a point more.
    """
    earned = session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.transaction_id == txn.id, LedgerEntry.kind == "earn")
        .order_by(LedgerEntry.id)
    ).all()
    clawed: dict[int, list[int]] = {}
    for eid, pts, pend, qual, debt in session.execute(
        select(
            LedgerEntry.reverses_entry_id,
            func.sum(LedgerEntry.points),
            func.sum(LedgerEntry.pending),
            func.sum(LedgerEntry.qualifying),
            func.sum(LedgerEntry.debt),
        )
        .where(LedgerEntry.transaction_id == txn.id, LedgerEntry.kind == "reversal")
        .group_by(LedgerEntry.reverses_entry_id)
    ):
        if eid is not None:  # a reversal entry always names the entry it reverses
            clawed[eid] = [int(debt) - int(pts) - int(pend), -int(qual)]
    share = min(Decimal(1), (txn.reversed_amount + reversal.amount) / txn.amount) if txn.amount else Decimal(1)
    total_taken = 0
    deltas: dict[int, dict[str, int]] = {}
    for e in earned:
        done_s, done_q = clawed.get(e.id, [0, 0])
        want_s = _floor(Decimal(e.points + e.pending) * share) - done_s
        want_q = _floor(Decimal(e.qualifying) * share) - done_q
        if want_s <= 0 and want_q <= 0:
            continue
        lots = session.scalars(
            select(PointLot).where(PointLot.entry_id == e.id).order_by(PointLot.id).with_for_update()
        ).all()
        # each funder of the earning gives back its share of the clawback (largest remainder, like the split)
        shares = dict(split(max(0, want_s), [(lot.id, lot.points) for lot in lots]))
        pending_parts = [
            (lot, min(shares.get(lot.id, 0), lot.remaining)) for lot in lots if lot.status == "pending" and want_s > 0
        ]
        taken_pending = sum(p for _, p in pending_parts)
        plan = None
        rest = max(0, want_s - taken_pending)
        if rest:
            first = [(lot, shares.get(lot.id, 0)) for lot in lots if lot.status == "available"]
            plan = plan_take(session, [e.customer_id], rest, first=first)
        taken = plan.taken if plan else 0
        shortfall = plan.shortfall if plan else 0
        row = LedgerEntry(
            entry_key=f"r:{reversal.id}:{e.id}",
            customer_id=e.customer_id,
            kind="reversal",
            points=-taken,
            pending=-taken_pending,
            qualifying=-max(0, want_q),
            debt=shortfall,
            transaction_id=txn.id,
            reversal_id=reversal.id,
            reverses_entry_id=e.id,
            provider_id=txn.provider_id,
            campaign_id=e.campaign_id,
            campaign_version=e.campaign_version,
            rule_index=e.rule_index,
            rule_name=e.rule_name,
            note=f"refund of {reversal.amount}"
            + (f"; {shortfall} points already spent became debt" if shortfall else ""),
            created_at=now,
        )
        session.add(row)
        session.flush()
        if plan is not None:
            apply_take(session, plan, row.id)
        for lot, part in pending_parts:
            if part <= 0:
                continue
            lot.remaining -= part
            if lot.remaining == 0:
                lot.status = "closed"
            session.add(LotConsumption(lot_id=lot.id, entry_id=row.id, points=part))
        d = deltas.setdefault(e.customer_id, {})
        d["balance"] = d.get("balance", 0) - taken
        d["pending"] = d.get("pending", 0) - taken_pending
        d["qualifying"] = d.get("qualifying", 0) - max(0, want_q)
        d["debt"] = d.get("debt", 0) + shortfall
        d["lifetime_points"] = d.get("lifetime_points", 0) - max(0, want_s)
        d["agg_seq"] = 1  # customer_daily changes below: Redis copies of it are now stale
        _unrecord(session, txn, e.customer_id, max(0, want_s), max(0, want_q))
        total_taken += max(0, want_s)
    if txn.source == "txn":
        deltas.setdefault(txn.customer_id, {})["agg_seq"] = 1
    add_to_balances(session, deltas, now)
    _unrecord_spend(session, txn, reversal.amount)
    reversal.status = "applied"
    reversal.points = -total_taken
    reversal.applied_at = now
    txn.reversed_amount = txn.reversed_amount + reversal.amount
    if txn.reversed_amount >= txn.amount:
        txn.status = "reversed"
    return -total_taken


def _local_day(session: Session, txn: Transaction, customer_id: int) -> Any:
    tz = session.scalar(select(Customer.timezone).where(Customer.id == customer_id)) or "Asia/Ho_Chi_Minh"
    return txn.occurred_at.astimezone(ZoneInfo(tz)).date()


def _unrecord(session: Session, txn: Transaction, customer_id: int, points: int, qualifying: int) -> None:
    """Rolling aggregates follow refunds, so a refunded purchase stops counting towards tiers."""
    if not points and not qualifying:
        return
    row = {
        "customer_id": customer_id,
        "day": _local_day(session, txn, customer_id),
        "provider_id": txn.provider_id,
        "txn_count": 0,
        "spend": Decimal(0),
        "points": -points,
        "qualifying": -qualifying,
    }
    upsert(
        session,
        table_of(CustomerDaily),
        [row],
        ["customer_id", "day", "provider_id"],
        add=("txn_count", "spend", "points", "qualifying"),
    )


def _unrecord_spend(session: Session, txn: Transaction, amount: Decimal) -> None:
    if txn.source != "txn":
        return
    row = {
        "customer_id": txn.customer_id,
        "day": _local_day(session, txn, txn.customer_id),
        "provider_id": txn.provider_id,
        "txn_count": 0,
        "spend": -amount,
        "points": 0,
        "qualifying": 0,
    }
    upsert(
        session,
        table_of(CustomerDaily),
        [row],
        ["customer_id", "day", "provider_id"],
        add=("txn_count", "spend", "points", "qualifying"),
    )


def expiring(session: Session, customer_id: int, now: datetime, months: int = 3) -> list[dict[str, Any]]:
    """What expires when, for customers and staff: available lots grouped by expiry date."""
    rows = session.execute(
        select(func.date(PointLot.expires_at), func.sum(PointLot.remaining))
        .where(
            PointLot.customer_id == customer_id,
            PointLot.status == "available",
            PointLot.remaining > 0,
            PointLot.expires_at.is_not(None),
            PointLot.expires_at <= now + timedelta(days=31 * months),
        )
        .group_by(func.date(PointLot.expires_at))
        .order_by(func.date(PointLot.expires_at))
    ).all()
    return [{"date": str(day), "points": int(points)} for day, points in rows]


def customer_view(
    session: Session, customer_id: int, *, limit: int = 50, now: datetime | None = None
) -> dict[str, Any] | None:
    bal = session.get(CustomerBalance, customer_id)
    if bal is None:
        return None
    rows = session.execute(
        select(LedgerEntry, Provider.code, Campaign.name)
        .outerjoin(Provider, Provider.id == LedgerEntry.provider_id)
        .outerjoin(Campaign, Campaign.id == LedgerEntry.campaign_id)
        .where(LedgerEntry.customer_id == customer_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    ).all()
    labels = campaign_labels(
        session, {(e.campaign_id, e.campaign_version) for e, _, _ in rows if e.campaign_id and e.campaign_version}
    )
    return {
        "balance": bal.balance,
        "pending_points": bal.pending,
        "qualifying_points": bal.qualifying,
        "debt": bal.debt,
        "lifetime_points": bal.lifetime_points,
        "expiring": expiring(session, customer_id, now or datetime.now().astimezone()),
        "ledger": [
            {
                "id": e.id,
                "kind": e.kind,
                "points": e.points,
                "pending": e.pending,
                "qualifying": e.qualifying,
                "provider": code,
                "transaction_id": e.transaction_id,
                "campaign": name,
                "campaign_label": labels.get((e.campaign_id, e.campaign_version), name),  # a string or {vi, en}
                "rule": e.rule_name,
                "note": e.note,
                "created_at": e.created_at,
            }
            for e, code, name in rows
        ],
    }


CHECK_CUSTOMERS_PER_CHUNK = 20_000
CHECK_ROWS_PER_CHUNK = 250_000
MAX_PROBLEMS = 100  # per kind of problem


def _chunks(session: Session, column: Any, step: int) -> Iterator[tuple[int, int]]:
    """Inclusive id ranges covering ``column``: whole-table aggregates become many short queries.

    Each query then stays well inside the connection's read timeout, whatever the size of the books.
    """
    low, high = session.execute(select(func.min(column), func.max(column))).one()
    if low is None:
        return
    for start in range(int(low), int(high) + 1, step):
        yield start, start + step - 1


def _scan(
    session: Session,
    column: Any,
    step: int,
    query: Callable[[int, int], Select[*tuple[Any, ...]]],
    describe: Callable[..., str],
) -> list[str]:
    """One kind of problem, range by range over ``column``, at most ``MAX_PROBLEMS`` of it."""
    found: list[str] = []
    for lo, hi in _chunks(session, column, step):
        if len(found) >= MAX_PROBLEMS:
            break
        found += [describe(*row) for row in session.execute(query(lo, hi).limit(MAX_PROBLEMS - len(found)))]
    return found


def _balances_differing(lo: int, hi: int, per_customer: Any, pairs: list[tuple[Any, str]]) -> Select[Any]:
    """Balance rows in ``lo..hi`` whose columns differ from a per-customer subquery (``cid`` + the named
    columns, a customer without rows counting as zeros): customer id, the balance columns, then the sums."""
    sums = [func.coalesce(per_customer.c[name], 0) for _, name in pairs]
    return (
        select(CustomerBalance.customer_id, *(column for column, _ in pairs), *sums)
        .outerjoin(per_customer, per_customer.c.cid == CustomerBalance.customer_id)
        .where(
            CustomerBalance.customer_id.between(lo, hi),
            or_(*(column != total for (column, _), total in zip(pairs, sums, strict=True))),
        )
    )


def _balance_vs_ledger(lo: int, hi: int) -> Select[Any]:
    sums = (
        select(
            LedgerEntry.customer_id.label("cid"),
            func.sum(LedgerEntry.points).label("points"),
            func.sum(LedgerEntry.pending).label("pending"),
            func.sum(LedgerEntry.qualifying).label("qualifying"),
            func.sum(LedgerEntry.debt).label("debt"),
        )
        .where(LedgerEntry.customer_id.between(lo, hi))
        .group_by(LedgerEntry.customer_id)
        .subquery()
    )
    pairs = [
        (CustomerBalance.balance, "points"),
        (CustomerBalance.pending, "pending"),
        (CustomerBalance.qualifying, "qualifying"),
        (CustomerBalance.debt, "debt"),
    ]
    return _balances_differing(lo, hi, sums, pairs)


def _balance_vs_lots(lo: int, hi: int) -> Select[Any]:
    lots = (
        select(
            PointLot.customer_id.label("cid"),
            func.sum(case((PointLot.status == "available", PointLot.remaining), else_=0)).label("available"),
            func.sum(case((PointLot.status == "pending", PointLot.remaining), else_=0)).label("pending"),
        )
        .where(PointLot.customer_id.between(lo, hi))
        .group_by(PointLot.customer_id)
        .subquery()
    )
    pairs = [(CustomerBalance.balance, "available"), (CustomerBalance.pending, "pending")]
    return _balances_differing(lo, hi, lots, pairs)


def _lots_spent_twice(lo: int, hi: int) -> Select[int, int, int]:
    return (
        select(PointLot.id, PointLot.points, func.sum(LotConsumption.points))
        .join(LotConsumption, LotConsumption.lot_id == PointLot.id)
        .where(PointLot.id.between(lo, hi))
        .group_by(PointLot.id, PointLot.points, PointLot.recovered)
        .having(func.sum(LotConsumption.points) + PointLot.recovered > PointLot.points)
    )


def check_invariants(session: Session) -> list[str]:
    """Every way the books could be wrong, as readable lines; empty means they balance.

    Scans the books in ranges of customer ids and of row ids, so it finishes on
    books of millions of entries; each kind of problem is listed at most
    ``MAX_PROBLEMS`` times.
    """
    customers, rows = CHECK_CUSTOMERS_PER_CHUNK, CHECK_ROWS_PER_CHUNK
    problems = _scan(
        session,
        CustomerBalance.customer_id,
        customers,
        _balance_vs_ledger,
        lambda cid, bal, pend, qual, debt, s_pts, s_pend, s_qual, s_debt: (
            f"customer {cid}: balance/pending/qualifying/debt {bal}/{pend}/{qual}/{debt} "
            f"!= ledger {s_pts}/{s_pend}/{s_qual}/{s_debt}"
        ),
    )
    problems += _scan(
        session,
        CustomerBalance.customer_id,
        customers,
        _balance_vs_lots,
        lambda cid, bal, pend, avail, lpend: (
            f"customer {cid}: balance {bal} / pending {pend} != point lots {avail} / {lpend}"
        ),
    )
    problems += _scan(
        session,
        PointLot.id,
        rows,
        _lots_spent_twice,
        lambda lot_id, points, used: f"point lot {lot_id}: {used} points spent from a lot of {points} (spent twice)",
    )
    problems += _scan(
        session,
        PointLot.id,
        rows,
        lambda lo, hi: select(PointLot.id).where(PointLot.id.between(lo, hi), PointLot.remaining < 0),
        lambda lot_id: f"point lot {lot_id}: negative remaining",
    )
    for cid in session.scalars(
        select(CustomerBalance.customer_id)
        .where((CustomerBalance.balance < 0) | (CustomerBalance.debt < 0))
        .limit(MAX_PROBLEMS)
    ):
        problems.append(f"customer {cid}: negative balance or debt")
    clawed: dict[int, int] = {}
    for lo, hi in _chunks(session, LedgerEntry.id, CHECK_ROWS_PER_CHUNK):
        for entry_id, total in session.execute(
            select(LedgerEntry.reverses_entry_id, func.sum(LedgerEntry.points + LedgerEntry.pending - LedgerEntry.debt))
            .where(LedgerEntry.id.between(lo, hi), LedgerEntry.kind == "reversal")
            .group_by(LedgerEntry.reverses_entry_id)
        ):
            if entry_id is not None:
                clawed[entry_id] = clawed.get(entry_id, 0) + int(total)
    found = 0
    ids = list(clawed)
    for i in range(0, len(ids), 10_000):
        earned = dict(
            session.execute(
                select(LedgerEntry.id, LedgerEntry.points + LedgerEntry.pending).where(
                    LedgerEntry.id.in_(ids[i : i + 10_000])
                )
            ).all()
        )
        for entry_id in ids[i : i + 10_000]:
            if -clawed[entry_id] > int(earned.get(entry_id, 0)) and found < MAX_PROBLEMS:
                found += 1
                problems.append(
                    f"ledger entry {entry_id}: reversed {-clawed[entry_id]} > earned {earned.get(entry_id, 0)}"
                )
    for tid in session.scalars(
        select(Transaction.id)
        .join(LedgerEntry, LedgerEntry.transaction_id == Transaction.id)
        .where(Transaction.status == "queued")
        .limit(MAX_PROBLEMS)
    ):
        problems.append(f"transaction {tid}: has ledger entries but is still queued")
    problems.extend(_budget_problems(session))
    problems.extend(money_problems(session))
    return problems


def _budget_problems(session: Session) -> list[str]:
    problems: list[str] = []
    capped = {cid: b["max_points"] for cid, b in published_budgets(session).items() if b.get("max_points") is not None}
    if not capped:
        return problems
    spent = dict(session.execute(select(CampaignCounter.campaign_id, CampaignCounter.points)).all())
    issued: dict[int, int] = {}
    for lo, hi in _chunks(session, LedgerEntry.id, CHECK_ROWS_PER_CHUNK):
        for campaign_id, points in session.execute(
            select(LedgerEntry.campaign_id, func.sum(LedgerEntry.points + LedgerEntry.pending))
            .where(LedgerEntry.id.between(lo, hi), LedgerEntry.kind == "earn", LedgerEntry.campaign_id.is_not(None))
            .group_by(LedgerEntry.campaign_id)
        ):
            if campaign_id is not None:
                issued[campaign_id] = issued.get(campaign_id, 0) + int(points or 0)
    for campaign_id, cap in capped.items():
        used = int(spent.get(campaign_id, 0))
        if used > cap:
            problems.append(f"campaign {campaign_id}: budget {cap} exceeded ({used})")
        if int(issued.get(campaign_id) or 0) > cap:
            problems.append(f"campaign {campaign_id}: {issued[campaign_id]} points issued over a budget of {cap}")
    return problems
