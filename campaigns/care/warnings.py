"""Early warnings computed from the transaction stream, each with a stated method and threshold.

The statistics are small pure functions (unit-tested on their own); the
``*_check`` functions feed them from the hourly rollups (``campaigns.care.hourly``)
and short indexed ranges of the live tables, and hand what holds now to
``alerts.reconcile``, so an alert clears itself once the stream is normal.

Volume (``volume:<provider code>``)
    Robust z-score of a provider's transactions received in the last 60
    minutes against the same 60 minutes of the week over the last
    ``VOLUME_WEEKS`` weeks. A rolling window straddles two clock hours, so each
    past week's figure is interpolated from its two rolled hours (``m`` minutes
    into hour H: ``(60-m)/60 * count(H-1) + m/60 * count(H)``), assuming
    uniform arrivals within an hour. ``z = (x - median) / scale`` with
    ``scale = max(1.4826 * MAD, sqrt(median), 10 % of median)``: the MAD
    estimates spread robustly, and the floors keep a flat baseline (MAD 0) from
    making ordinary Poisson noise look extreme. Only weeks since the provider
    existed count, at least ``VOLUME_MIN_WEEKS`` of them. Drop: median at least
    ``VOLUME_MIN_BASELINE`` and ``z <= -3.5``; spike: ``x >= VOLUME_MIN_BASELINE``
    and ``z >= 3.5`` (3.5 is Iglewicz and Hoaglin's cut-off for the modified
    z-score); critical from ``|z| >= 7``. Quiet hours therefore never fire a
    drop, and need a real count to fire a spike.

Velocity (``velocity:<customer id>``)
    A customer's transactions (and amount) received in the last 60 minutes,
    against ``VELOCITY_K`` times the larger of the population's normal (the
    median, over the last 7 days of rolled hours before the window, of the hourly 99th percentile
    of per-customer counts and amounts) and the customer's own busiest day in
    the last 28 days (``customer_daily``): a customer who does in one hour five
    times more than their busiest whole day, and more than 99 % of customers do
    in an hour, is suspicious. Absolute minimums (``VELOCITY_MIN_TXNS``,
    ``VELOCITY_MIN_AMOUNT``) keep small numbers quiet; critical beyond three
    times the limit.

Budget burn (``budget:<campaign id>``)
    Points a published campaign issued over the last 24 hours (or since it
    started, if later) give its burn rate; the remaining budget
    (``max_points`` minus ``campaign_counters.points``) divided by that rate is
    the projected exhaustion time. Warning when that comes before ``ends_at``
    (campaigns without an end: within ``BUDGET_OPEN_HORIZON``), critical when
    within 24 hours or already exhausted while the campaign runs.

Claims rise (``claims_rise:<provider code>``)
    Claims about a provider filed in the last 7 days (``x``) against the
    weekly average of the 4 weeks before (``lambda``): one-sided Poisson test
    ``P(X >= x | lambda) <= 0.001`` with ``lambda`` floored at 0.5, and at least
    ``CLAIMS_MIN`` claims and twice the average; critical from ``p <= 1e-6``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from campaigns import localdays
from campaigns.care import alerts, hourly, sla
from campaigns.care.alerts import Condition
from campaigns.care.stats import RobustScore, median, robust_z
from campaigns.catalog import programme
from campaigns.models import (
    Campaign,
    CampaignCounter,
    CampaignHourly,
    CampaignVersion,
    Claim,
    CustomerDaily,
    LedgerEntry,
    Provider,
    Transaction,
    TxnHourly,
    VelocityHourly,
)

Z_WARN = 3.5
Z_CRITICAL = 7.0
VOLUME_WEEKS = 8
VOLUME_MIN_WEEKS = 3
VOLUME_MIN_BASELINE = 20  # transactions per hour
VELOCITY_K = 5.0
VELOCITY_MIN_TXNS = 10
VELOCITY_MIN_AMOUNT = Decimal(20_000_000)
VELOCITY_POPULATION_HOURS = 7 * 24
VELOCITY_OWN_DAYS = 28
VELOCITY_ID_SLICE = 2000  # candidate ids per history query
BUDGET_WINDOW = timedelta(hours=24)
BUDGET_CRITICAL = timedelta(hours=24)
BUDGET_OPEN_HORIZON = timedelta(days=7)
CLAIMS_MIN = 5
CLAIMS_P_WARN = 1e-3
CLAIMS_P_CRITICAL = 1e-6
CLAIMS_LAMBDA_FLOOR = 0.5
WEEK_HOURS = 7 * 24


# -- statistics (pure) -------------------------------------------------------------------------------


def window_baseline(counts: Mapping[int, float], hour: int, minutes_into: float, weeks: Iterable[int]) -> list[float]:
    """Each past week's count for the 60 minutes ending ``minutes_into`` the hour ``hour`` (hours since epoch)."""
    f = min(max(minutes_into / 60.0, 0.0), 1.0)
    out = []
    for k in weeks:
        current, previous = hour - k * WEEK_HOURS, hour - 1 - k * WEEK_HOURS
        out.append((1 - f) * counts.get(previous, 0.0) + f * counts.get(current, 0.0))
    return out


@dataclass(frozen=True, slots=True)
class VolumeVerdict:
    direction: str  # drop | spike
    severity: str
    score: RobustScore


def volume_verdict(x: float, baseline: Sequence[float]) -> VolumeVerdict | None:
    if len(baseline) < VOLUME_MIN_WEEKS:
        return None
    score = robust_z(x, baseline)
    if score.z <= -Z_WARN and score.median >= VOLUME_MIN_BASELINE:
        direction = "drop"
    elif score.z >= Z_WARN and x >= VOLUME_MIN_BASELINE:
        direction = "spike"
    else:
        return None
    return VolumeVerdict(direction, "critical" if abs(score.z) >= Z_CRITICAL else "warning", score)


def velocity_limit(population: float, own: float) -> float:
    return VELOCITY_K * max(population, own, 1.0)


def velocity_severity(txns: int, amount: Decimal, limit_txns: float, limit_amount: float) -> str | None:
    over_txns = txns >= VELOCITY_MIN_TXNS and txns > limit_txns
    over_amount = amount >= VELOCITY_MIN_AMOUNT and float(amount) > limit_amount
    if not (over_txns or over_amount):
        return None
    far = (over_txns and txns > 3 * limit_txns) or (over_amount and float(amount) > 3 * limit_amount)
    return "critical" if far else "warning"


def exhaustion_at(remaining: float, rate_per_hour: float, now: datetime) -> datetime | None:
    """When the budget runs out at this rate (now if already spent; None when nothing is being spent)."""
    if remaining <= 0:
        return now
    if rate_per_hour <= 0:
        return None
    return now + timedelta(hours=remaining / rate_per_hour)


def budget_severity(exhaust: datetime | None, ends_at: datetime | None, now: datetime) -> str | None:
    if exhaust is None:
        return None
    horizon = ends_at if ends_at is not None else now + BUDGET_OPEN_HORIZON
    if exhaust >= horizon:
        return None
    return "critical" if exhaust - now <= BUDGET_CRITICAL else "warning"


def poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam), summed in log space (exact enough for small and large k)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    below = sum(math.exp(i * math.log(lam) - lam - math.lgamma(i + 1)) for i in range(k))
    if below < 0.5:
        return 1.0 - below
    tail = 0.0
    i = k
    while True:
        term = math.exp(i * math.log(lam) - lam - math.lgamma(i + 1))
        tail += term
        if term < tail * 1e-15 or i > k + 10_000:
            return tail
        i += 1


@dataclass(frozen=True, slots=True)
class ClaimsVerdict:
    severity: str
    expected: float
    p_value: float


def claims_verdict(recent: int, previous_four_weeks: int) -> ClaimsVerdict | None:
    expected = previous_four_weeks / 4.0
    if recent < CLAIMS_MIN or recent < 2 * expected:
        return None
    p = poisson_sf(recent, max(expected, CLAIMS_LAMBDA_FLOOR))
    if p > CLAIMS_P_WARN:
        return None
    return ClaimsVerdict("critical" if p <= CLAIMS_P_CRITICAL else "warning", expected, p)


# -- the checks (SQL feeders + reconcile) ------------------------------------------------------------


def _providers(session: Session) -> dict[int, Provider]:
    return {p.id: p for p in session.scalars(select(Provider))}


def last_hour_by_provider(session: Session, now: datetime) -> dict[int, int]:
    q = hourly.by_received(
        select(Transaction.provider_id, func.count())
        .where(hourly.in_received(now - timedelta(hours=1), now))
        .group_by(Transaction.provider_id)
    )
    return {pid: int(n) for pid, n in session.execute(q) if pid is not None}


def volume_check(session: Session, now: datetime) -> int:
    """Skipped (alerts left as they are) until the rollup holds last week's same hour: during a first
    backfill the baseline weeks not rolled yet would read as zero and every provider would look like a spike."""
    hour = hourly.hour_index(now)
    rolled = hourly.rolled_through(session)
    if rolled is None or rolled < hourly.hour_at(hour - WEEK_HOURS):
        return 0
    minutes_into = (now - hourly.hour_at(hour)).total_seconds() / 60.0
    hours = sorted({h - k * WEEK_HOURS for k in range(1, VOLUME_WEEKS + 1) for h in (hour, hour - 1)})
    counts: dict[int, dict[int, float]] = defaultdict(dict)
    for pid, at, n in session.execute(
        select(TxnHourly.provider_id, TxnHourly.hour, func.sum(TxnHourly.txn_count))
        .where(TxnHourly.hour.in_([hourly.hour_at(h) for h in hours]))
        .group_by(TxnHourly.provider_id, TxnHourly.hour)
    ):
        counts[pid][hourly.hour_index(at)] = float(n or 0)
    current = last_hour_by_provider(session, now)
    conditions = []
    for pid, provider in _providers(session).items():
        if not provider.active:
            continue
        weeks = [
            k
            for k in range(1, VOLUME_WEEKS + 1)
            if hourly.hour_at(hour - 1 - k * WEEK_HOURS) >= hourly.hour_at(hourly.hour_index(provider.created_at))
        ]
        x = current.get(pid, 0)
        verdict = volume_verdict(x, window_baseline(counts.get(pid, {}), hour, minutes_into, weeks))
        if verdict is None:
            continue
        s = verdict.score
        what = "dropped" if verdict.direction == "drop" else "spiked"
        conditions.append(
            Condition(
                key=f"volume:{provider.code}",
                severity=verdict.severity,
                subject=f"{provider.code}: volume {what}",
                message=(
                    f"{x} transactions in the last 60 minutes; the same hour of the week over the last "
                    f"{len(weeks)} weeks had a median of {s.median:.0f} (robust z {s.z:+.1f}, threshold ±{Z_WARN})."
                ),
                suggested_action=(
                    "Integration broken? Check the provider's connector, its API key and its error logs."
                    if verdict.direction == "drop"
                    else "Fraud wave or double sending? Check duplicate provider ids and the top customers."
                ),
                provider_id=pid,
                count=x,
                details={
                    "method": "robust z-score vs same hour of week",
                    "direction": verdict.direction,
                    "observed": x,
                    "median": round(s.median, 2),
                    "scale": round(s.scale, 2),
                    "z": round(s.z, 2),
                    "weeks": len(weeks),
                },
            )
        )
    alerts.reconcile(session, "volume", conditions, now)
    return len(conditions)


def _population_velocity(session: Session, now: datetime) -> tuple[float, float]:
    rows = session.execute(
        select(VelocityHourly.p99_txns, VelocityHourly.p99_amount).where(
            VelocityHourly.hour >= now - timedelta(hours=VELOCITY_POPULATION_HOURS),
            VelocityHourly.hour < now - timedelta(hours=2),  # the hours the current window touches stay out
        )
    ).all()
    if not rows:
        return 0.0, 0.0
    return median([float(n) for n, _ in rows]), median([float(a) for _, a in rows])


def velocity_check(session: Session, now: datetime) -> int:
    pop_txns, pop_amount = _population_velocity(session, now)
    # No customer's limit is below K x the population's p99: only those above it can be flagged, so the
    # database leaves out the rest (a busy population made every customer a candidate, each pass).
    least_txns, least_amount = velocity_limit(pop_txns, 0.0), velocity_limit(pop_amount, 0.0)
    txns, total = func.count(), func.sum(Transaction.amount)
    window = hourly.by_received(
        select(Transaction.customer_id, txns.label("n"), total.label("amount"))
        .where(hourly.in_received(now - timedelta(hours=1), now))
        .group_by(Transaction.customer_id)
        .having(
            ((txns >= VELOCITY_MIN_TXNS) & (txns > least_txns))
            | ((total >= VELOCITY_MIN_AMOUNT) & (total > Decimal(str(least_amount))))
        )
    )
    candidates = {cid: (int(n), Decimal(a or 0)) for cid, n, a in session.execute(window)}
    conditions = []
    if candidates:
        today = localdays.day_of(now, programme.load(session).timezone)  # customer_daily's days are local
        own = _busiest_days(session, list(candidates), today)
        flagged: dict[int, tuple[int, Decimal, float, float, str]] = {}
        for cid, (n, amount) in sorted(candidates.items()):
            own_txns, own_amount = own.get(cid, (0.0, 0.0))
            limit_txns, limit_amount = velocity_limit(pop_txns, own_txns), velocity_limit(pop_amount, own_amount)
            severity = velocity_severity(n, amount, limit_txns, limit_amount)
            if severity is not None:
                flagged[cid] = (n, amount, limit_txns, limit_amount, severity)
        providers = _providers(session) if flagged else {}
        involved = _providers_involved(session, list(flagged), now) if flagged else {}
        for cid, (n, amount, limit_txns, limit_amount, severity) in flagged.items():
            by_provider = involved.get(cid, {})
            codes = [providers[p].code for p in sorted(by_provider, key=lambda p: -by_provider[p]) if p in providers]
            conditions.append(
                Condition(
                    key=f"velocity:{cid}",
                    severity=severity,
                    subject=f"Customer {cid}: unusual velocity",
                    message=(
                        f"{n} transactions ({amount:,.0f}) in the last 60 minutes via {', '.join(codes) or '-'}; "
                        f"limit {limit_txns:.0f} transactions / {limit_amount:,.0f} "
                        f"({VELOCITY_K:g} x the larger of the population's hourly 99th percentile "
                        f"and the customer's busiest day in {VELOCITY_OWN_DAYS} days)."
                    ),
                    suggested_action="Possible fraud: review the customer's recent transactions; hold redemptions.",
                    provider_id=max(by_provider, key=lambda p: by_provider[p]) if by_provider else None,
                    count=n,
                    details={
                        "method": "velocity vs population p99 and own history",
                        "customer_id": cid,
                        "transactions": n,
                        "amount": str(amount),
                        "limit_transactions": round(limit_txns, 2),
                        "limit_amount": round(limit_amount, 2),
                        "providers": codes,
                    },
                )
            )
    alerts.reconcile(session, "velocity", conditions, now)
    return len(conditions)


def _busiest_days(session: Session, customer_ids: list[int], today: Any) -> dict[int, tuple[float, float]]:
    """Each candidate's busiest day (transactions, spend; all providers) over the last weeks, today excluded.

    The database reduces the days to one row per customer, in slices of ids: a pass with many candidates
    (a busy population without history yet) stays a few small queries instead of one that returns and keeps
    every customer-day in memory.
    """
    out: dict[int, tuple[float, float]] = {}
    for at in range(0, len(customer_ids), VELOCITY_ID_SLICE):
        days = (
            select(
                CustomerDaily.customer_id,
                func.sum(CustomerDaily.txn_count).label("n"),
                func.sum(CustomerDaily.spend).label("spend"),
            )
            .where(
                CustomerDaily.customer_id.in_(customer_ids[at : at + VELOCITY_ID_SLICE]),
                CustomerDaily.day >= today - timedelta(days=VELOCITY_OWN_DAYS),
                CustomerDaily.day < today,
            )
            .group_by(CustomerDaily.customer_id, CustomerDaily.day)
            .subquery()
        )
        q = select(days.c.customer_id, func.max(days.c.n), func.max(days.c.spend)).group_by(days.c.customer_id)
        out.update({cid: (float(n or 0), float(s or 0)) for cid, n, s in session.execute(q)})
    return out


def _providers_involved(session: Session, customer_ids: list[int], now: datetime) -> dict[int, dict[int, int]]:
    out: dict[int, dict[int, int]] = defaultdict(dict)
    for cid, pid, n in session.execute(
        select(Transaction.customer_id, Transaction.provider_id, func.count())
        .where(Transaction.customer_id.in_(customer_ids), Transaction.received_at >= now - timedelta(hours=1))
        .where(Transaction.received_at < now)
        .group_by(Transaction.customer_id, Transaction.provider_id)
    ):
        out[cid][pid] = int(n)
    return out


def _published_budgets(session: Session) -> list[tuple[int, str, dict[str, Any], datetime | None]]:
    """Published campaigns with a points budget, with their *first* publication (a re-publication keeps burning)."""
    rows = session.execute(
        select(CampaignVersion.campaign_id, Campaign.name, CampaignVersion.document)
        .join(Campaign, Campaign.id == CampaignVersion.campaign_id)
        .where(CampaignVersion.status == "published", Campaign.status == "published")
    ).all()
    wanted = {cid: (name, doc) for cid, name, doc in rows if (doc.get("budget") or {}).get("max_points")}
    if not wanted:
        return []
    first = dict(
        session.execute(
            select(CampaignVersion.campaign_id, func.min(CampaignVersion.published_at))
            .where(CampaignVersion.campaign_id.in_(list(wanted)))
            .group_by(CampaignVersion.campaign_id)
        ).all()
    )
    return [(cid, name, doc, first.get(cid)) for cid, (name, doc) in sorted(wanted.items())]


def _when(value: Any) -> datetime | None:
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else None


def points_since(session: Session, campaign_ids: list[int], since: datetime, now: datetime) -> dict[int, int]:
    """Points each campaign issued in [since, now): rolled hours, plus the ledger after the last rolled hour."""
    through = hourly.rolled_through(session)
    live_from = since if through is None else max(since, through + timedelta(hours=1))
    out: dict[int, int] = defaultdict(int)
    if through is not None and through >= since:
        for cid, pts in session.execute(
            select(CampaignHourly.campaign_id, func.sum(CampaignHourly.points))
            .where(
                CampaignHourly.campaign_id.in_(campaign_ids),
                CampaignHourly.hour >= since,
                CampaignHourly.hour <= through,
            )
            .group_by(CampaignHourly.campaign_id)
        ):
            out[cid] += int(pts or 0)
    for campaign_id, pts in session.execute(
        select(LedgerEntry.campaign_id, func.sum(LedgerEntry.points + LedgerEntry.pending))
        .where(
            LedgerEntry.created_at >= live_from,
            LedgerEntry.created_at < now,
            LedgerEntry.kind == "earn",
            LedgerEntry.campaign_id.in_(campaign_ids),
        )
        .group_by(LedgerEntry.campaign_id)
    ):
        if campaign_id is not None:
            out[campaign_id] += int(pts or 0)
    return out


def budget_check(session: Session, now: datetime) -> int:
    campaigns = _published_budgets(session)
    conditions = []
    if campaigns:
        ids = [c[0] for c in campaigns]
        spent = dict(
            session.execute(
                select(CampaignCounter.campaign_id, CampaignCounter.points).where(CampaignCounter.campaign_id.in_(ids))
            ).all()
        )
        window_start = hourly.hour_at(hourly.hour_index(now - BUDGET_WINDOW))
        burned = points_since(session, ids, window_start, now)
        for cid, name, doc, first_published in campaigns:
            starts, ends = _when(doc.get("starts_at")), _when(doc.get("ends_at"))
            if (starts is not None and starts > now) or (ends is not None and ends <= now):
                continue
            began = max(x for x in (window_start, starts, first_published) if x is not None)
            hours = max((now - began).total_seconds() / 3600.0, 1.0)
            cap = int(doc["budget"]["max_points"])
            used = int(spent.get(cid, 0) or 0)
            rate = burned.get(cid, 0) / hours
            exhaust = exhaustion_at(cap - used, rate, now)
            severity = budget_severity(exhaust, ends, now)
            if severity is None or exhaust is None:
                continue
            left = "is exhausted" if used >= cap else f"runs out at {exhaust:%Y-%m-%d %H:%M} UTC"
            conditions.append(
                Condition(
                    key=f"budget:{cid}",
                    severity=severity,
                    subject=f"Campaign '{name}': budget burning fast",
                    message=(
                        f"{used:,} of {cap:,} points used; at {rate:,.0f} points/hour (last {hours:.0f} h) the budget "
                        f"{left}" + (f", before the campaign ends at {ends:%Y-%m-%d %H:%M} UTC." if ends else ".")
                    ),
                    suggested_action="Raise the budget, tighten the rules or end the campaign early.",
                    count=used,
                    oldest_at=exhaust,
                    details={
                        "method": "remaining budget / burn rate over the last 24 h",
                        "campaign_id": cid,
                        "max_points": cap,
                        "used": used,
                        "rate_per_hour": round(rate, 2),
                        "projected_exhaustion": exhaust.isoformat(),
                        "ends_at": ends.isoformat() if ends else None,
                    },
                )
            )
    alerts.reconcile(session, "budget", conditions, now)
    return len(conditions)


def claims_by_provider(session: Session, lo: datetime, hi: datetime) -> dict[int, int]:
    q = (
        select(Claim.provider_id, func.count())
        .where(Claim.created_at >= lo, Claim.created_at < hi, Claim.provider_id.is_not(None))
        .group_by(Claim.provider_id)
    )
    return {pid: int(n) for pid, n in session.execute(q) if pid is not None}


def claims_rise_check(session: Session, now: datetime) -> int:
    week = timedelta(days=7)
    recent = claims_by_provider(session, now - week, now)
    before = claims_by_provider(session, now - 5 * week, now - week)
    providers = _providers(session)
    conditions = []
    for pid, x in sorted(recent.items()):
        verdict = claims_verdict(x, before.get(pid, 0))
        if verdict is None or pid not in providers:
            continue
        code = providers[pid].code
        conditions.append(
            Condition(
                key=f"claims_rise:{code}",
                severity=verdict.severity,
                subject=f"{code}: claims rising",
                message=(
                    f"{x} missing-points claims in the last 7 days against a weekly average of "
                    f"{verdict.expected:.1f} over the 4 weeks before (Poisson p = {verdict.p_value:.1e})."
                ),
                suggested_action="Look for a common cause: late or rejected transactions, a campaign rule, the SLA.",
                provider_id=pid,
                count=x,
                details={
                    "method": "one-sided Poisson test, last 7 days vs previous 4 weeks",
                    "recent": x,
                    "weekly_average": verdict.expected,
                    "p_value": verdict.p_value,
                },
            )
        )
    alerts.reconcile(session, "claims_rise", conditions, now)
    return len(conditions)


def rollup_check(session: Session, now: datetime) -> int:
    """Keep the hourly rollups current (with the programme's SLA); runs before the warnings that read them."""
    return hourly.refresh(session, sla.policy(session).minutes, now)
