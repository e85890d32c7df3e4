"""Demo data: the example coalition programme (docs/examples/coalition) with 90 days of history behind it.

The history goes through the real services in bulk, day by day: transactions are ingested per provider and
credited by the crediting service with the day's clock, so ledger entries, funded lots, balances, daily
aggregates, tier moves, budget counters and webhook rows are the books a real run would have written
(``flask ledger check`` passes). Around them: redemptions and vouchers, a family group, a provider outage two
days ago whose SLA alerts the care monitor raised and cleared, claims in every state (one overdue: an open
critical alert), the closed settlement months, and the rollups the dashboards read. A seeded RNG makes it
repeatable.
"""

from __future__ import annotations

import os
import random
import re
import secrets
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from campaigns.access import providers, users
from campaigns.accounts import groups, rewards
from campaigns.accrual.crediting import credit_batch
from campaigns.accrual.transactions import ACCEPTED, ingest
from campaigns.care import alerts, claims, hourly, sla, warnings
from campaigns.catalog import documents as catalog
from campaigns.catalog import programme, published
from campaigns.clearing import periods, rates
from campaigns.clock import utcnow
from campaigns.consent import consents
from campaigns.customers.identity import normalize_phone
from campaigns.errors import DomainError
from campaigns.models import (
    CampaignVersion,
    ConsentRecord,
    CustomerBalance,
    Outbox,
    Provider,
    StaffUser,
    Transaction,
)
from campaigns.notify import webhooks
from campaigns.permissions import UNLIMITED
from campaigns.reporting import dashboard
from campaigns.schemas import CustomerRef, TransactionIn
from campaigns.sql import table_of
from rules.experiments import group_of

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples" / "coalition"
MANIFEST: dict[str, Any] = yaml.safe_load((EXAMPLES / "programme.yaml").read_text(encoding="utf-8"))
PROVIDERS: dict[str, dict[str, Any]] = MANIFEST["providers"]
DEMO_USERS = [  # e-mail, role, provider
    ("admin@demo.test", "admin", None),
    ("marketer@demo.test", "marketer", None),
    ("marketer2@demo.test", "marketer", None),
    ("analyst@demo.test", "analyst", None),
    ("care@demo.test", "care", None),
    ("finance@demo.test", "finance", None),
    ("telecom@demo.test", "provider", "telecom"),
    ("shop@demo.test", "provider", "shop"),
]
# amounts (VND) per category: (median, spread of the log-normal, floor)
AMOUNTS: dict[str, tuple[int, float, int]] = {
    "topup": (80_000, 0.6, 10_000),
    "data_pack": (90_000, 0.4, 30_000),
    "postpaid_bill": (250_000, 0.5, 50_000),
    "parcel": (35_000, 0.5, 15_000),
    "money_transfer": (900_000, 0.9, 100_000),
    "bill_payment": (350_000, 0.6, 50_000),
    "transfer": (600_000, 0.9, 20_000),
    "merchant_qr": (90_000, 0.7, 10_000),
    "grocery": (180_000, 0.6, 20_000),
    "electronics": (2_500_000, 0.8, 300_000),
    "fashion": (450_000, 0.6, 80_000),
}
CATEGORY_WEIGHTS: dict[str, list[int]] = {
    "telecom": [6, 3, 1],
    "post": [5, 2, 3],
    "ewallet": [3, 2, 5],
    "shop": [8, 1, 3],
}
PROVIDER_SHARE = {"telecom": 0.36, "post": 0.14, "ewallet": 0.22, "shop": 0.28}
# local weekday (Monday first) x provider: the shop peaks at weekends, the post office on weekdays
WEEKLY = {
    "telecom": [1.0, 0.95, 0.95, 1.0, 1.1, 1.2, 1.15],
    "post": [1.2, 1.15, 1.1, 1.1, 1.15, 0.7, 0.4],
    "ewallet": [1.0, 1.0, 1.0, 1.05, 1.15, 1.25, 1.1],
    "shop": [0.8, 0.8, 0.85, 0.9, 1.1, 1.6, 1.5],
}
# the QR experiment works: its treated customers add QR payments its held-out ones do not (an effect for the
# campaign page to measure; without one the demo's comparison would only ever show noise)
NUDGED_PROVIDER, NUDGE_RATE = "ewallet", 0.3
HOURLY = [1, 0.5, 0.3, 0.3, 0.4, 0.8, 1.5, 2.5, 3, 3, 3.2, 3.5, 4, 3.5, 3, 3, 3.2, 3.5, 4, 4.5, 4, 3, 2, 1.5]
REGIONS = ["Hà Nội", "TP. Hồ Chí Minh", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Huế", "Nha Trang"]
PEAK_DAYS_AGO = {24: 1.6, 23: 2.4, 22: 2.0, 21: 1.3}  # the holiday peak, three weeks back
OUTAGE = ("post", 2, time(10, 0), time(12, 30))  # provider, days ago, local start and end
LIVE_MINUTES = 20  # the last minutes' transactions are left queued for the worker


@dataclass
class SeedSummary:
    keys: dict[str, str] = field(default_factory=dict)
    staff_token: str | None = None
    users: dict[str, tuple[str, str]] = field(default_factory=dict)  # e-mail -> (role, password)
    campaigns: int = 0
    pairs: list[tuple[int, int]] = field(default_factory=list)  # left queued: (transaction id, customer id)
    customers: int = 0
    transactions: int = 0
    redemptions: int = 0
    claims: int = 0
    alerts: int = 0
    closed_months: list[str] = field(default_factory=list)
    seconds: float = 0.0


def is_seeded(session: Session) -> bool:
    """Decided from the database itself (its demo providers), never from a keys file left by another database."""
    return session.scalar(select(Provider.id).where(Provider.code.in_(PROVIDERS)).limit(1)) is not None


def keys_filename(database_url: str) -> str:
    """One keys file per database (``demo-keys-<backend>-<database>.txt``): switching databases never shows
    another one's keys."""
    url = make_url(database_url)
    name = Path(url.database).stem if url.get_backend_name() == "sqlite" and url.database else url.database
    return "demo-keys-" + re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{url.get_backend_name()}-{name or 'memory'}") + ".txt"


def write_keys(path: Path, database_url: str, lines: list[str]) -> None:
    """The keys and passwords printed once at seeding, kept beside the instance (owner-readable only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shown = make_url(database_url).render_as_string(hide_password=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(f"# demo keys for {shown}\n" + "".join(f"{line}\n" for line in lines))


def load_programme(session: Session, *, since: datetime) -> int:
    """Settings, rates, documents and rewards of docs/examples/coalition through their services.

    Rates and publications are dated ``since`` (the start of the history): a demo's past must be priced and
    evaluated as if the programme had been running then. Returns the number of documents published.
    """
    for key, value in MANIFEST["settings"].items():
        programme.set_value(session, key, value, actor="demo")
    rated = {code: spec for code, spec in PROVIDERS.items()} | {"programme": MANIFEST["programme_rates"]}
    for code, spec in rated.items():
        rates.set_rates(session, code, spec["issue_cost"], spec["redemption_rate"], actor="demo", now=since)
    versions = [
        catalog.import_document(
            session,
            (EXAMPLES / name).read_text(encoding="utf-8"),
            fmt="yaml",
            author="demo",
            publish=True,
            require_approval=False,  # the demo's own example set, seeded by the operator
        )
        for name in MANIFEST["documents"]
    ]
    session.execute(
        update(CampaignVersion).where(CampaignVersion.id.in_([v.id for v in versions])).values(published_at=since)
    )
    for item in yaml.safe_load((EXAMPLES / MANIFEST["rewards"]).read_text(encoding="utf-8"))["rewards"]:
        rewards.save_reward(session, item, actor="demo")
    return len(versions)


MOBILE_PREFIXES = ("090", "091", "093", "094", "096", "097", "098", "086", "088", "089", "032", "035", "070", "077")


def _phone(rng: random.Random, taken: set[str]) -> str:
    while True:
        phone = rng.choice(MOBILE_PREFIXES) + "".join(str(rng.randrange(10)) for _ in range(7))
        try:
            normalize_phone(phone)
        except ValueError:  # a prefix range not allocated to mobiles
            continue
        if phone not in taken:
            taken.add(phone)
            return phone


@dataclass
class _Person:
    ref: CustomerRef
    rate: float  # relative activity
    providers: list[str]
    region: str


def _people(rng: random.Random, count: int) -> list[_Person]:
    taken: set[str] = set()
    codes = list(PROVIDERS)
    out = []
    for i in range(count):
        ref = CustomerRef(
            phone=_phone(rng, taken),
            national_id=("0010" + "".join(str(rng.randrange(10)) for _ in range(8))) if i % 3 == 0 else None,
        )
        n = rng.choices([1, 2, 3, 4], weights=[35, 35, 20, 10])[0]
        chosen = rng.choices(codes, weights=[PROVIDER_SHARE[c] for c in codes], k=n * 2)
        out.append(_Person(ref, rng.lognormvariate(0, 0.9), sorted(set(chosen))[:n], rng.choice(REGIONS)))
    return out


def _amount(rng: random.Random, category: str) -> Decimal:
    median, spread, floor = AMOUNTS[category]
    return Decimal(max(floor, round(median * rng.lognormvariate(0, spread), -3)))


@dataclass
class _Day:
    """One local day's transactions, per provider."""

    items: dict[str, list[TransactionIn]]
    received: dict[str, list[datetime]]


def _day_plan(
    rng: random.Random,
    people: list[_Person],
    weights: list[float],
    day: date,
    tz: ZoneInfo,
    count: int,
    run: str,
    nudged: Callable[[_Person], bool] = lambda _p: False,
) -> _Day:
    plan = _Day({c: [] for c in PROVIDERS}, {c: [] for c in PROVIDERS})
    if count <= 0 or not people:
        return plan
    midnight = datetime.combine(day, time(), tz)
    weekday = day.weekday()
    chosen = rng.choices(people, weights=weights, k=count)
    # the QR experiment works: a treated e-wallet customer sometimes adds a QR payment to the day
    extra = [p for p in chosen if NUDGED_PROVIDER in p.providers and nudged(p) and rng.random() < NUDGE_RATE]
    for n, person in enumerate(chosen + extra):
        nudge = n >= len(chosen)
        code = (
            NUDGED_PROVIDER
            if nudge
            else rng.choices(person.providers, [WEEKLY[c][weekday] for c in person.providers])[0]
        )
        spec = PROVIDERS[code]
        category = "merchant_qr" if nudge else rng.choices(spec["categories"], weights=CATEGORY_WEIGHTS[code])[0]
        hour = rng.choices(range(24), weights=HOURLY)[0]
        occurred = midnight + timedelta(hours=hour, seconds=rng.randrange(3600))
        attributes: dict[str, Any] = {"region": person.region}
        if code == "shop":
            attributes["store"] = f"S{rng.randrange(1, 40):03d}"
        plan.items[code].append(
            TransactionIn(
                provider_txn_id=f"demo-{run}-{day:%m%d}-{n}",
                customer=person.ref,
                amount=_amount(rng, category),
                currency="VND",
                category=category,
                channel=rng.choice(spec["channels"]),
                occurred_at=occurred,
                attributes=attributes,
            )
        )
        plan.received[code].append(occurred.astimezone(UTC) + timedelta(seconds=rng.randrange(1, 20)))
    return plan


def _set_times(session: Session, column: str, rows: Sequence[tuple[int, datetime]]) -> None:
    """Stamp per-transaction times on rows ingested or credited together (one executemany)."""
    if not rows:
        return
    table = table_of(Transaction)
    session.execute(
        update(table).where(table.c.id == bindparam("_id")).values({column: bindparam("_at")}),
        [{"_id": i, "_at": at} for i, at in rows],
    )


class _History:
    def __init__(self, session: Session, rng: random.Random, now: datetime, tz: ZoneInfo, ids: dict[str, int]):
        self.session, self.rng, self.now, self.tz, self.ids = session, rng, now, tz, ids
        self.transactions = 0
        self.pairs: list[tuple[int, int]] = []
        self.customers: dict[str, int] = {}  # phone -> customer id
        self.pub: published.Published | None = None

    def ingest(self, plan: _Day, until: datetime | None = None) -> list[tuple[int, int, datetime, str]]:
        """Ingest a day (up to ``until``); returns (txn id, customer id, received_at, provider code)."""
        out = []
        for code, items in plan.items.items():
            kept = [(t, r) for t, r in zip(items, plan.received[code], strict=True) if until is None or r < until]
            if not kept:
                continue
            outcomes = ingest(self.session, self.ids[code], [t for t, _ in kept], self.now)
            stamps = []
            for (item, received), o in zip(kept, outcomes, strict=True):
                if o.status == ACCEPTED and o.txn:
                    out.append((o.txn["id"], o.txn["customer_id"], received, code))
                    stamps.append((o.txn["id"], received))
                    if item.customer.phone:
                        self.customers[item.customer.phone] = o.txn["customer_id"]
            _set_times(self.session, "received_at", stamps)
        self.transactions += len(out)
        return sorted(out)

    def credit_day(self, rows: Sequence[tuple[int, int, datetime, str]], day: date) -> None:
        """A past day credited in four blocks, each with its block's clock: the books move through the day."""
        for block in range(4):
            lo = datetime.combine(day, time(6 * block), self.tz).astimezone(UTC)
            hi = lo + timedelta(hours=6)
            last = block == 3  # a receipt a few seconds after midnight still belongs to its day
            self.credit([r for r in rows if lo <= r[2] and (last or r[2] < hi)], hi - timedelta(minutes=1))

    def credit(
        self, rows: Sequence[tuple[int, int, datetime, str]], at: datetime, late: datetime | None = None
    ) -> None:
        """Credit with the clock at ``at`` and stamp each a few seconds after receipt (``late``: all then)."""
        if not rows:
            return
        if self.pub is None:  # the programme does not change during the history: compiled once
            self.pub = published.load(self.session)
        credit_batch(self.session, [r[0] for r in rows], self.pub, at)
        _set_times(
            self.session,
            "processed_at",
            [(tid, late or received + timedelta(seconds=self.rng.randrange(2, 40))) for tid, _c, received, _p in rows],
        )


def _seed_history(
    session: Session, rng: random.Random, now: datetime, start: date, people: list[_Person], total: int
) -> _History:
    tz = ZoneInfo(programme.load(session).timezone)
    ids = {code: pid for code, pid in session.execute(select(Provider.code, Provider.id)) if code in PROVIDERS}
    history = _History(session, rng, now, tz, ids)
    weights = [p.rate for p in people]
    experiment = next((e for e in published.load(session).experiments if e.document.experiment is not None), None)

    def nudged(person: _Person) -> bool:
        cid = history.customers.get(person.ref.phone or "")
        if experiment is None or experiment.document.experiment is None or cid is None:
            return False
        return group_of(experiment.id, cid, experiment.document.experiment.control_share) == "treated"

    today = now.astimezone(tz).date()
    days = (today - start).days + 1
    factors = []
    for i in range(days):
        day = start + timedelta(days=i)
        ago = (today - day).days
        weekly = sum(WEEKLY[c][day.weekday()] * PROVIDER_SHARE[c] for c in PROVIDERS)
        factors.append(weekly * (1 + 0.35 * i / max(days - 1, 1)) * PEAK_DAYS_AGO.get(ago, 1.0))
    scale = total / sum(factors) if factors else 0
    run = now.strftime("%Y%m%d%H%M%S")
    outage_code, outage_ago, outage_from, outage_to = OUTAGE
    for i, factor in enumerate(factors):
        day = start + timedelta(days=i)
        ago = (today - day).days
        expected = scale * factor * (1 if ago else _elapsed_share(now, tz))
        count = int(expected) + (rng.random() < expected % 1)  # small demos keep their few transactions
        plan = _day_plan(rng, people, weights, day, tz, count, run, nudged)
        if ago == 0:
            live_from = now - timedelta(minutes=LIVE_MINUTES)
            rows = history.ingest(plan, until=now)
            done = [r for r in rows if r[2] < live_from]
            history.credit(done, now)
            history.pairs = [(tid, cid) for tid, cid, received, _p in rows if received >= live_from]
            continue
        rows = history.ingest(plan)
        if ago != outage_ago:
            history.credit_day(rows, day)
            continue
        down = datetime.combine(day, outage_from, tz).astimezone(UTC)
        up = datetime.combine(day, outage_to, tz).astimezone(UTC)
        stuck = [r for r in rows if r[3] == outage_code and down <= r[2] < up]
        history.credit_day([r for r in rows if r not in stuck], day)
        for minutes in (20, 45, 90, 150):  # the care monitor's passes during the outage raise the SLA alert
            sla.check(session, down + timedelta(minutes=minutes))
        history.credit(stuck, up + timedelta(minutes=5), late=up + timedelta(minutes=5))
        sla.check(session, up + timedelta(minutes=15))  # ... and clear it once the backlog is credited
    return history


def _elapsed_share(now: datetime, tz: ZoneInfo) -> float:
    local = now.astimezone(tz)
    return (local.hour * 60 + local.minute) / (24 * 60)


def _redemptions(session: Session, rng: random.Random, start: datetime, now: datetime) -> int:
    """Every few days some customers with enough points redeem a reward they can afford."""
    offers = sorted((r.cost, r.code) for r in rewards.list_rewards(session, active_only=True))
    done = 0
    moment = start + timedelta(days=12)
    while moment < now - timedelta(hours=2):
        rich = session.execute(
            select(CustomerBalance.customer_id, CustomerBalance.balance)
            .where(CustomerBalance.balance >= offers[0][0])
            .order_by(CustomerBalance.customer_id)
        ).all()
        for cid, balance in rng.sample(rich, min(len(rich), rng.randrange(10, 25))):
            affordable = [code for cost, code in offers if cost <= balance]
            try:
                with session.begin_nested():
                    rewards.redeem(
                        session,
                        cid,
                        rng.choice(affordable),
                        requested_by="demo",
                        idempotency_key=None,
                        now=moment + timedelta(minutes=rng.randrange(600)),
                    )
                done += 1
            except DomainError:
                continue  # a reward's limits or eligibility said no: the customer picks nothing this time
        moment += timedelta(days=7)
    return done


def _family(session: Session, history: _History) -> None:
    """Two families pooling their points."""
    cids = sorted(set(history.customers.values()))
    for family in (cids[:3], cids[3:5]):
        if len(family) < 2:
            return
        owner, *members = family
        group = groups.create(session, owner, f"Gia đình #{owner}", actor="demo")
        for member in members:
            groups.invite(session, group.id, owner, member, actor="demo")
            groups.accept(session, group.id, member, actor="demo")


def _claims(session: Session, rng: random.Random, history: _History, now: datetime) -> int:
    """Claims in every state; the oldest open one is far past its deadline (a critical alert)."""
    cids = sorted(set(history.customers.values()))
    if not cids:
        return 0
    steps = ["open", "open", "assigned", "assigned", "investigating", "investigating", "resolved", "rejected"] * 2
    codes = list(PROVIDERS)
    filed = 0
    # filed long enough ago to be in their state, not so long that every one is past its deadline
    ages = {"open": (30, 150), "assigned": (120, 600), "investigating": (300, 1800), "resolved": (60, 14400)}
    for n, state in enumerate(steps):
        low, high = ages.get(state, ages["resolved"])
        at = now - (timedelta(days=2, hours=3) if n == 0 else timedelta(minutes=rng.randrange(low, high)))
        claim = claims.file(
            session,
            rng.choice(cids),
            {
                "provider": codes[n % len(codes)],
                "transaction_ref": f"RC-{rng.randrange(100000, 999999)}",
                "occurred_on": (at - timedelta(days=1)).date().isoformat(),
                "amount": str(rng.choice([50_000, 120_000, 300_000])),
                "description": rng.choice(
                    [
                        "Nạp tiền nhưng chưa thấy điểm",
                        "Points missing for my top-up",
                        "Wrong amount of points, fewer than expected",
                        "Khuyến mãi cuối tuần không được cộng",
                        "Refund reversed my points twice",
                    ]
                ),
            },
            channel=rng.choice(claims.CHANNELS),
            actor="care@demo.test",
            now=at,
        )
        filed += 1
        if state == "open":
            continue
        claims.assign(session, claim.id, UNLIMITED, "care@demo.test", now=at + timedelta(minutes=30))
        if state == "assigned":
            continue
        claims.investigate(session, claim.id, UNLIMITED, "care@demo.test", now=at + timedelta(hours=1))
        if state == "rejected":
            claims.reject(
                session, claim.id, UNLIMITED, "care@demo.test", "no matching purchase", now=at + timedelta(hours=2)
            )
        elif state == "resolved":
            claims.resolve(
                session,
                claim.id,
                UNLIMITED,
                "care@demo.test",
                role="care",
                points=rng.choice([20, 50, 80]),
                reason="receipt checked with the provider",
                care_limit=500,
                now=at + timedelta(hours=2),
            )
    return filed


def _webhooks(session: Session, ids: dict[str, int]) -> None:
    for code, events in (("telecom", ["tier_changed"]), ("shop", ["points_credited", "tier_changed"])):
        webhooks.subscribe(session, ids[code], f"https://hooks.{code}.example/loyalty", events)


def _deliveries(session: Session, rng: random.Random, before: datetime) -> None:
    """The history's SMS and webhook rows as the senders left them: sent, and a few webhooks that failed."""
    table = table_of(Outbox)
    session.execute(
        update(table)
        .where(table.c.status == "pending", table.c.created_at < before)
        .values(status="sent", attempts=1, sent_at=table.c.created_at)
    )
    failed = session.scalars(
        select(Outbox.id).where(Outbox.channel == "webhook").order_by(Outbox.id.desc()).limit(400)
    ).all()
    picked = rng.sample(list(failed), min(len(failed), 12))
    if picked:
        session.execute(update(table).where(table.c.id.in_(picked)).values(status="failed", attempts=8, sent_at=None))


def _close_months(session: Session, start: date, now: datetime, tz: ZoneInfo) -> list[str]:
    current = now.astimezone(tz).date().replace(day=1)
    month = start.replace(day=1)
    closed = []
    while month < current:
        period = f"{month:%Y-%m}"
        periods.close(session, period, actor="demo", now=now)
        closed.append(period)
        month = (month + timedelta(days=32)).replace(day=1)
    return closed


def _rollups_and_monitor(session: Session, now: datetime) -> int:
    """The rollups the dashboards read and one pass of the care monitor, as the workers would run them."""
    minutes = int(sla.policy(session).sla.total_seconds() // 60)
    while hourly.refresh(session, minutes, now):
        pass
    for refresh in (dashboard.refresh_rollup, sla.refresh_rollup):
        while refresh(session, now):
            pass
    seen = 0
    for check in (sla.check, claims.check_deadlines, warnings.budget_check, warnings.volume_check, alerts.escalate_due):
        seen += check(session, now)
    return seen


def seed(
    session: Session, *, customers: int = 5000, transactions: int = 30_000, days: int = 90, rng_seed: int = 7
) -> SeedSummary:
    """The programme and its history on a database without demo data; on a seeded one, nothing new."""
    began = clock.perf_counter()
    rng = random.Random(rng_seed)
    summary = SeedSummary()
    if is_seeded(session):
        return summary
    now = utcnow()
    tz = ZoneInfo(str(MANIFEST["settings"].get("timezone", "Asia/Ho_Chi_Minh")))
    start = now.astimezone(tz).date() - timedelta(days=days - 1)
    since = datetime.combine(start - timedelta(days=1), time(), tz).astimezone(UTC)
    ids: dict[str, int] = {}
    for code, spec in PROVIDERS.items():
        provider, key = providers.create_provider(session, code, spec["name"], actor="demo")
        summary.keys[code] = key
        ids[code] = provider.id
    summary.staff_token = providers.issue_key(session, "staff", "demo staff")
    for email, role, user_provider in DEMO_USERS:
        if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is None:
            password = f"demo-{secrets.token_urlsafe(9)}"
            users.create_user(session, email, password, role, provider_code=user_provider, actor="demo")
            summary.users[email] = (role, password)
    summary.campaigns = load_programme(session, since=since)
    _webhooks(session, ids)
    people = _people(rng, customers)
    history = _seed_history(session, rng, now, start, people, transactions)
    summary.transactions = history.transactions
    summary.customers = len(set(history.customers.values()))
    summary.pairs = history.pairs
    summary.redemptions = _redemptions(session, rng, since, now)
    _family(session, history)
    _seed_consents(session, sorted({cid for _, cid in summary.pairs}), rng)
    summary.claims = _claims(session, rng, history, now)
    _deliveries(session, rng, now - timedelta(minutes=LIVE_MINUTES))
    summary.closed_months = _close_months(session, start, now, tz)
    summary.alerts = _rollups_and_monitor(session, now)
    summary.seconds = round(clock.perf_counter() - began, 1)
    return summary


def _seed_consents(session: Session, customer_ids: list[int], rng: random.Random) -> None:
    """Some members decided already (the 360 and the portal show a record); the rest stay silent: not granted."""
    decided = set(session.scalars(select(ConsentRecord.customer_id).where(ConsentRecord.customer_id.in_(customer_ids))))
    for cid in customer_ids:
        if cid in decided or rng.random() >= 0.3:
            continue
        consents.record(session, cid, "marketing", True, channel="app", actor=f"customer:{cid}")
        if rng.random() < 0.5:
            consents.record(session, cid, "cross_provider_sharing", True, channel="sms", actor=f"customer:{cid}")
