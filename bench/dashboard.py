"""Benchmark: the staff dashboard's queries over a few million ledger rows.

Generates providers, customers with tiers and balances, transactions, ledger entries (earnings and
redemptions) and per-day aggregates over the last 90 days straight in MariaDB with its sequence
engine, then times every dashboard query (each SQL statement, median of 5 runs) for the whole
programme and for one provider, first live (no rollup) and then with the ``daily_stats`` rollup
that the workers' periodic pass maintains. It also times building the rollup from nothing.

    mariadb -uroot -e "CREATE DATABASE IF NOT EXISTS loyalty_bench_i4; \
        GRANT ALL ON loyalty_bench_i4.* TO 'loyalty'@'127.0.0.1'; \
        GRANT ALL ON loyalty_bench_i4.* TO 'loyalty'@'localhost'"
    .venv/bin/python -m bench.dashboard --ledger 3000000

Uses database ``loyalty_bench_i4`` (its tables are dropped and re-created) unless --db-url says otherwise.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import defaultdict
from typing import Any

from sqlalchemy import create_engine, event, func, select, text

from campaigns.models import LedgerEntry
from campaigns.permissions import UNLIMITED, Scope
from campaigns.reporting import dashboard
from campaigns.settings import Settings
from webapp import create_app
from webapp.extensions import db, recreate_schema
from workers.sweeper import rollup

DEFAULT_DB = "mysql+pymysql://loyalty:loyalty@127.0.0.1:3306/loyalty_bench_i4?charset=utf8mb4"
DAYS = 90


def generate(url: str, ledger: int, customers: int, transactions: int) -> None:
    """Everything spread evenly over the last 90 days; a tenth of the ledger is redemptions."""
    now = "UTC_TIMESTAMP(6)"
    when = f"{now} - INTERVAL ((seq * 7919) % ({DAYS} * 86400)) SECOND"  # spread evenly over the 90 days
    statements = [
        "INSERT INTO providers (id, code, name, active, created_at) VALUES "
        "(1,'telecom','Telecom',1,NOW(6)),(2,'post','Post',1,NOW(6)),(3,'shop','Shop',1,NOW(6)),(4,'bank','Bank',1,NOW(6))",
        f"INSERT INTO customers (id, created_at, tier, timezone) SELECT seq, {now}, "
        "ELT(1 + seq % 10, 'member','member','member','member','member','silver','silver','silver','gold','diamond'), "
        f"'Asia/Ho_Chi_Minh' FROM seq_1_to_{customers}",
        "INSERT INTO customer_balances (customer_id, balance, lifetime_points, pending, qualifying, debt, agg_seq, "
        f"updated_at) SELECT seq, seq % 5000, seq % 9000, 0, seq % 3000, 0, 0, {now} FROM seq_1_to_{customers}",
        "INSERT INTO transactions (id, provider_id, provider_txn_id, source, event_type, customer_id, amount, "
        "currency, occurred_at, received_at, processed_at, status, reversed_amount, attributes, body_hash) "
        f"SELECT seq, 1 + seq % 4, CONCAT('b-', seq), 'txn', 'purchase', 1 + seq % {customers}, 10000 + seq % 500000, "
        f"'VND', {when}, {when}, "
        f"{when} + INTERVAL 2 SECOND, "
        "IF(seq % 50 = 0, 'reversed', 'processed'), 0, '{}', 'x' "
        f"FROM seq_1_to_{transactions}",
        "INSERT INTO ledger_entries (id, entry_key, customer_id, kind, points, pending, qualifying, debt, "
        "transaction_id, provider_id, campaign_id, created_at) "
        f"SELECT seq, CONCAT('b:', seq), 1 + seq % {customers}, IF(seq % 10 = 0, 'redemption', 'earn'), "
        "IF(seq % 10 = 0, -(100 + seq % 400), 1 + seq % 50), 0, IF(seq % 10 = 0, 0, 1 + seq % 50), 0, "
        f"IF(seq % 10 = 0, NULL, 1 + seq % {transactions}), IF(seq % 10 = 0, NULL, 1 + seq % 4), "
        f"IF(seq % 10 = 0, NULL, 1 + seq % 7), {when} "
        f"FROM seq_1_to_{ledger}",
        "INSERT IGNORE INTO customer_daily (customer_id, day, provider_id, txn_count, spend, points, qualifying) "
        f"SELECT 1 + seq % {customers}, UTC_DATE() - INTERVAL (seq % {DAYS}) DAY, 1 + seq % 4, 1, 100000, 10, 10 "
        f"FROM seq_1_to_{transactions}",
        "INSERT IGNORE INTO customer_providers (customer_id, provider_id, first_at, txn_count) "
        f"SELECT 1 + seq % {customers}, 1 + seq % 4, {now}, 1 FROM seq_1_to_{customers * 2}",
    ]
    engine = create_engine(url, connect_args={"read_timeout": 3600, "write_timeout": 3600})
    with engine.begin() as conn:
        for sql in statements:
            started = time.monotonic()
            conn.execute(text(sql))
            print(f"  {time.monotonic() - started:6.1f}s  {sql[:70]}…")
        for table in ("ledger_entries", "transactions", "customer_daily", "customers", "customer_balances"):
            conn.execute(text(f"ANALYZE TABLE {table}"))
    engine.dispose()


class StatementTimer:
    """Wall time of every SQL statement, keyed by a short label."""

    def __init__(self, engine: Any) -> None:
        self.times: dict[str, list[float]] = defaultdict(list)
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        self.times[label(statement)].append((time.perf_counter() - conn.info.pop("bench_started")) * 1000)

    def reset(self) -> None:
        self.times.clear()


def label(sql: str) -> str:
    s = " ".join(sql.split()).lower()
    for needle, name in (
        ("from daily_stats", "points per day / volume (rollup)"),
        ("from counters", "rollup watermark"),
        ("date(ledger_entries.created_at)", "points per day (ledger, live days)"),
        ("count(distinct(customer_daily.customer_id))", "active customers (customer_daily)"),
        ("coalesce(customers.tier", "tier distribution"),
        ("count(*) as count_1 from customer_providers", "customers of the provider"),
        ("count(*) as count_1 from customers", "customers"),
        ("sum(customer_balances.balance)", "outstanding points"),
        ("transactions.status in", "volume per provider (transactions, live days)"),
        ("transactions.processed_at", "accrual latency (last 1,000)"),
        ("count(*) as count_1 from transactions", "queued transactions"),
        ("from providers", "provider names"),
    ):
        if needle in s:
            return name
    return s[:60]


def measure(app: Any, timer: StatementTimer, scope: Scope, use_rollup: bool, runs: int = 5) -> dict[str, Any]:
    totals = []
    timer.reset()
    with app.app_context():
        for _ in range(runs):
            started = time.perf_counter()
            dashboard.build(db.session, scope, days=30, rollup=use_rollup)
            totals.append((time.perf_counter() - started) * 1000)
            db.session.rollback()
    per_query = {name: statistics.median(ms) for name, ms in timer.times.items()}
    return {"total": statistics.median(totals), "queries": per_query}


def report(title: str, result: dict[str, Any]) -> None:
    print(f"\n{title}: {result['total']:.0f} ms for the whole dashboard (median of 5)")
    for name, ms in sorted(result["queries"].items(), key=lambda x: -x[1]):
        print(f"  {ms:8.1f} ms  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ledger", type=int, default=3_000_000)
    parser.add_argument("--customers", type=int, default=300_000)
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--db-url", default=DEFAULT_DB)
    parser.add_argument("--keep", action="store_true", help="reuse the generated data (no drop)")
    args = parser.parse_args()

    app = create_app(Settings.from_env(database_url=args.db_url, redis_url=None, log_level="WARNING"))
    with app.app_context():
        if not args.keep:
            recreate_schema()
            print(
                f"generating {args.ledger:,} ledger rows, {args.transactions:,} transactions, "
                f"{args.customers:,} customers"
            )
            started = time.monotonic()
            generate(args.db_url, args.ledger, args.customers, args.transactions)
            print(f"generated in {time.monotonic() - started:.0f}s")
        else:
            with db.engine.begin() as conn:
                conn.execute(text("DELETE FROM daily_stats"))
                conn.execute(text("DELETE FROM counters WHERE name = 'daily_stats_through'"))
        rows = db.session.scalar(select(func.count()).select_from(LedgerEntry))
        print(f"ledger_entries: {rows:,} rows")

    with app.app_context():
        timer = StatementTimer(db.engine)
    provider = Scope("provider", 1, "telecom")
    report("live, whole programme", measure(app, timer, UNLIMITED, False))
    report("live, one provider", measure(app, timer, provider, False))
    started = time.monotonic()
    days = rollup(app.extensions["loyalty.runtime"])
    print(f"\nrollup built from nothing: {days} days in {time.monotonic() - started:.1f}s")
    report("rollup, whole programme", measure(app, timer, UNLIMITED, True))
    report("rollup, one provider", measure(app, timer, provider, True))


if __name__ == "__main__":
    main()
