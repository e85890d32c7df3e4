"""Benchmark: tier requalification over a generated population (default 1 million customers).

Generates customers, balances and a year of daily aggregates straight in
MariaDB with its sequence engine (seconds, not hours), publishes the example
tier ladder, then times the same requalification the workers run daily
(`flask --app wsgi tiers requalify`): set-based reads in chunks, compiled tier
rules in Python, bulk writes.

    .venv/bin/python -m bench.requalify --customers 1000000

Uses database ``loyalty_bench`` (dropped and re-created) unless --db-url says otherwise.
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

from sqlalchemy import text

from campaigns.accounts.lifecycle import run_all
from campaigns.catalog import documents as catalog
from campaigns.settings import Settings
from webapp import create_app
from webapp.extensions import db, recreate_schema

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = "mysql+pymysql://loyalty:loyalty@127.0.0.1:3306/loyalty_bench?charset=utf8mb4"


def generate(n: int) -> None:
    """Customers 1..n; a quarter are silver already, a few are gold on paper but no longer qualify."""
    seq = f"seq_1_to_{n}"
    statements = [
        "INSERT INTO providers (id, code, name, active, created_at) VALUES "
        "(1,'telecom','T',1,NOW(6)),(2,'post','P',1,NOW(6)),(3,'shop','S',1,NOW(6))",
        f"INSERT INTO customers (id, created_at, tier, tier_since, timezone) SELECT seq, NOW(6), "
        f"CASE WHEN seq % 4 = 0 THEN 'silver' WHEN seq % 97 = 0 THEN 'gold' ELSE 'member' END, "
        f"NOW(6) - INTERVAL 60 DAY, 'Asia/Ho_Chi_Minh' FROM {seq}",
        f"INSERT INTO customer_balances (customer_id, balance, lifetime_points, pending, qualifying, debt, updated_at) "
        f"SELECT seq, 0, 0, 0, 0, 0, NOW(6) FROM {seq}",
        f"INSERT INTO customer_daily (customer_id, day, provider_id, txn_count, spend, points, qualifying) "
        f"SELECT seq, CURDATE() - INTERVAL (seq % 300) DAY, 1 + seq % 3, 1 + seq % 4, (seq % 60) * 50000, "
        f"(seq % 60) * 20, (seq % 60) * 20 FROM {seq}",
        f"INSERT INTO customer_daily (customer_id, day, provider_id, txn_count, spend, points, qualifying) "
        f"SELECT seq, CURDATE() - INTERVAL (seq % 200) DAY - INTERVAL 1 DAY, 1 + (seq + 1) % 3, 2, (seq % 13) * 90000, "
        f"(seq % 13) * 30, (seq % 13) * 30 FROM {seq}",
        f"INSERT INTO customer_providers (customer_id, provider_id, first_at, txn_count) "
        f"SELECT seq, 1 + seq % 3, NOW(6) - INTERVAL 300 DAY, 3 FROM {seq}",
    ]
    with db.engine.begin() as conn:
        for sql in statements:
            conn.execute(text(sql))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=5000)
    parser.add_argument("--db-url", default=DEFAULT_DB)
    args = parser.parse_args()

    settings = Settings.from_env(database_url=args.db_url, redis_url=None, log_level="WARNING")
    app = create_app(settings)
    with app.app_context():
        recreate_schema()
        started = time.monotonic()
        generate(args.customers)
        generated = time.monotonic() - started
        ladder = (ROOT / "docs/examples/tiers.yaml").read_text()
        catalog.import_document(db.session, ladder, fmt="yaml", author="bench", publish=True, require_approval=False)
        db.session.commit()
    rt = app.extensions["loyalty.runtime"]
    started = time.monotonic()
    report = run_all(rt.session_factory, rt.published, requalify=True, chunk=args.chunk)
    elapsed = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"generated {args.customers:,} customers with 2 daily rows each in {generated:.1f}s")
    print(
        f"requalified {report.customers:,} customers in {elapsed:.1f}s "
        f"({report.customers / elapsed:,.0f}/s): {report.upgraded:,} up, {report.downgraded:,} down; "
        f"peak RSS {peak:.0f} MB; chunk {args.chunk}"
    )


if __name__ == "__main__":
    main()
