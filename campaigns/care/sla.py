"""Accrual SLA: every transaction credited within the programme's SLA of its receipt.

The monitor (:func:`check`, run by the care centre's periodic job) looks only at
transactions still ``queued`` and already older than the warning threshold: one
GROUP BY over a range of ``ix_txn_status_received`` (status, received_at), so the
normal flow (credited within seconds, never that old) costs it nothing however
large the table grows. Rejected transactions never count: they were answered.

The dashboard (:func:`build`) reads finished days from the ``sla_daily`` rollup
(exact percentiles computed once per day by :func:`refresh_rollup`) and the days
after it live. Latency is ``processed_at - received_at``; a percentile is the
nearest-rank one (the smallest latency with at least q of the values at or below
it), computed in Python so MariaDB and SQLite give the same figure.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, case, cast, delete, func, insert, literal_column, select
from sqlalchemy.orm import Session

from campaigns import localdays, watermarks
from campaigns.care import alerts, hourly
from campaigns.catalog import programme
from campaigns.clock import utcnow
from campaigns.i18n import moment
from campaigns.models import Provider, SlaDaily, Transaction
from campaigns.permissions import Scope

KIND = "sla"
CREDITED = ("processed", "reversed")
ROLLUP_COUNTER = "sla_daily_through"  # ordinal of the last local day (programme zone) in sla_daily
ROLLUP_LAG = timedelta(hours=1)  # as the dashboard rollup: a day is rolled up an hour after it ended
ROLLUP_CHUNK_DAYS = 31
LIVE_LIMIT = 200_000  # latencies read for a live window; above it the figures are of the latest ones
QUANTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))


@dataclass(frozen=True)
class Policy:
    """The programme's SLA (``accrual_sla`` setting) with the thresholds derived from it."""

    minutes: int
    warning_percent: int
    critical_factor: float
    critical_count: int

    @property
    def sla(self) -> timedelta:
        return timedelta(minutes=self.minutes)

    @property
    def warn_after(self) -> timedelta:
        return self.sla * self.warning_percent / 100

    @property
    def critical_after(self) -> timedelta:
        return self.sla * self.critical_factor

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in programme.SLA_LIMITS}


def policy(session: Session) -> Policy:
    """The stored SLA, each missing field falling back to its default."""
    values = {**programme.DEFAULTS["accrual_sla"], **(programme.load(session).accrual_sla or {})}
    return Policy(**{k: values[k] for k in programme.SLA_LIMITS})


# -- the monitor ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Late:
    """One provider's transactions still waiting past the warning threshold."""

    provider_id: int
    code: str
    name: str
    count: int
    overdue: int  # of which waiting longer than the SLA
    beyond: int  # of which waiting longer than the critical threshold
    oldest_at: datetime

    def severity(self, p: Policy, now: datetime) -> str:
        if now - self.oldest_at >= p.critical_after or self.overdue >= p.critical_count:
            return "critical"
        return "overdue" if self.overdue else "warning"


def late_by_provider(session: Session, now: datetime, p: Policy) -> list[Late]:
    """Queued transactions older than the warning threshold, per provider (the index range above)."""
    overdue_cut, critical_cut = now - p.sla, now - p.critical_after
    rows = session.execute(
        select(
            Transaction.provider_id,
            func.count(),
            func.min(Transaction.received_at),
            func.sum(case((Transaction.received_at <= overdue_cut, 1), else_=0)),
            func.sum(case((Transaction.received_at <= critical_cut, 1), else_=0)),
        )
        .where(Transaction.status == "queued", Transaction.received_at <= now - p.warn_after)
        .group_by(Transaction.provider_id)
    ).all()
    if not rows:
        return []
    names = {i: (c, n) for i, c, n in session.execute(select(Provider.id, Provider.code, Provider.name))}
    out = [
        Late(pid, *names.get(pid, (str(pid), str(pid))), int(n), int(over or 0), int(beyond or 0), oldest)
        for pid, n, oldest, over, beyond in rows
    ]
    return sorted(out, key=lambda x: x.code)


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


def suggested_action(late: list[Late], one: Late, active_providers: int) -> str:
    """Where to look first: a cause shared by every provider is ours (the workers), one late provider is its own."""
    if len(late) >= 2 and len(late) >= active_providers:
        return (
            "Workers backlog: every provider is late, so the cause is shared. Check that the RQ workers run and keep "
            "up (rq info: the loyalty-accrual-* partition queues and failed jobs), then the database."
        )
    if len(late) >= 2:
        codes = ", ".join(x.code for x in late)
        return (
            f"{len(late)} providers are late ({codes}): check the workers and the queues first, "
            f"then these providers' queued transactions."
        )
    if active_providers > 1:
        return (
            f"Only {one.code} is late; the other providers are credited on time. Look at {one.code}'s queued "
            f"transactions (a bulk import, failed jobs, a retried batch) and call {one.code}'s integration team."
        )
    return "Check that the RQ workers run and keep up (rq info: partition queues, failed jobs), then the database."


def conditions(session: Session, now: datetime, p: Policy | None = None) -> list[alerts.Condition]:
    """One condition per late provider, keyed ``sla:<provider code>``; the provider is the responsible unit."""
    p = p or policy(session)
    late = late_by_provider(session, now, p)
    if not late:
        return []
    active = session.scalar(select(func.count()).select_from(Provider).where(Provider.active.is_(True))) or 0
    tz = programme.load(session).timezone
    out = []
    for x in late:
        severity = x.severity(p, now)
        age = now - x.oldest_at
        if x.overdue:
            state = f"{x.overdue:,} over the {p.minutes}-min SLA"
        else:
            state = f"none over the {p.minutes}-min SLA yet ({p.warning_percent}% of it passed)"
        out.append(
            alerts.Condition(
                key=f"{KIND}:{x.code}",
                severity=severity,
                subject=f"Accrual SLA: {x.name} ({x.code}) transactions not credited",
                message=(
                    f"{x.name} ({x.code}), the responsible unit: {x.count:,} transactions waiting to be credited, "
                    f"{state}; the oldest was received {moment(x.oldest_at, 'en', tz)}, {_minutes(age)} ago."
                ),
                suggested_action=suggested_action(late, x, active),
                provider_id=x.provider_id,
                count=x.count,
                oldest_at=x.oldest_at,
                details={
                    "approaching": x.count - x.overdue,
                    "overdue": x.overdue,
                    "beyond_critical_age": x.beyond,
                    "oldest_age_seconds": int(age.total_seconds()),
                    "sla": p.as_dict(),
                    "providers_late": [y.code for y in late],
                },
            )
        )
    return out


def check(session: Session, now: datetime) -> int:
    """The care monitor's SLA pass: raise, update and clear the ``sla`` alerts; returns how many hold."""
    found = conditions(session, now)
    alerts.reconcile(session, KIND, found, now)
    return len(found)


# -- figures ----------------------------------------------------------------------------------------


def _latency_ms(session: Session) -> Any:
    """``processed_at - received_at`` in whole milliseconds, in the dialect's own date arithmetic."""
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        micro = func.timestampdiff(literal_column("MICROSECOND"), Transaction.received_at, Transaction.processed_at)
        return micro.op("DIV")(1000)
    days = func.julianday(Transaction.processed_at) - func.julianday(Transaction.received_at)
    return cast(func.round(days * 86_400_000), Integer)


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list (no interpolation: always a latency that was observed)."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass
class Latency:
    code: str
    name: str
    count: int = 0
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, code: str, name: str, seconds: list[float]) -> Latency:
        seconds.sort()
        qs = {k: percentile(seconds, q) for k, q in QUANTILES}
        return cls(code, name, len(seconds), qs["p50"], qs["p90"], qs["p99"], seconds[-1] if seconds else None)


@dataclass
class Board:
    policy: Policy
    days: list[str]
    providers: list[tuple[int, str, str]]  # (id, code, name) in view
    share: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)  # (code, day) -> (within, late)
    latency: list[Latency] = field(default_factory=list)
    latency_window: str = "last 24 h"
    latency_sampled: bool = False
    backlog: list[dict[str, Any]] = field(default_factory=list)
    partitions: dict[int, int] | None = None

    def share_pct(self, code: str, day: str) -> float | None:
        within, late = self.share.get((code, day), (0, 0))
        return round(100 * within / (within + late), 1) if within + late else None

    def totals(self, code: str) -> tuple[int, int]:
        pairs = [v for (c, _), v in self.share.items() if c == code]
        return sum(w for w, _ in pairs), sum(lt for _, lt in pairs)

    @property
    def queued(self) -> int:
        return sum(b["queued"] for b in self.backlog)


def rolled_through(session: Session) -> date | None:
    value = watermarks.read(session, ROLLUP_COUNTER)
    return date.fromordinal(value) if value is not None else None


def live_share(
    session: Session, p: Policy, first: date, now: datetime, provider_id: int | None = None
) -> dict[tuple[str, int], list[int]]:
    """(local day, provider id) -> [within SLA, late] for transactions received from the local day ``first`` on.

    Late: credited after the SLA, or still waiting longer than it; those still
    waiting within it are not decided yet and count nowhere.
    """
    tz = programme.load(session).timezone
    since = localdays.start_of(first, tz)
    sla_ms = int(p.sla.total_seconds() * 1000)
    out: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0])
    rday = localdays.day_case(Transaction.received_at, first, max(first, localdays.day_of(now, tz)), tz).label("d")
    within = func.sum(case((_latency_ms(session) <= sla_ms, 1), else_=0))
    credited = hourly.by_received(
        select(rday, Transaction.provider_id, func.count(), within)
        .where(Transaction.status.in_(CREDITED), Transaction.received_at >= since)
        .group_by(rday, Transaction.provider_id)
    )
    waiting = (
        select(rday, Transaction.provider_id, func.count())
        .where(Transaction.status == "queued", Transaction.received_at >= since)
        .where(Transaction.received_at <= now - p.sla)
        .group_by(rday, Transaction.provider_id)
    )
    if provider_id is not None:
        credited = credited.where(Transaction.provider_id == provider_id)
        waiting = waiting.where(Transaction.provider_id == provider_id)
    for day, pid, n, within in session.execute(credited):
        cell = out[(localdays.ordinal_day(day).isoformat(), pid)]
        cell[0] += int(within or 0)
        cell[1] += int(n) - int(within or 0)
    for day, pid, n in session.execute(waiting):
        out[(localdays.ordinal_day(day).isoformat(), pid)][1] += int(n)
    return dict(out)


def latencies(
    session: Session, lo: datetime, hi: datetime, provider_id: int | None = None, limit: int | None = LIVE_LIMIT
) -> tuple[dict[int, list[float]], bool]:
    """Latency in seconds of the transactions received in [lo, hi) and credited, per provider (latest first)."""
    stmt = (
        select(Transaction.provider_id, _latency_ms(session))
        .where(Transaction.status.in_(CREDITED), Transaction.received_at >= lo, Transaction.received_at < hi)
        .order_by(Transaction.received_at.desc())
    )
    if provider_id is not None:
        stmt = stmt.where(Transaction.provider_id == provider_id)
    if limit is not None:
        stmt = stmt.limit(limit + 1)
    out: dict[int, list[float]] = defaultdict(list)
    for n, (pid, ms) in enumerate(session.execute(stmt.execution_options(yield_per=20_000)), 1):
        if limit is not None and n > limit:
            return dict(out), True
        out[pid].append(max(0.0, int(ms) / 1000))
    return dict(out), False


def backlog(session: Session, scope: Scope, now: datetime) -> list[dict[str, Any]]:
    """Transactions waiting to be credited now, per provider, with the oldest's age."""
    stmt = (
        select(Transaction.provider_id, func.count(), func.min(Transaction.received_at))
        .where(Transaction.status == "queued")
        .group_by(Transaction.provider_id)
    )
    if scope.limited:
        stmt = stmt.where(Transaction.provider_id == scope.provider_id)
    names = dict(session.execute(select(Provider.id, Provider.code)).all())
    rows = [
        {
            "provider_id": pid,
            "code": names.get(pid, str(pid)),
            "queued": int(n),
            "oldest_at": oldest,
            "oldest_age_seconds": max(0, int((now - oldest).total_seconds())),
        }
        for pid, n, oldest in session.execute(stmt)
    ]
    return sorted(rows, key=lambda r: (-r["oldest_age_seconds"], r["code"]))


def _providers(session: Session, scope: Scope) -> list[tuple[int, str, str]]:
    stmt = select(Provider.id, Provider.code, Provider.name).order_by(Provider.code)
    if scope.limited:
        stmt = stmt.where(Provider.id == scope.provider_id)
    return [(i, c, n) for i, c, n in session.execute(stmt)]


def build(
    session: Session,
    scope: Scope,
    *,
    days: int = 14,
    latency_day: date | None = None,
    now: datetime | None = None,
    depths: dict[int, int] | None = None,
) -> Board:
    """Share within SLA per provider per local day, latency percentiles (a day, or the last 24 h), backlog now."""
    now = now or utcnow()
    p = policy(session)
    tz = programme.load(session).timezone
    first = localdays.day_of(now, tz) - timedelta(days=days - 1)
    board = Board(
        policy=p,
        days=[(first + timedelta(days=i)).isoformat() for i in range(days)],
        providers=_providers(session, scope),
        partitions=depths,
    )
    codes = {i: (c, n) for i, c, n in board.providers}
    pid = scope.provider_id
    through = rolled_through(session)
    live_first = first
    rolled: dict[date, dict[int, SlaDaily]] = defaultdict(dict)
    if through is not None and through >= first:
        stmt = select(SlaDaily).where(SlaDaily.day >= first, SlaDaily.day <= through)
        if pid is not None:
            stmt = stmt.where(SlaDaily.provider_id == pid)
        for row in session.scalars(stmt):
            rolled[row.day][row.provider_id] = row
            if row.provider_id in codes:
                board.share[(codes[row.provider_id][0], row.day.isoformat())] = (row.within_sla, row.late)
        live_first = through + timedelta(days=1)
    for (day, provider), (within, late) in live_share(session, p, live_first, now, pid).items():
        if provider in codes:
            board.share[(codes[provider][0], day)] = (within, late)

    if latency_day is not None and latency_day in rolled:
        board.latency_window = latency_day.isoformat()
        for i, (c, n) in codes.items():
            r = rolled[latency_day].get(i)
            if r is not None and r.credited:
                board.latency.append(
                    Latency(c, n, r.credited, r.p50_seconds, r.p90_seconds, r.p99_seconds, r.max_seconds)
                )
    else:
        if latency_day is not None:
            lo, hi = localdays.bounds(latency_day, latency_day, tz)
            board.latency_window = latency_day.isoformat()
        else:
            lo, hi = now - timedelta(days=1), now + timedelta(seconds=1)
        per, board.latency_sampled = latencies(session, lo, hi, pid)
        board.latency = [Latency.of(*codes[i], per[i]) for i in codes if i in per]
    board.backlog = backlog(session, scope, now)
    return board


def today_share(session: Session, scope: Scope, now: datetime | None = None) -> tuple[int, int]:
    """(within SLA, late) over today's transactions (local day of receipt), for the care overview."""
    now = now or utcnow()
    today = localdays.day_of(now, programme.load(session).timezone)
    cells = live_share(session, policy(session), today, now, scope.provider_id)
    return sum(v[0] for v in cells.values()), sum(v[1] for v in cells.values())


# -- the daily rollup -------------------------------------------------------------------------------


def refresh_rollup(session: Session, now: datetime | None = None, *, max_days: int = ROLLUP_CHUNK_DAYS) -> int:
    """Roll the next finished days into ``sla_daily`` (idempotent); returns how many days were added.

    Each day is read once: every credited transaction's latency (streamed), sorted
    per provider for exact percentiles. The caller commits; concurrent callers
    serialise on the counter row.
    """
    now = now or utcnow()
    tz = programme.load(session).timezone
    last_full = localdays.day_of(now - ROLLUP_LAG, tz) - timedelta(days=1)

    def before_first() -> int | None:
        first = session.scalar(select(func.min(Transaction.received_at)))
        return localdays.day_of(first, tz).toordinal() - 1 if first is not None else None

    window = watermarks.next_window(
        session, ROLLUP_COUNTER, last=last_full.toordinal(), most=max_days, before_first=before_first
    )
    if window is None:
        return 0
    start, end = date.fromordinal(window.start), date.fromordinal(window.end)
    p = policy(session)
    sla_s = int(p.sla.total_seconds())
    day = start
    while day <= end:
        lo, hi = localdays.bounds(day, day, tz)
        per, _ = latencies(session, lo, hi, limit=None)
        waiting = dict(
            session.execute(
                select(Transaction.provider_id, func.count())
                .where(Transaction.status == "queued", Transaction.received_at >= lo, Transaction.received_at < hi)
                .where(Transaction.received_at <= now - p.sla)
                .group_by(Transaction.provider_id)
            ).all()
        )
        rows = []
        for provider in sorted(set(per) | set(waiting)):
            values = sorted(per.get(provider, []))
            within = sum(1 for v in values if v <= sla_s)
            rows.append(
                {
                    "day": day,
                    "provider_id": provider,
                    "sla_seconds": sla_s,
                    "credited": len(values),
                    "within_sla": within,
                    "late": len(values) - within + int(waiting.get(provider, 0)),
                    "p50_seconds": percentile(values, 0.50),
                    "p90_seconds": percentile(values, 0.90),
                    "p99_seconds": percentile(values, 0.99),
                    "max_seconds": values[-1] if values else None,
                }
            )
        session.execute(delete(SlaDaily).where(SlaDaily.day == day))
        if rows:
            session.execute(insert(SlaDaily), rows)
        day += timedelta(days=1)
    return window.done(session)
