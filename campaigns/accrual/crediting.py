"""Credit a batch of queued transactions: evaluate the published rules, write the books.

One database transaction per batch: the queued rows are locked, evaluated in
id order (a customer's earlier transactions count before later ones, also in
the aggregates), caps and budgets applied, and every consequence written in
bulk: ledger entries with unique keys, point lots, balances, daily aggregates,
budget counters, tags, granted rewards, tier changes and notification outbox
rows. A second run over the same ids finds nothing ``queued`` and credits
nothing: retries and duplicate jobs are harmless.

Caps, in the order they apply to one award: the campaign's per-customer limit
on the number of awards per period, its per-customer daily and lifetime point
caps, then its total budget. A cut award is written with the points that were
allowed and a note saying why (zero-point entries included), so a transaction's
detail explains every difference.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, bindparam, insert, literal_column, null, select, type_coerce, union_all, update
from sqlalchemy.orm import Session

from campaigns.accounts import rewards
from campaigns.accounts.ledger import apply_reversal
from campaigns.accrual import challenges
from campaigns.catalog.published import CampaignMeta, Published
from campaigns.clearing.funding import resolve as resolve_funding
from campaigns.clearing.funding import split as funding_split
from campaigns.clock import utcnow
from campaigns.customers.aggregates import AggregateCache, CustomerState, load_states, window_start
from campaigns.customers.identity import NATIONAL_ID, PHONE, normalize_national_id, normalize_phone
from campaigns.models import (
    CampaignCounter,
    CampaignUsage,
    Customer,
    CustomerBalance,
    CustomerDaily,
    CustomerIdentity,
    CustomerProvider,
    CustomerTag,
    ExperimentExposure,
    LedgerEntry,
    Outbox,
    PointLot,
    Reversal,
    RuleUsage,
    TierChange,
    Transaction,
    WebhookSubscription,
)
from campaigns.notify import webhooks
from campaigns.sql import insert_rows, table_of, upsert
from rules import Effect, EvaluationContext, campaign_applies, evaluate_tier
from rules.experiments import group_of

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CreditReport:
    processed: int = 0
    rejected: int = 0
    skipped: int = 0
    points: int = 0
    reversals: int = 0
    messages: int = 0  # outbox rows written (SMS and webhooks): the drain wakes the sender only for these
    customers: set[int] = field(default_factory=set)
    latencies: list[float] = field(default_factory=list)
    agg_updates: dict[int, tuple[int, list[Any]]] = field(default_factory=dict)
    deferred: list[int] = field(default_factory=list)  # ids to dispatch again: older ones go first


def period_start(period: str | None, today: date) -> date:
    if period == "day":
        return today
    if period == "week":
        return today - timedelta(days=today.weekday())
    if period == "month":
        return today.replace(day=1)
    if period == "year":
        return today.replace(month=1, day=1)
    return date(1970, 1, 1)


class _Batch:
    """In-memory state and pending writes of one batch."""

    def __init__(self, session: Session, pub: Published, now: datetime) -> None:
        self.session, self.pub, self.now = session, pub, now
        self.entries: list[dict[str, Any]] = []
        self.lots: dict[int, list[dict[str, Any]]] = {}  # entry index -> its lot rows, one per funder
        self.balances: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])  # bal, life, pend, qual, debt
        self.daily: dict[tuple[int, date, int], list[Any]] = {}
        self.first_seen: dict[tuple[int, int], list[Any]] = {}
        self.usage: dict[tuple[int, int], dict[date, list[int]]] = defaultdict(dict)
        self.new_usage: dict[tuple[int, int, date], list[int]] = defaultdict(lambda: [0, 0])
        self.rule_usage: dict[tuple[int, int, int], dict[date, int]] = defaultdict(dict)  # awards of limited rules
        self.new_rule_usage: dict[tuple[int, int, int, date], int] = defaultdict(int)
        self.counters: dict[int, list[int]] = {}
        self._expiries: dict[tuple[int | None, datetime], datetime | None] = {}
        self._shares: dict[tuple[int, int, int], list[tuple[int, int]]] = {}
        self.tags: set[tuple[int, str]] = set()
        self.tier_updates: dict[int, tuple[str, datetime]] = {}
        self.tier_changes: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.events = webhooks.Events()  # provider webhooks, into the outbox with everything else
        # holdout campaigns: (campaign, customer) -> [cohort, first_at, evaluations, awarded, withheld]
        self.exposures: dict[tuple[int, int], list[Any]] = {}

    # -- loading ------------------------------------------------------------------------------------

    def load_usage(self, customer_ids: list[int]) -> None:
        tracked = [m.id for m in self.pub.campaigns.values() if m.tracks_usage]
        if not tracked or not customer_ids:
            return
        rows = self.session.execute(
            select(
                CampaignUsage.customer_id,
                CampaignUsage.campaign_id,
                CampaignUsage.day,
                CampaignUsage.points,
                CampaignUsage.awards,
            ).where(CampaignUsage.customer_id.in_(customer_ids), CampaignUsage.campaign_id.in_(tracked))
        )
        for cid, camp, day, pts, awards in rows:
            self.usage[(cid, camp)][day] = [pts, awards]

    def load_rule_usage(self, customer_ids: list[int]) -> None:
        """Awards of the rules that carry their own limit (one query, only when a published rule has one)."""
        limited = [m.id for m in self.pub.campaigns.values() if m.rule_limits]
        if not limited or not customer_ids:
            return
        rows = self.session.execute(
            select(
                RuleUsage.customer_id, RuleUsage.campaign_id, RuleUsage.rule_index, RuleUsage.day, RuleUsage.awards
            ).where(RuleUsage.customer_id.in_(customer_ids), RuleUsage.campaign_id.in_(limited))
        )
        for cid, camp, rule, day, awards in rows:
            self.rule_usage[(cid, camp, rule)][day] = awards

    def rule_allowed(self, cid: int, meta: CampaignMeta | None, rule: int, today: date, counted: bool) -> str | None:
        """Why this rule may not award this customer again (its own per-customer limit), or None.

        ``counted``: this transaction already counted an award of the rule for the customer (its other actions
        go with it). An allowed award is counted here.
        """
        if meta is None or counted or rule not in meta.rule_limits:
            return None
        count, period = meta.rule_limits[rule]
        since = period_start(period, today)
        days = self.rule_usage[(cid, meta.id, rule)]
        used = sum(awards for day, awards in days.items() if day >= since)
        if used >= count:
            return f"limit of {count} award(s) per {period} of this rule reached"
        days[today] = days.get(today, 0) + 1
        self.new_rule_usage[(cid, meta.id, rule, today)] += 1
        return None

    def lock_counters(self) -> None:
        """Lock budget rows in campaign order: racing workers queue here and never overspend."""
        budgeted = sorted(m.id for m in self.pub.campaigns.values() if m.has_budget)
        if not budgeted:
            return
        upsert(
            self.session,
            table_of(CampaignCounter),
            [{"campaign_id": c, "points": 0, "rewards": 0} for c in budgeted],
            ["campaign_id"],
        )
        for cid, pts, rw in self.session.execute(
            select(CampaignCounter.campaign_id, CampaignCounter.points, CampaignCounter.rewards)
            .where(CampaignCounter.campaign_id.in_(budgeted))
            .order_by(CampaignCounter.campaign_id)
            .with_for_update()
        ):
            self.counters[cid] = [pts, rw]

    # -- caps -----------------------------------------------------------------------------------------

    def _used(self, cid: int, meta: CampaignMeta, since: date, until: date | None = None) -> tuple[int, int]:
        pts = awards = 0
        for day, (p, a) in self.usage.get((cid, meta.id), {}).items():
            if day >= since and (until is None or day <= until):
                pts += p
                awards += a
        return pts, awards

    def allowed(
        self, cid: int, meta: CampaignMeta | None, points: int, today: date, counted: bool
    ) -> tuple[int, str | None]:
        """Points this award may really give, and why it was cut (None if it was not)."""
        if meta is None:
            return points, None
        wanted, note = points, None
        if meta.limit_count and not counted:
            _, awards = self._used(cid, meta, period_start(meta.limit_period, today))
            if awards >= meta.limit_count:
                return 0, f"limit of {meta.limit_count} award(s) per {meta.limit_period} reached"
        cap = meta.budget.get("max_points_per_customer_per_day")
        if cap is not None:
            used, _ = self._used(cid, meta, today, today)
            if points > cap - used:
                points, note = max(0, cap - used), f"daily cap of {cap} points per customer"
        cap = meta.budget.get("max_points_per_customer")
        if cap is not None:
            used, _ = self._used(cid, meta, date(1970, 1, 1))
            if points > cap - used:
                points, note = max(0, cap - used), f"cap of {cap} points per customer"
        cap = meta.budget.get("max_points")
        if cap is not None:
            spent = self.counters[meta.id][0]
            if points > cap - spent:
                points, note = max(0, cap - spent), f"campaign budget of {cap} points"
        if note:
            note = f"{note} (wanted {wanted})"
        return points, note

    def use(self, cid: int, meta: CampaignMeta | None, points: int, today: date, count: bool) -> None:
        if meta is None:
            return
        if meta.tracks_usage:
            day = self.usage[(cid, meta.id)].setdefault(today, [0, 0])
            day[0] += points
            day[1] += 1 if count else 0
            nu = self.new_usage[(cid, meta.id, today)]
            nu[0] += points
            nu[1] += 1 if count else 0
        if meta.id in self.counters:
            self.counters[meta.id][0] += points

    def expiry(self, meta: CampaignMeta | None, earned_at: datetime) -> datetime | None:
        """When points of ``meta`` earned at ``earned_at`` expire; a batch earns at a few instants (its ``now``, plus
        each campaign's pending days), so each answer is worked out once per batch."""
        key = (meta.id if meta else None, earned_at)
        if key not in self._expiries:
            policy = meta.points_expiry if meta else None
            self._expiries[key] = self.pub.settings.expiry_for(earned_at, policy)
        return self._expiries[key]

    def shares(
        self, campaign_id: int, meta: CampaignMeta | None, provider_id: int, points: int
    ) -> list[tuple[int, int]]:
        """``(funder, points)`` of an award (tier bonuses, campaign 0, by the tiers' funding): a batch's awards
        repeat a few campaigns, providers and amounts, so each split is worked out once per batch."""
        key = (campaign_id, provider_id, points)
        found = self._shares.get(key)
        if found is None:
            funding = self.pub.tier_funding if campaign_id == 0 else (meta.funding if meta else None)
            found = self._shares[key] = funding_split(
                points, resolve_funding(funding, provider_id, self.pub.provider_ids)
            )
        return found

    # -- writing --------------------------------------------------------------------------------------

    def add_entry(self, row: dict[str, Any], lots: list[dict[str, Any]] | None = None) -> None:
        if lots:
            self.lots[len(self.entries)] = lots
        self.entries.append(row)
        b = self.balances[row["customer_id"]]
        b[0] += row.get("points", 0)
        b[2] += row.get("pending", 0)
        b[3] += row.get("qualifying", 0)
        b[4] += row.get("debt", 0)
        if row["kind"] == "earn":
            b[1] += row.get("points", 0) + row.get("pending", 0)

    def flush(self) -> None:
        s, now = self.session, self.now
        self.outbox.extend(self.events.rows(s, now))
        if self.entries:
            ids = insert_rows(s, table_of(LedgerEntry), self.entries, returning_ids=True)
            lots = []
            for i, rows in self.lots.items():  # the batch's own dicts, completed in place: no copy per lot
                for lot in rows:
                    lot["entry_id"], lot["created_at"] = ids[i], now
                    lots.append(lot)
            insert_rows(s, table_of(PointLot), lots)
        touched = {c for c, _d, _p in self.daily}
        upsert(
            s,
            table_of(CustomerBalance),
            [
                {
                    "customer_id": c,
                    "balance": v[0],
                    "lifetime_points": v[1],
                    "pending": v[2],
                    "qualifying": v[3],
                    "debt": v[4],
                    "agg_seq": 1 if c in touched else 0,
                    "updated_at": now,
                }
                for c in set(self.balances) | touched
                for v in [self.balances.get(c, [0, 0, 0, 0, 0])]
            ],
            ["customer_id"],
            add=("balance", "lifetime_points", "pending", "qualifying", "debt", "agg_seq"),
            replace=("updated_at",),
        )
        upsert(
            s,
            table_of(CustomerDaily),
            [
                {
                    "customer_id": c,
                    "day": d,
                    "provider_id": p,
                    "txn_count": v[0],
                    "spend": v[1],
                    "points": v[2],
                    "qualifying": v[3],
                }
                for (c, d, p), v in self.daily.items()
            ],
            ["customer_id", "day", "provider_id"],
            add=("txn_count", "spend", "points", "qualifying"),
        )
        upsert(
            s,
            table_of(CustomerProvider),
            [
                {"customer_id": c, "provider_id": p, "first_at": v[0], "txn_count": v[1]}
                for (c, p), v in self.first_seen.items()
            ],
            ["customer_id", "provider_id"],
            add=("txn_count",),
            least=("first_at",),
        )
        upsert(
            s,
            table_of(CampaignUsage),
            [
                {"customer_id": c, "campaign_id": k, "day": d, "points": v[0], "awards": v[1]}
                for (c, k, d), v in self.new_usage.items()
            ],
            ["customer_id", "campaign_id", "day"],
            add=("points", "awards"),
        )
        upsert(
            s,
            table_of(RuleUsage),
            [
                {"customer_id": c, "campaign_id": k, "rule_index": r, "day": d, "awards": n}
                for (c, k, r, d), n in self.new_rule_usage.items()
            ],
            ["customer_id", "campaign_id", "rule_index", "day"],
            add=("awards",),
        )
        for camp, (pts, rw) in sorted(self.counters.items()):
            s.execute(update(CampaignCounter).where(CampaignCounter.campaign_id == camp).values(points=pts, rewards=rw))
        upsert(
            s,
            table_of(CustomerTag),
            [{"customer_id": c, "tag": t, "created_at": now} for c, t in sorted(self.tags)],
            ["customer_id", "tag"],
        )
        by_tier: dict[str, list[int]] = defaultdict(list)
        for cid, (tier, _since) in sorted(self.tier_updates.items()):
            by_tier[tier].append(cid)
        for tier, members in by_tier.items():
            s.execute(update(Customer).where(Customer.id.in_(members)).values(tier=tier, tier_since=now))
        if self.tier_changes:
            s.execute(insert(TierChange), self.tier_changes)
        upsert(
            s,
            table_of(ExperimentExposure),
            [
                {
                    "campaign_id": camp,
                    "customer_id": cid,
                    "cohort": v[0],
                    "first_at": v[1],
                    "evaluations": v[2],
                    "awarded_points": v[3],
                    "withheld_points": v[4],
                }
                for (camp, cid), v in self.exposures.items()
            ],
            ["campaign_id", "customer_id"],
            add=("evaluations", "awarded_points", "withheld_points"),
        )
        upsert(s, table_of(Outbox), self.outbox, ["dedupe_key"])


def _referrer(session: Session, attributes: dict[str, Any]) -> int | None:
    """The referring customer named in an event's attributes, if we know them."""
    try:
        if attributes.get("referrer_customer_id") is not None:
            return session.scalar(select(Customer.id).where(Customer.id == int(attributes["referrer_customer_id"])))
        if attributes.get("referrer_phone"):
            kind, value = PHONE, normalize_phone(str(attributes["referrer_phone"]))
        elif attributes.get("referrer_national_id"):
            kind, value = NATIONAL_ID, normalize_national_id(str(attributes["referrer_national_id"]))
        else:
            return None
    except (TypeError, ValueError):
        return None
    return session.scalar(
        select(CustomerIdentity.customer_id).where(CustomerIdentity.kind == kind, CustomerIdentity.value == value)
    )


def _context(txn: Row[Any], st: CustomerState, provider: str, today: date, timezone: str) -> EvaluationContext:
    w = st.windows(today)
    first = st.first_at
    return EvaluationContext(
        amount=txn.amount,
        currency=txn.currency,
        provider=provider,
        category=txn.category,
        channel=txn.channel,
        occurred_at=txn.occurred_at,
        attributes=txn.attributes or {},
        event_type=txn.event_type,
        days_since_first_transaction=max(0, (txn.occurred_at - first).days) if first else 0,
        first_transaction_with_provider=txn.provider_id not in st.providers,
        **st.service(txn.occurred_at, txn.provider_id, timezone),
        **st.profile(),
        **w,
    )


# What crediting reads of a transaction: plain rows, no ORM objects (nothing here changes them).
_TXN_COLUMNS = (
    Transaction.id,
    Transaction.customer_id,
    Transaction.provider_id,
    Transaction.provider_txn_id,
    Transaction.source,
    Transaction.event_type,
    Transaction.amount,
    Transaction.currency,
    Transaction.category,
    Transaction.channel,
    Transaction.occurred_at,
    Transaction.received_at,
    Transaction.attributes,
)

# Built once (per call only the ids are bound): the queued rows of a batch, locked, and their acknowledgement.
_QUEUED = (
    select(*_TXN_COLUMNS)
    .where(Transaction.id.in_(bindparam("ids", expanding=True)), Transaction.status == "queued")
    .order_by(Transaction.id)
    .with_for_update()
)
_TRANSACTIONS = table_of(Transaction)
_PROCESSED = (
    update(_TRANSACTIONS)
    .where(_TRANSACTIONS.c.id.in_(bindparam("ids", expanding=True)))
    .values(status="processed", processed_at=bindparam("now", type_=_TRANSACTIONS.c.processed_at.type))
)


def credit_batch(
    session: Session,
    txn_ids: Sequence[int],
    pub: Published,
    now: datetime | None = None,
    *,
    cache: AggregateCache | None = None,
) -> CreditReport:
    """Credit the still-queued transactions among ``txn_ids`` (the caller commits)."""
    now = now or utcnow()
    report = CreditReport()
    if not txn_ids:
        return report
    txns = session.execute(_QUEUED, {"ids": sorted(set(txn_ids))}).all()
    report.skipped = len(set(txn_ids)) - len(txns)
    if not txns:
        return report
    referrers = {
        t.id: r
        for t in txns
        if t.source == "event" and (r := _referrer(session, t.attributes or {})) and r != t.customer_id
    }
    if referrers:
        # A referrer may belong to another partition, so another worker's batch may award them at the same time:
        # holding their balance rows (in id order) until commit makes the two batches count each other's awards
        # against the referrer's limits, which both read after this lock.
        session.execute(
            select(CustomerBalance.customer_id)
            .where(CustomerBalance.customer_id.in_(sorted(set(referrers.values()))))
            .order_by(CustomerBalance.customer_id)
            .with_for_update()
        ).all()
    customer_ids = sorted({t.customer_id for t in txns} | set(referrers.values()))
    earliest = min(t.occurred_at for t in txns)
    states = load_states(session, customer_ids, window_start(earliest.date()) - timedelta(days=1), cache=cache)
    waiting, subscriptions = _besides(session, [t.id for t in txns])
    batch = _Batch(session, pub, now)
    batch.events.subscriptions = subscriptions
    batch.load_usage(customer_ids)
    batch.load_rule_usage(customer_ids)
    batch.lock_counters()
    done: list[int] = []
    for txn in txns:
        try:
            _credit_one(batch, txn, states, referrers.get(txn.id), report)
        except Exception as exc:  # one poisoned transaction must not block its partition
            log.exception("transaction %s rejected", txn.id)
            reason = f"evaluation failed: {exc}"[:500]
            session.execute(
                update(_TRANSACTIONS)
                .where(_TRANSACTIONS.c.id == txn.id)
                .values(status="rejected", reject_reason=reason, processed_at=now)
            )
            batch.events.add(
                "transaction_rejected",
                {
                    "customer_id": txn.customer_id,
                    "transaction_id": txn.id,
                    "provider_txn_id": txn.provider_txn_id,
                    "reason": reason,
                },
                f"tr:{txn.id}",
                txn.provider_id,
            )
            report.rejected += 1
            continue
        done.append(txn.id)
        report.customers.add(txn.customer_id)
        report.latencies.append((now - txn.received_at).total_seconds())
    batch.flush()
    report.messages = len(batch.outbox)
    for (cid, day, pid), (count, spend, points, qual) in batch.daily.items():
        old_seq = states[cid].seq
        report.agg_updates.setdefault(cid, (old_seq, []))[1].append((day, pid, count, spend, points, qual))
    if done:
        session.execute(_PROCESSED, {"ids": done, "now": now})
    report.processed = len(done)
    report.reversals = apply_pending_reversals(session, done, now, pub, waiting)
    return report


def _credit_one(
    batch: _Batch, txn: Row[Any], states: dict[int, CustomerState], referrer: int | None, report: CreditReport
) -> None:
    pub = batch.pub
    st = states[txn.customer_id]
    provider = pub.providers.get(txn.provider_id) or str(txn.provider_id)
    local = txn.occurred_at.astimezone(ZoneInfo(st.timezone))
    today = local.date()
    ctx = _context(txn, st, provider, today, pub.settings.timezone)
    effects = pub.ruleset.evaluate(ctx, received_at=txn.received_at)
    if pub.experiments:  # the hot path pays nothing unless a published campaign holds out a control group
        effects = _hold_out(batch, txn, ctx, effects)
    tier = pub.tiers.get(st.tier or "")
    if tier is not None and tier.earn_multiplier > 1:
        base = sum(e.points for e in effects if e.kind == "points" and e.to != "referrer")
        bonus = math.floor(Decimal(base) * (Decimal(str(tier.earn_multiplier)) - 1))
        if bonus > 0:
            effects.append(
                Effect(
                    campaign_id=0,
                    campaign_version=0,
                    rule_index=-1,
                    rule_name=f"{tier.name} tier x{tier.earn_multiplier:g}",
                    action_index=0,
                    action="tier_bonus",
                    points=bonus,
                    params={},
                    kind="points",
                )
            )
    if pub.challenges:
        for done in challenges.advance(
            batch.session, pub.challenges, txn.id, txn.customer_id, ctx, txn.received_at, batch.now
        ):
            effects.append(done.effect)
            if done.effect.kind == "points":  # a granted reward has its own reward_granted message
                batch.outbox.append(
                    _notify(
                        txn.customer_id,
                        "challenge_completed",
                        f"chc:{done.progress_id}",
                        {"challenge": done.name, "points": done.effect.points},
                        batch.now,
                    )
                )
    earned = {txn.customer_id: [0, 0]}
    counted: set[tuple[int, int]] = set()
    rule_counted: set[tuple[int, int, int]] = set()
    for eff in effects:
        meta = pub.campaigns.get(eff.campaign_id)
        if eff.kind not in ("points", "multiplier"):
            rule_key = (txn.customer_id, eff.campaign_id, eff.rule_index)
            if batch.rule_allowed(txn.customer_id, meta, eff.rule_index, today, rule_key in rule_counted):
                continue  # a reward, tag or notification of a rule past its own limit is not given
            rule_counted.add(rule_key)
        if eff.kind in ("points", "multiplier"):
            targets = {"customer": [txn.customer_id], "referrer": [referrer], "both": [txn.customer_id, referrer]}[
                eff.to or "customer"
            ]
            for target in targets:
                if target is None:
                    continue
                key = (target, eff.campaign_id)
                rule_key = (target, eff.campaign_id, eff.rule_index)
                pts, note = batch.allowed(target, meta, eff.points, today, key in counted)
                if stop := batch.rule_allowed(target, meta, eff.rule_index, today, rule_key in rule_counted):
                    pts, note = 0, f"{stop} (wanted {eff.points})"
                rule_counted.add(rule_key)
                batch.use(target, meta, pts, today, key not in counted)
                counted.add(key)
                _award(batch, txn, eff, target, pts, note, meta, states.get(target))
                e = earned.setdefault(target, [0, 0])
                spendable = pts if eff.feeds in ("both", "spendable") else 0
                e[0] += spendable
                e[1] += pts if eff.feeds in ("both", "qualifying") else 0
                report.points += spendable
        elif eff.kind == "reward" and eff.value:
            issued = rewards.grant(
                batch.session,
                eff.value,
                txn.customer_id,
                txn_id=txn.id,
                campaign_id=eff.campaign_id,
                counters=batch.counters,
                meta=meta,
                now=batch.now,
            )
            if issued is not None:
                batch.outbox.append(
                    _notify(
                        txn.customer_id,
                        "reward_granted",
                        f"rw:{txn.id}:{eff.campaign_id}:{eff.rule_index}:{eff.action_index}",
                        {"reward": eff.value, "voucher": issued},
                        batch.now,
                    )
                )
        elif eff.kind == "tag" and eff.value:
            batch.tags.add((txn.customer_id, eff.value))
            st.tags.add(eff.value)
        elif eff.kind == "notify" and eff.value:
            batch.outbox.append(
                _notify(
                    txn.customer_id,
                    eff.value,
                    f"n:{txn.id}:{eff.campaign_id}:{eff.rule_index}:{eff.action_index}",
                    {"transaction_id": txn.id},
                    batch.now,
                )
            )
    # aggregates now include this event, for the next one and for the tier check
    for cid, (spendable, qualifying) in earned.items():
        target = states.get(cid)
        if target is None:
            continue
        mine = cid == txn.customer_id
        spend = txn.amount if (mine and txn.source == "txn") else Decimal(0)
        target.record(
            today, txn.provider_id, count=1 if mine else 0, spend=spend, points=spendable, qualifying=qualifying
        )
        row = batch.daily.setdefault((cid, today, txn.provider_id), [0, Decimal(0), 0, 0])
        row[0] += 1 if mine else 0
        row[1] += spend
        row[2] += spendable
        row[3] += qualifying
        target.lifetime_points += spendable
        target.qualifying_total += qualifying
    threshold = pub.settings.notify_points_threshold
    mine_earned = earned.get(txn.customer_id, [0, 0])[0]
    batch.events.add(
        "points_credited",
        {
            "customer_id": txn.customer_id,
            "transaction_id": txn.id,
            "provider_txn_id": txn.provider_txn_id,
            "points": mine_earned,
        },
        f"pc:{txn.id}",
        txn.provider_id,
    )
    if threshold is not None and mine_earned > 0 and mine_earned >= threshold:
        batch.outbox.append(
            _notify(
                txn.customer_id,
                "points_earned",
                f"pe:{txn.id}",
                {"points": mine_earned, "transaction_id": txn.id, "provider": provider},
                batch.now,
            )
        )
    fs = batch.first_seen.setdefault((txn.customer_id, txn.provider_id), [txn.occurred_at, 0])
    fs[0] = min(fs[0], txn.occurred_at)
    fs[1] += 1
    st.seen(txn.provider_id, txn.occurred_at)
    if pub.tier_spec is not None:
        _upgrade(batch, txn, st, provider, today)


def _hold_out(batch: _Batch, txn: Row[Any], ctx: EvaluationContext, effects: list[Effect]) -> list[Effect]:
    """Record every customer a holdout campaign evaluates; its control customers get what they would have had
    without it (re-evaluated without the campaign, so stacking and multipliers stay honest), and the points it
    would have given them are recorded as withheld."""
    held: set[int] = set()
    for spec in batch.pub.experiments:
        experiment = spec.document.experiment
        if experiment is None or not campaign_applies(spec, ctx, txn.received_at):
            continue
        cohort = group_of(spec.id, txn.customer_id, experiment.control_share)
        mine = [e for e in effects if e.campaign_id == spec.id]
        points = sum(e.points for e in mine if e.kind in ("points", "multiplier"))
        row = batch.exposures.setdefault((spec.id, txn.customer_id), [cohort, txn.occurred_at, 0, 0, 0])
        row[2] += 1
        row[3 if cohort == "treated" else 4] += points
        if cohort == "control" and mine:
            held.add(spec.id)
    return batch.pub.without(frozenset(held)).evaluate(ctx, received_at=txn.received_at) if held else effects


def _award(
    batch: _Batch,
    txn: Row[Any],
    eff: Effect,
    cid: int,
    pts: int,
    note: str | None,
    meta: CampaignMeta | None,
    st: CustomerState | None,
) -> None:
    spendable = pts if eff.feeds in ("both", "spendable") else 0
    qualifying = pts if eff.feeds in ("both", "qualifying") else 0
    if eff.capped_from is not None and note is None:
        note = (
            f"cap of {batch.pub.settings.max_points_per_transaction} points per transaction (wanted {eff.capped_from})"
        )
    pending_days = meta.pending_days if meta else 0
    available_at = batch.now + timedelta(days=pending_days) if pending_days and spendable else None
    expires_at = batch.expiry(meta, available_at or batch.now) if spendable else None
    suffix = "" if cid == txn.customer_id else ":r"
    row = {
        "entry_key": f"e:{txn.id}:{eff.campaign_id}:{eff.rule_index}:{eff.action_index}{suffix}",
        "customer_id": cid,
        "kind": "earn",
        "points": 0 if available_at else spendable,
        "pending": spendable if available_at else 0,
        "qualifying": qualifying,
        "debt": 0,
        "transaction_id": txn.id,
        "provider_id": txn.provider_id,
        "campaign_id": eff.campaign_id or None,
        "campaign_version": eff.campaign_version or None,
        "rule_index": eff.rule_index if eff.rule_index >= 0 else None,
        "rule_name": eff.rule_name,
        "note": note,
        "created_at": batch.now,
    }
    recovered = 0
    if st is not None and st.debt > 0 and spendable and not available_at:
        recovered = min(st.debt, spendable)
        st.debt -= recovered
    lots = []
    if spendable:
        # one lot per funder (the split computed here, written with the lot insert: no extra round trip);
        # debt is repaid from the first lots, and that repayment is clawed back from their funders
        shares = batch.shares(eff.campaign_id, meta, txn.provider_id, spendable)
        owed = recovered
        for funder, part in shares:
            taken = min(owed, part)
            owed -= taken
            lots.append(
                {
                    "customer_id": cid,
                    "points": part,
                    "remaining": part - taken,
                    "status": "pending" if available_at else ("available" if part - taken else "closed"),
                    "available_at": available_at,
                    "expires_at": expires_at,
                    "funder_id": funder,
                    "recovered": taken,
                }
            )
    batch.add_entry(row, lots)
    if recovered:
        batch.add_entry(
            {
                "entry_key": f"d:{txn.id}:{eff.campaign_id}:{eff.rule_index}:{eff.action_index}{suffix}",
                "customer_id": cid,
                "kind": "debt_recovery",
                "points": -recovered,
                "pending": 0,
                "qualifying": 0,
                "debt": -recovered,
                "transaction_id": txn.id,
                "provider_id": txn.provider_id,
                "campaign_id": None,  # every row has the same keys: one multi-row insert
                "campaign_version": None,
                "rule_index": None,
                "rule_name": None,
                "note": "recovers points clawed back after they were spent",
                "created_at": batch.now,
            }
        )


def _upgrade(batch: _Batch, txn: Row[Any], st: CustomerState, provider: str, today: date) -> None:
    """Upgrade at once when this transaction qualifies; downgrades wait for requalification."""
    pub = batch.pub
    assert pub.tier_spec is not None
    ctx = _context(txn, st, provider, today, pub.settings.timezone)  # the windows include this event by now
    target = evaluate_tier(pub.tier_spec.document, ctx)
    if target is None or pub.rank(target) <= pub.rank(st.tier):
        return
    batch.tier_changes.append(
        {
            "customer_id": st.customer_id,
            "from_tier": st.tier,
            "to_tier": target,
            "reason": f"qualified on transaction {txn.id}",
            "transaction_id": txn.id,
            "at": batch.now,
        }
    )
    batch.outbox.append(
        _notify(st.customer_id, "tier_changed", f"t:{txn.id}:{target}", {"from": st.tier, "to": target}, batch.now)
    )
    batch.events.add(
        "tier_changed",
        {"customer_id": st.customer_id, "from": st.tier, "to": target, "transaction_id": txn.id},
        f"t:{txn.id}:{target}",
        txn.provider_id,
    )
    st.tier, st.tier_since = target, batch.now
    batch.tier_updates[st.customer_id] = (target, batch.now)


def _notify(cid: int, template: str, key: str, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "dedupe_key": key,
        "customer_id": cid,
        "channel": "sms",
        "template": template,
        "payload": payload,
        "status": "pending",
        "created_at": now,
        "recipient": None,  # the same keys as webhook rows: one multi-row insert
        "attempts": 0,
    }


_REVERSALS = table_of(Reversal)
_SUBSCRIPTIONS = table_of(WebhookSubscription)
# What a batch needs to know besides its customers, in one statement: the refunds waiting for its transactions
# (k=0: reversal id, transaction id) and the active webhook subscriptions (k=1: id, provider, url, events).
_BESIDES = union_all(
    select(
        literal_column("0").label("k"),
        _REVERSALS.c.id.label("id"),
        _REVERSALS.c.transaction_id.label("ref"),
        type_coerce(null(), _SUBSCRIPTIONS.c.url.type).label("url"),
        type_coerce(null(), _SUBSCRIPTIONS.c.events.type).label("events"),
    ).where(_REVERSALS.c.transaction_id.in_(bindparam("ids", expanding=True)), _REVERSALS.c.status == "pending"),
    select(
        literal_column("1"),
        _SUBSCRIPTIONS.c.id,
        _SUBSCRIPTIONS.c.provider_id,
        _SUBSCRIPTIONS.c.url,
        _SUBSCRIPTIONS.c.events,
    ).where(_SUBSCRIPTIONS.c.active.is_(True)),
)


@dataclass(slots=True)
class _Subscription:
    id: int
    provider_id: int
    url: str
    events: list[str]


def _besides(session: Session, txn_ids: list[int]) -> tuple[dict[int, list[int]], list[_Subscription]]:
    """Refunds waiting (transaction id -> reversal ids) and the active webhook subscriptions.

    Read once the batch's transaction rows are locked: a refund locks its transaction's row before it records a
    ``pending`` reversal, so none can appear for these transactions until this batch commits (a refund that waited
    on the lock then finds its transaction processed and applies itself). Subscriptions are read per batch, as
    before, only no longer in a statement of their own.
    """
    waiting: dict[int, list[int]] = defaultdict(list)
    subscriptions = []
    for k, ident, ref, url, events in session.execute(_BESIDES, {"ids": txn_ids}):
        if k == 0:
            waiting[ref].append(ident)
        else:
            subscriptions.append(_Subscription(ident, ref, url, events))
    return waiting, subscriptions


def apply_pending_reversals(
    session: Session,
    txn_ids: Sequence[int],
    now: datetime,
    pub: Published | None = None,
    waiting: dict[int, list[int]] | None = None,
) -> int:
    """Refunds that arrived before the credit are applied right after it, in arrival order.

    ``waiting``: the refunds found waiting for these transactions while their rows were locked (``_besides``);
    None: looked up here. Only the (rare) refunds waiting, and their transactions, are loaded as ORM objects.
    """
    if not txn_ids:
        return 0
    if waiting is None:
        session.flush()
        found: dict[int, list[int]] = defaultdict(list)
        for ident, ref in session.execute(
            select(_REVERSALS.c.id, _REVERSALS.c.transaction_id).where(
                _REVERSALS.c.transaction_id.in_(list(txn_ids)), _REVERSALS.c.status == "pending"
            )
        ):
            found[ref].append(ident)
        waiting = found
    ids = [r for t in txn_ids for r in waiting.get(t, ())]
    if not ids:
        return 0
    session.flush()
    pending = session.scalars(select(Reversal).where(Reversal.id.in_(ids)).order_by(Reversal.id)).all()
    by_id = {
        t.id: t
        for t in session.scalars(select(Transaction).where(Transaction.id.in_({r.transaction_id for r in pending})))
    }
    for txn in by_id.values():  # once, before the first refund: a later refresh would undo the previous one
        session.refresh(txn)
    for rev in pending:
        apply_reversal(session, by_id[rev.transaction_id], rev, now)
    session.flush()
    for txn in by_id.values():
        challenges.uncount(session, txn, now)
    return len(pending)
