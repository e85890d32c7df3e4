"""Benchmark: the care centre (issue 6) over weeks of transaction history.

Generates straight in MariaDB (sequence engine, ``INSERT ... SELECT``; nothing goes through the API):
providers, customers, ``--transactions`` spread over ``--weeks`` with a daily and weekly rhythm per
provider (Vietnamese local time), a receipt-to-credit latency distribution with a late tail, a backlog
(the last seconds' transactions still queued, one provider stuck for 40 minutes, one whose volume
collapsed an hour ago), one customer on a velocity burst, a ledger ``earn`` entry per credited
transaction for two published campaigns (one whose budget runs out before its end) and claims in every
state (one provider's claims rising this week). Then it times, with the app's own code:

1. the first monitor passes (``workers.care.monitor``: the hourly rollup backfills a week per pass) until
   the rollup has caught up, each check separately;
2. steady monitor passes (median of ``--runs``), each check separately;
3. ``sla.build`` (the ``/care/sla`` board) live, the daily ``sla_daily`` rollup from nothing, the board
   with the rollup, and the page itself;
4. ``analytics.build`` for 8 weeks and the weekly report (HTML and CSV pages);
5. a ``/metrics`` scrape (Flask test client, loopback).

Every SQL statement over ``--slow`` seconds is reported with its ``EXPLAIN`` (access type, key, rows of
each table), so a query that scans the whole transactions table shows as such.

    mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS loyalty_bench_care; \\
        GRANT ALL ON loyalty_bench_care.* TO 'loyalty'@'127.0.0.1'; \\
        GRANT ALL ON loyalty_bench_care.* TO 'loyalty'@'localhost'"
    .venv/bin/python -m bench.care --transactions 3000000 --weeks 8 --customers 500000 --json /tmp/care.json

Resets the database of ``--db-url`` (it must have ``bench`` in its name) through the app's migrations and
flushes the Redis db of ``--redis-url`` (db 15, the tests', is refused).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from redis import Redis
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from campaigns.access.users import create_user
from campaigns.care import sla
from campaigns.catalog import documents as catalog
from campaigns.clock import utcnow
from campaigns.permissions import UNLIMITED
from campaigns.reporting import analytics
from campaigns.settings import Settings
from webapp import create_app
from webapp.extensions import db, recreate_schema
from workers import care

DEFAULT_DB = "mysql+pymysql://loyalty:loyalty@127.0.0.1:3306/loyalty_bench_care?charset=utf8mb4"
DEFAULT_REDIS = "redis://127.0.0.1:6379/12"
ADMIN, PASSWORD = "bench-admin@example.com", "bench care password 1"
LOCAL = timedelta(hours=7)  # Asia/Ho_Chi_Minh: the rhythm of the day is local

# code, name, share of the volume, categories, weekend factor
PROVIDERS = [
    ("telecom", "Telecom", 0.34, ("topup", "data", "bill"), 1.10),
    ("shop", "Shop", 0.22, ("grocery", "fashion", "electronics"), 1.35),
    ("bank", "Bank", 0.16, ("card", "transfer"), 0.70),
    ("post", "Post", 0.10, ("parcel", "express"), 0.60),
    ("fuel", "Fuel", 0.11, ("fuel",), 1.00),
    ("airline", "Airline", 0.07, ("ticket", "upgrade"), 1.20),
]
STUCK = 4  # post: nothing credited for the last 40 minutes (an SLA alert)
DROPPED = 6  # airline: volume down to 5 % for the last 75 minutes (a volume drop)
CLAIMS_RISE = 3  # bank: claims rising this week
FRAUD_CUSTOMER = 42
# share of a day's transactions in each local hour 0..23 (night trough, lunch and evening peaks)
DAY = [0.2, 0.1, 0.1, 0.1, 0.15, 0.3, 0.7, 1.2, 1.6, 1.8, 1.9, 2.1, 2.2, 1.9, 1.7, 1.6, 1.7, 1.9, 2.2, 2.5, 2.6, 2.2]
DAY += [1.5, 0.7]
DESCRIPTIONS = (
    "I paid yesterday and I am still waiting for the points",
    "Toi chua thay diem cong cho giao dich nay",
    "got fewer points than the promotion said",
    "the double points bonus was not applied",
    "my top-up was not credited",
    "points missing after my purchase",
    "the refund took back too many points",
    "please check my account",
)
BASE = """name: Base earning
type: earning
priority: 0
stacking: stackable
rules:
  - name: 1 point per 10,000 VND
    conditions:
      all:
        - {name: currency, operator: equal_to, value: VND}
        - {name: amount, operator: greater_than_or_equal_to, value: 10000}
    actions:
      - {name: award_points_per_amount, params: {points: 1, per: 10000}}
"""
BONUS = """name: Bonus week
type: earning
priority: 100
stacking: stackable
starts_at: {starts}
ends_at: {ends}
budget: {{max_points: {cap}}}
rules:
  - name: bonus on every fifth purchase
    conditions:
      all:
        - {{name: amount, operator: greater_than_or_equal_to, value: 10000}}
    actions:
      - {{name: award_points_per_amount, params: {{points: 1, per: 10000}}}}
"""


def sql_time(t: datetime) -> str:
    return t.astimezone(UTC).strftime("'%Y-%m-%d %H:%M:%S.%f'")


# -- generation -------------------------------------------------------------------------------------


def hour_plan(n: int, weeks: int, now: datetime, seed: int) -> list[tuple[datetime, int, int, int]]:
    """(hour start, provider id, transactions, seconds of the hour elapsed) for every provider-hour."""
    rng = random.Random(seed)
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(weeks=weeks)
    hours = int((now - first).total_seconds() // 3600) + 1
    weights = []
    for i in range(hours):
        start = first + timedelta(hours=i)
        span = min(3600, int((now - start).total_seconds()))
        local = start + LOCAL
        for pid, (_code, _name, share, _cats, weekend) in enumerate(PROVIDERS, 1):
            w = share * DAY[local.hour] * (weekend if local.weekday() >= 5 else 1.0)
            w *= max(0.0, rng.gauss(1.0, 0.06)) * span / 3600
            if pid == DROPPED and start >= now - timedelta(minutes=135):
                w *= 0.05
            weights.append((start, pid, w, span))
    total = sum(w for _, _, w, _ in weights)
    return [(start, pid, round(n * w / total), span) for start, pid, w, span in weights if span > 0]


def generate(url: str, args: argparse.Namespace, now: datetime) -> dict[str, float]:
    """Everything straight in MariaDB; returns the seconds each step took."""
    plan = hour_plan(args.transactions, args.weeks, now, args.seed)
    biggest = max(n for _, _, n, _ in plan)
    c = args.customers
    nowq = sql_time(now)
    category = "CASE h.provider_id " + " ".join(
        f"WHEN {pid} THEN ELT(1 + s.seq % {len(cats)}, {', '.join(repr(x) for x in cats)})"
        for pid, (_, _, _, cats, _) in enumerate(PROVIDERS, 1)
    )
    regions = "'Ha Noi','Ho Chi Minh','Da Nang','Hai Phong','Can Tho','Nha Trang'"
    # latency in microseconds from a hash of the row: 95 % 0.3-5 s, 4 % up to 10 min, 0.6 % 10-30 min, 0.4 % 30 min-3 h
    r = "((x.seq * 2654435761 + x.hid * 40503) % 10000)"
    latency = (
        f"CASE WHEN {r} < 9500 THEN 300000 + ({r} * 9973) % 4700000 "
        f"WHEN {r} < 9900 THEN 5000000 + ({r} * 7919) % 595000000 "
        f"WHEN {r} < 9960 THEN 600000000 + ({r} * 7919) % 1200000000 "
        f"ELSE 1800000000 + ({r} * 7919) % 9000000000 END"
    )
    queued = (
        f"(y.rcv + INTERVAL y.lat MICROSECOND > {nowq} "
        f"OR (y.provider_id = {STUCK} AND y.rcv > {nowq} - INTERVAL 40 MINUTE))"
    )
    txn_columns = (
        "provider_id, provider_txn_id, source, event_type, customer_id, amount, currency, category, channel, "
        "occurred_at, received_at, processed_at, status, reversed_amount, attributes, body_hash"
    )
    start = now - timedelta(weeks=args.weeks, days=1)
    statements: list[tuple[str, str]] = [
        (
            "providers",
            "INSERT INTO providers (id, code, name, active, created_at) VALUES "
            + ", ".join(
                f"({pid}, '{code}', '{name}', 1, {sql_time(start)})"
                for pid, (code, name, *_rest) in enumerate(PROVIDERS, 1)
            ),
        ),
        (
            "customers",
            "INSERT INTO customers (id, created_at, tier, timezone, language) "
            f"SELECT seq, {sql_time(start)}, 'member', 'Asia/Ho_Chi_Minh', 'vi' FROM seq_1_to_{c}",
        ),
        (
            "transactions",
            f"INSERT INTO transactions ({txn_columns}) SELECT y.provider_id, y.ref, 'txn', 'purchase', y.cust, "
            "y.amount, 'VND', y.category, y.channel, y.rcv - INTERVAL (y.seq % 120) SECOND, y.rcv, "
            f"IF({queued}, NULL, y.rcv + INTERVAL y.lat MICROSECOND), "
            f"IF({queued}, 'queued', IF(y.seq % 97 = 0, 'rejected', IF(y.seq % 211 = 0, 'reversed', 'processed'))), "
            "0, y.attrs, 'x' FROM ("
            f"  SELECT x.*, {latency} AS lat FROM ("
            "    SELECT STRAIGHT_JOIN h.id AS hid, h.provider_id, s.seq, CONCAT('c', h.id, '-', s.seq) AS ref, "
            f"    1 + (s.seq * 7919 + h.id * 15485863) % {c} AS cust, "
            "    10000 * (1 + (s.seq * 31 + h.id) % 200) AS amount, "
            f"    {category} END AS category, "
            "    ELT(1 + (s.seq DIV 7) % 4, 'app', 'web', 'pos', 'ussd') AS channel, "
            "    IF(s.seq % 8 = 0, JSON_OBJECT(), "
            f"       JSON_OBJECT('region', ELT(1 + (s.seq * 7919 + h.id * 15485863) % {c} % 6, {regions}))) AS attrs, "
            "    h.start + INTERVAL ((s.seq * 7919 + h.id * 104729) % (h.span * 1000000)) MICROSECOND AS rcv "
            f"    FROM bench_hours h JOIN seq_1_to_{biggest} s ON s.seq <= h.n"
            "  ) x"
            ") y",
        ),
        (
            "velocity burst",
            f"INSERT INTO transactions ({txn_columns}) SELECT 2, CONCAT('burst-', seq), 'txn', 'purchase', "
            f"{FRAUD_CUSTOMER}, 2000000, 'VND', 'electronics', 'web', "
            f"{nowq} - INTERVAL seq * 40 SECOND, {nowq} - INTERVAL seq * 40 SECOND, "
            f"{nowq} - INTERVAL seq * 40 SECOND + INTERVAL 2 SECOND, 'processed', 0, '{{}}', 'x' FROM seq_1_to_40",
        ),
        (
            "ledger (one earn entry per credited transaction)",
            "INSERT INTO ledger_entries (entry_key, customer_id, kind, points, pending, qualifying, debt, "
            "transaction_id, provider_id, campaign_id, campaign_version, created_at) "
            "SELECT CONCAT('t', id), customer_id, 'earn', FLOOR(amount / 10000), 0, FLOOR(amount / 10000), 0, "
            "id, provider_id, IF(id % 5 = 0, 2, 1), 1, processed_at FROM transactions "
            "WHERE status IN ('processed', 'reversed')",
        ),
    ]
    claims = claim_statements(args, now, nowq)
    took: dict[str, float] = {}
    engine = create_engine(url, connect_args={"read_timeout": 7200, "write_timeout": 7200})
    with engine.begin() as conn:
        conn.execute(text("SET SESSION foreign_key_checks = 0, unique_checks = 0"))
        conn.execute(
            text(
                "CREATE TABLE bench_hours (id INT PRIMARY KEY AUTO_INCREMENT, start DATETIME(6) NOT NULL, "
                "provider_id INT NOT NULL, n INT NOT NULL, span INT NOT NULL)"
            )
        )
        conn.execute(
            text("INSERT INTO bench_hours (start, provider_id, n, span) VALUES (:start, :pid, :n, :span)"),
            [{"start": s.replace(tzinfo=None), "pid": p, "n": n, "span": sp} for s, p, n, sp in plan],
        )
        for name, sql in [*statements, ("analyze transactions", "ANALYZE TABLE transactions"), *claims]:
            started = time.monotonic()
            rows = conn.execute(text(sql)).rowcount
            took[name] = round(time.monotonic() - started, 1)
            print(f"  {took[name]:7.1f}s  {rows:>10,} rows  {name}", flush=True)
        conn.execute(text("DROP TABLE bench_hours"))
    with engine.begin() as conn:
        started = time.monotonic()
        for table in ("ledger_entries", "claims", "customers"):
            conn.execute(text(f"ANALYZE TABLE {table}"))
        took["analyze"] = round(time.monotonic() - started, 1)
    engine.dispose()
    return took


def claim_statements(args: argparse.Namespace, now: datetime, nowq: str) -> list[tuple[str, str]]:
    """Claims about sampled transactions (the older ones closed, the last days' still live), plus a rise."""
    n, step = args.claims, max(1, args.transactions // max(1, args.claims))
    descriptions = ", ".join(repr(d) for d in DESCRIPTIONS)
    created = f"LEAST(t.received_at + INTERVAL (1 + s.seq % 48) HOUR, {nowq} - INTERVAL (s.seq % 3600) SECOND)"
    live = f"{created} > {nowq} - INTERVAL 5 DAY"
    status = (
        f"IF({live}, ELT(1 + s.seq % 4, 'open', 'assigned', 'investigating', 'resolved'), "
        "IF(s.seq % 5 = 0, 'rejected', 'resolved'))"
    )
    hours = "CASE z.status WHEN 'open' THEN 4 WHEN 'assigned' THEN 24 ELSE 72 END"
    columns = (
        "customer_id, provider_id, transaction_ref, occurred_on, amount, description, channel, status, created_at, "
        "state_since, due_at, closed_at, resolution"
    )
    finish = (
        f"SELECT z.customer_id, z.provider_id, z.ref, DATE(z.created_at), z.amount, z.description, z.channel, "
        f"z.status, z.created_at, z.since, IF(z.status IN ('resolved', 'rejected'), NULL, "
        f"z.since + INTERVAL {hours} HOUR), IF(z.status IN ('resolved', 'rejected'), z.created_at + INTERVAL 2 DAY, "
        "NULL), IF(z.status = 'resolved', 'credited by an adjustment', IF(z.status = 'rejected', 'not eligible', NULL))"
    )
    # live claims: a third name their (credited) transaction, which the auto-match resolves; the rest a missing one
    sampled = (
        f"INSERT INTO claims ({columns}) {finish} FROM ("
        f"  SELECT t.customer_id, t.provider_id, t.amount, ELT(1 + s.seq % 8, {descriptions}) AS description, "
        "  ELT(1 + s.seq % 5, 'portal', 'app', 'sms', 'ussd', 'care') AS channel, "
        f"  {status} AS status, {created} AS created_at, "
        f"  LEAST({created} + INTERVAL (s.seq % 30) HOUR, {nowq}) AS since, "
        f"  IF(s.seq % 3 = 0, t.provider_txn_id, CONCAT('missing-', s.seq)) AS ref "
        f"  FROM seq_1_to_{n} s STRAIGHT_JOIN transactions t ON t.id = s.seq * {step}"
        ") z"
    )
    rise = n // 10
    extra = (
        f"INSERT INTO claims ({columns}) {finish} FROM ("
        f"  SELECT 1 + (s.seq * 7919) % {args.customers} AS customer_id, {CLAIMS_RISE} AS provider_id, "
        "  150000 AS amount, 'points missing for my card payment' AS description, 'app' AS channel, "
        "  ELT(1 + s.seq % 4, 'open', 'assigned', 'investigating', 'resolved') AS status, "
        f"  {nowq} - INTERVAL (s.seq * 7919) % (6 * 86400) SECOND AS created_at, "
        f"  {nowq} - INTERVAL (s.seq * 7919) % (6 * 86400) SECOND AS since, CONCAT('rise-', s.seq) AS ref "
        f"  FROM seq_1_to_{rise} s"
        ") z"
    )
    return [("claims", sampled), ("claims (bank rise)", extra)]


def publish_campaigns(app: Flask, args: argparse.Namespace, now: datetime) -> dict[str, Any]:
    """Base earning (id 1) and a bonus (id 2) whose budget runs out in about two days, published weeks ago."""
    with app.app_context():
        used = {
            cid: int(points)
            for cid, points in db.session.execute(
                text("SELECT campaign_id, SUM(points) FROM ledger_entries WHERE kind = 'earn' GROUP BY campaign_id")
            )
        }
        per_day = used.get(2, 0) / (args.weeks * 7)
        cap = int(used.get(2, 0) + 2 * per_day) + 1
        starts = now - timedelta(weeks=args.weeks, hours=1)
        catalog.import_document(db.session, BASE, fmt="yaml", author="bench", publish=True, require_approval=False)
        bonus = BONUS.format(starts=starts.isoformat(), ends=(now + timedelta(days=30)).isoformat(), cap=cap)
        catalog.import_document(db.session, bonus, fmt="yaml", author="bench", publish=True, require_approval=False)
        db.session.execute(text("UPDATE campaign_versions SET published_at = :at"), {"at": starts})
        db.session.execute(
            text("INSERT INTO campaign_counters (campaign_id, points, rewards) VALUES (1, :a, 0), (2, :b, 0)"),
            {"a": used.get(1, 0), "b": used.get(2, 0)},
        )
        create_user(db.session, ADMIN, PASSWORD, "admin")
        db.session.commit()
    return {"bonus_cap": cap, "bonus_used": used.get(2, 0)}


# -- measuring --------------------------------------------------------------------------------------


class SlowStatements:
    """Every SQL statement slower than ``limit`` seconds, with the stage it ran in (EXPLAINed afterwards)."""

    def __init__(self, limit: float) -> None:
        self.limit, self.stage, self.found = limit, "", []
        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, *args: Any) -> None:
        took = time.perf_counter() - conn.info.pop("bench_started", time.perf_counter())
        if took >= self.limit:
            self.found.append((self.stage, took, statement, params))

    def explained(self, url: str) -> list[dict[str, Any]]:
        engine = create_engine(url)
        out = []
        with engine.connect() as conn:
            for stage, took, statement, params in sorted(self.found, key=lambda x: -x[1]):
                entry: dict[str, Any] = {"stage": stage, "seconds": round(took, 2), "sql": shorten(statement)}
                if statement.lstrip().upper().startswith("SELECT"):
                    try:
                        rows = conn.exec_driver_sql("EXPLAIN " + statement, params).mappings().all()
                        entry["plan"] = [
                            f"{r['table']}: {r['type']} key={r['key']} rows={r['rows']} {r['Extra'] or ''}".strip()
                            for r in rows
                        ]
                    except Exception as exc:  # a statement EXPLAIN cannot take: report it unexplained
                        entry["plan"] = [f"EXPLAIN failed: {exc.__class__.__name__}"]
                out.append(entry)
        engine.dispose()
        return out


def shorten(sql: str) -> str:
    s = " ".join(sql.split())
    s = re.sub(r"SELECT .*? FROM", "SELECT … FROM", s, count=1)
    return s[:260]


def rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def timed_checks(times: dict[str, list[float]]) -> None:
    """Wrap every entry of ``care.CHECKS`` so ``care.monitor`` itself runs and each check's time is kept."""

    def wrap(name: str, check: Callable[..., int]) -> Callable[..., int]:
        def run(session: Any, now: datetime) -> int:
            started = time.perf_counter()
            try:
                return check(session, now)
            finally:
                times[name].append(time.perf_counter() - started)

        return run

    care.CHECKS[:] = [(name, wrap(name, check)) for name, check in care.CHECKS]


def seconds(f: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = f()
    return round(time.perf_counter() - started, 3), value


def median_of(runs: int, f: Callable[[], Any]) -> float:
    return round(statistics.median(seconds(f)[0] for _ in range(runs)), 3)


def measure(app: Flask, args: argparse.Namespace, slow: SlowStatements) -> dict[str, Any]:
    rt = app.extensions["loyalty.runtime"]
    out: dict[str, Any] = {}
    check_times: dict[str, list[float]] = {name: [] for name, _ in care.CHECKS}
    timed_checks(check_times)

    # (1) the first passes: the hourly rollup backfills at most a week per pass
    slow.stage = "monitor, backfill"
    passes = []
    for _ in range(20):
        for times in check_times.values():
            times.clear()
        took, results = seconds(lambda: care.monitor(rt))
        passes.append(
            {"seconds": took, "results": results, "checks": {k: round(v[0], 3) for k, v in check_times.items()}}
        )
        print(f"  backfill pass {len(passes)}: {took:.1f}s {results}", flush=True)
        if results.get("hourly_rollup") == 0:
            break
    out["backfill_passes"] = passes
    out["rss_after_backfill_mb"] = rss_mb()

    # (2) steady passes: everything rolled, alerts already raised
    slow.stage = "monitor, steady"
    for times in check_times.values():
        times.clear()
    totals, last = [], {}
    for _ in range(args.runs):
        took, last = seconds(lambda: care.monitor(rt))
        totals.append(took)
    out["steady"] = {
        "seconds": round(statistics.median(totals), 3),
        "results": last,
        "checks": {k: round(statistics.median(v), 3) for k, v in check_times.items()},
    }
    print(f"  steady pass: {out['steady']}", flush=True)

    client = app.test_client()
    login(client)

    def page(path: str) -> float:
        def get() -> None:
            resp = client.get(path)
            assert resp.status_code == 200, (path, resp.status_code)

        return median_of(args.runs, get)

    # (3) the SLA board: live, the daily rollup from nothing, then with it
    slow.stage = "sla"
    with app.app_context():
        s: dict[str, Any] = {}
        s["build_14d_live"] = median_of(args.runs, lambda: (sla.build(db.session, UNLIMITED), db.session.rollback()))
        s["build_30d_live"] = median_of(
            args.runs, lambda: (sla.build(db.session, UNLIMITED, days=30), db.session.rollback())
        )
        s["page_14d_live"] = page("/care/sla")
        chunks = []
        while True:
            took, days = seconds(lambda: sla.refresh_rollup(db.session))
            db.session.commit()
            if not days:
                break
            chunks.append({"days": days, "seconds": took})
        s["rollup_from_nothing"] = chunks
        took, days = seconds(lambda: sla.refresh_rollup(db.session))
        db.session.commit()
        s["rollup_steady_noop"] = took
        s["rollup_one_day"] = one_day_rollup(db.session)
        s["build_14d_rollup"] = median_of(args.runs, lambda: (sla.build(db.session, UNLIMITED), db.session.rollback()))
        s["build_30d_rollup"] = median_of(
            args.runs, lambda: (sla.build(db.session, UNLIMITED, days=30), db.session.rollback())
        )
        yesterday = utcnow().date() - timedelta(days=1)
        s["build_14d_rollup_day_latency"] = median_of(
            args.runs, lambda: (sla.build(db.session, UNLIMITED, latency_day=yesterday), db.session.rollback())
        )
        s["page_14d_rollup"] = page("/care/sla")
        s["overview_page"] = page("/care/")
    out["sla"] = s
    print(f"  sla: {s}", flush=True)

    # (4) analytics and the weekly report
    slow.stage = "analytics"
    with app.app_context():
        today = utcnow().date()
        start = today - timedelta(days=today.weekday(), weeks=7)
        last_week = analytics.parse_week(None, today)
        a: dict[str, Any] = {
            "build_8_weeks": median_of(
                args.runs, lambda: (analytics.build(db.session, start, 8), db.session.rollback())
            ),
            "build_weekly": median_of(
                args.runs, lambda: (analytics.build(db.session, last_week, 1), db.session.rollback())
            ),
            "txn_hourly_rows": db.session.scalar(text("SELECT COUNT(*) FROM txn_hourly")),
        }
    a["page_analytics_8w"] = page("/care/analytics")
    a["page_weekly"] = page("/care/reports/weekly")
    a["page_weekly_csv"] = page("/care/reports/weekly.csv")
    out["analytics"] = a
    print(f"  analytics: {a}", flush=True)

    # (5) a /metrics scrape
    slow.stage = "metrics"
    out["metrics_scrape"] = page("/metrics")
    print(f"  /metrics: {out['metrics_scrape']}s", flush=True)
    return out


def one_day_rollup(session: Any) -> float:
    """Re-roll the last rolled day alone: what the workers' daily pass costs once caught up."""
    through = sla.rolled_through(session)
    if through is None:
        return 0.0
    session.execute(text("UPDATE counters SET value = value - 1 WHERE name = :n"), {"n": sla.ROLLUP_COUNTER})
    took, _ = seconds(lambda: sla.refresh_rollup(session))
    session.commit()
    return took


def login(client: Any) -> None:
    html = client.get("/auth/login").get_data(as_text=True)
    match = re.search(r'name="csrf-token" content="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token on the login page"
    resp = client.post("/auth/login", data={"email": ADMIN, "password": PASSWORD, "csrf_token": match[1]})
    assert resp.status_code in (302, 303), f"login failed: {resp.status_code}"


# -- the run ----------------------------------------------------------------------------------------


def reset(app: Flask, redis_url: str) -> None:
    with app.app_context():
        recreate_schema()
    Redis.from_url(redis_url).flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=3_000_000)
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--customers", type=int, default=500_000)
    parser.add_argument("--claims", type=int, default=5_000, help="sampled claims; a tenth more for the rise")
    parser.add_argument("--runs", type=int, default=3, help="steady passes and page builds: median of this many")
    parser.add_argument("--slow", type=float, default=1.0, help="EXPLAIN statements slower than this (s)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--db-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--json", help="write the summary there as well")
    args = parser.parse_args()
    if "bench" not in args.db_url.rsplit("/", 1)[-1]:
        parser.error("--db-url: the database name must contain 'bench' (its tables are dropped)")
    if args.redis_url.rstrip("/").endswith("/15"):
        parser.error("--redis-url: db 15 is the tests'")

    started = time.monotonic()
    load_start = [round(x, 2) for x in os.getloadavg()]
    settings = Settings.from_env(database_url=args.db_url, redis_url=args.redis_url, log_level="WARNING")
    app = create_app(settings)
    reset(app, args.redis_url)
    now = utcnow()
    print(
        f"generating {args.transactions:,} transactions over {args.weeks} weeks, {args.customers:,} customers, "
        f"~{args.claims * 11 // 10:,} claims",
        flush=True,
    )
    generated = generate(args.db_url, args, now)
    campaigns = publish_campaigns(app, args, now)
    generation_s = round(time.monotonic() - started, 1)
    rss_generated = rss_mb()
    slow = SlowStatements(args.slow)
    results = measure(app, args, slow)
    with app.app_context():
        counts = {
            t: db.session.scalar(text(f"SELECT COUNT(*) FROM {t}"))
            for t in ("transactions", "ledger_entries", "claims", "alerts")
        }
        counts["queued"] = db.session.scalar(text("SELECT COUNT(*) FROM transactions WHERE status = 'queued'"))
        alerts = [
            f"{k} {s}: {n}"
            for k, s, n in db.session.execute(
                text("SELECT kind, severity, COUNT(*) FROM alerts WHERE status != 'resolved' GROUP BY kind, severity")
            )
        ]
    summary = {
        "args": {k: v for k, v in vars(args).items() if k not in ("db_url", "redis_url")},
        "load_average_start": load_start,
        "generation_seconds": generated,
        "setup_seconds_total": generation_s,
        "campaigns": campaigns,
        "rows": counts,
        "live_alerts": alerts,
        **results,
        "slow_statements": slow.explained(args.db_url),
        "peak_rss_mb": {"after_generation": rss_generated, "end": rss_mb()},
        "wall_seconds": round(time.monotonic() - started, 1),
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
    }
    text_out = json.dumps(summary, indent=2, default=str)
    print(text_out)
    if args.json:
        with open(args.json, "w") as fh:
            fh.write(text_out)


if __name__ == "__main__":
    main()
