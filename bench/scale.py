"""Benchmark: cost as the books grow (issue 18, "Scale").

1. Builds synthetic books set-based in MariaDB (its SEQUENCE engine, ``seq_1_to_N``), not through the API:
   ``--customers`` customers, each with a phone identity, and two years of history ending last month: nine
   earnings (a processed transaction, an ``earn`` entry, its point lot funded by the provider or the
   programme, the customer_daily row and customer_providers), two redemptions (a ``redemptions`` row, the
   entry, its lot consumptions, oldest lots first) and one expiry of a lot a year after it was earned: twelve
   ledger entries per customer. Balances, daily rows and first contacts are upserted with each entry as the
   crediting writes them (no GROUP BY over the books: no temporary tables); the ledger check proves the sums.
   Customers start in stale tiers (a quarter silver, 1 in 97 gold) of the example ladder, published after the
   ingest: bench/ingest.py's campaigns name tiers ('suspended', 'blocked') that ladder does not have.
   Rows go in by time slot, then customer block, so ids grow as they would in production.
2. ``flask --app wsgi ledger check`` over the generated books (``--skip-check`` at sizes where it is too slow),
   then ANALYZE TABLE and the on-disk size (``data_length + index_length`` of every table).
3. The batch ingest, ``bench/ingest.py --no-reset``: its phones are drawn from ``make_phones(customers, seed)``,
   the very numbers the generator gave the customers, so every transaction lands on an existing customer.
4. ``flask --app wsgi tiers requalify`` and ``flask --app wsgi settlement close YYYY-MM`` (a month inside the
   history), each in a subprocess timed with its peak RSS (wait4).
5. Prints a JSON summary (``--json PATH`` writes it too).

    .venv/bin/python -m bench.scale --customers 100000 --redis-url redis://127.0.0.1:6379/14

Uses database ``loyalty_bench_scale`` (tables dropped and re-created) unless --db-url says otherwise; flushes the
Redis database of --redis-url (db 15, the test suite's, is refused).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, create_engine, text

from bench.ingest import make_phones

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = "mysql+pymysql://loyalty:loyalty@127.0.0.1:3306/loyalty_bench_scale?charset=utf8mb4"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
SEED = 20261123  # bench/ingest.py's default --seed: scale passes it explicitly
ICT = ZoneInfo("Asia/Ho_Chi_Minh")
SPREAD = 55 * 86400  # customers' movements are spread over 55 days after each slot's day
LOT_DAYS = 365  # a lot expires a year after it was earned
EARN_DAYS = (0, 61, 122, 244, 305, 427, 488, 610, 671)  # day of the history of earnings k = 1..9
# Every customer's twelve movements in time order: (kind, earning k / redemption r / expired lot k, day).
# Redemption 1 takes lots 1 and 2, redemption 2 lots 4 and 5 (oldest first, before they expire); lot 3 expires.
SLOTS: tuple[tuple[str, int, int], ...] = (
    ("earn", 1, 0),
    ("earn", 2, 61),
    ("earn", 3, 122),
    ("redemption", 1, 183),
    ("earn", 4, 244),
    ("earn", 5, 305),
    ("earn", 6, 427),
    ("expiry", 3, 122 + LOT_DAYS),
    ("earn", 7, 488),
    ("redemption", 2, 549),
    ("earn", 8, 610),
    ("earn", 9, 671),
)
REDEEMED = {1: (1, 2), 2: (4, 5)}
CLOSED_LOTS = 5  # lots 1..5 are used up; 6..9 stay open (none due to expire before the history's end + 2 months)


def history_start(today: date) -> date:
    """The first day of the month 24 months before this one: the history ends in the last days of last month."""
    month = today.year * 12 + today.month - 1 - 24
    return date(month // 12, month % 12 + 1, 1)


def default_month(today: date) -> str:
    """The month three months back: closed, inside the history, nothing else in it closed."""
    month = today.year * 12 + today.month - 1 - 3
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


class Books:
    """SQL expressions of one customer block: customer ``c`` = ``lo - 1 + seq`` over ``seq_1_to_{size}``."""

    def __init__(self, customers: int, start: date) -> None:
        self.n = customers
        self.start = datetime.combine(start, datetime.min.time(), ICT).astimezone(UTC).replace(tzinfo=None)

    def at(self, c: str, day: int) -> str:
        return f"TIMESTAMPADD(SECOND, {day * 86400} + ({c} * 7919) % {SPREAD}, '{self.start:%Y-%m-%d %H:%M:%S}')"

    def row_id(self, index: int, c: str) -> str:
        """Ids of the ``index``-th row of its kind of every customer: slot-major, so ids grow with time."""
        return f"({(index - 1) * self.n} + {c})"

    @staticmethod
    def points(c: str, k: int) -> str:
        return f"(10 * (1 + ({c} * 31 + {k * 7}) % 30))"

    @staticmethod
    def provider(c: str, k: int) -> str:
        return f"(1 + ({c} + {k}) % 3)"


def _exec(conn: Connection, sql: str) -> None:
    conn.execute(text(sql))


def generate(engine: Engine, customers: int, *, today: date, block: int = 100_000, seed: int = SEED) -> dict[str, Any]:
    """Write the books of ``customers`` customers into an empty, migrated schema; returns what it wrote."""
    start = history_start(today)
    b = Books(customers, start)
    stamp = f"'{b.start:%Y-%m-%d %H:%M:%S}'"
    blocks = [(lo, min(customers, lo + block - 1)) for lo in range(1, customers + 1, block)]

    def run(sql_for_block: Any) -> None:
        for lo, hi in blocks:
            c = f"({lo - 1} + seq)"
            with engine.begin() as conn:
                _exec(conn, "SET unique_checks=0, foreign_key_checks=0")
                for sql in sql_for_block(c, lo, hi):
                    _exec(conn, sql.replace("{SEQ}", f"seq_1_to_{hi - lo + 1}"))

    with engine.begin() as conn:
        _exec(
            conn,
            "INSERT INTO providers (id, code, name, active, created_at) VALUES "
            "(1,'telecom','Telecom',1,NOW()),(2,'post','Post',1,NOW()),(3,'shop','Shop',1,NOW())",
        )
        _exec(
            conn,
            "INSERT INTO provider_rates (provider_id, effective_from, issue_cost, redemption_rate, actor, created_at)"
            " VALUES (1,'2020-01-01',100,90,'bench',NOW()),(2,'2020-01-01',80,120,'bench',NOW()),"
            "(3,'2020-01-01',50,60,'bench',NOW()),(0,'2020-01-01',70,0,'bench',NOW())",
        )
        _exec(
            conn,
            "INSERT INTO rewards (id, code, name, cost, issued, voucher_days, provider_id, active, created_at) VALUES "
            "(1,'telecom-data','Data pack',500,0,30,1,1,NOW()),(2,'post-parcel','Parcel',500,0,30,2,1,NOW()),"
            "(3,'shop-voucher','Shop voucher',500,0,30,3,1,NOW())",
        )
    run(
        lambda c, lo, hi: [
            "INSERT INTO customers (id, created_at, tier, tier_since, timezone, language) "
            f"SELECT {c}, TIMESTAMPADD(SECOND, -3600, {b.at(c, 0)}), "
            f"CASE WHEN {c} % 4 = 0 THEN 'silver' WHEN {c} % 97 = 0 THEN 'gold' ELSE 'member' END, "
            f"TIMESTAMPADD(DAY, 30, {stamp}), 'Asia/Ho_Chi_Minh', 'vi' FROM {{SEQ}}",
            "INSERT INTO tier_changes (customer_id, from_tier, to_tier, reason, at) "
            f"SELECT {c}, 'member', IF({c} % 4 = 0, 'silver', 'gold'), 'qualified at requalification', "
            f"TIMESTAMPADD(DAY, 30, {stamp}) FROM {{SEQ}} WHERE {c} % 4 = 0 OR {c} % 97 = 0",
            "INSERT INTO customer_balances (customer_id, balance, lifetime_points, pending, qualifying, debt, agg_seq,"
            f" updated_at) SELECT {c}, 0, 0, 0, 0, 0, 0, {stamp} FROM {{SEQ}}",
        ]
    )
    for slot, (kind, k, day) in enumerate(SLOTS, 1):
        run(lambda c, lo, hi, slot=slot, kind=kind, k=k, day=day: _slot_sql(b, c, slot, kind, k, day))
    _identities(engine, customers, make_phones(customers, random.Random(seed)), b.start)
    with engine.begin() as conn:
        _exec(conn, "UPDATE rewards r SET issued = (SELECT COUNT(*) FROM redemptions d WHERE d.reward_id = r.id)")
    return {
        "customers": customers,
        "history": f"{start} to {start + timedelta(days=EARN_DAYS[-1]) + timedelta(seconds=SPREAD)}",
        "ledger_entries_per_customer": len(SLOTS),
    }


def _slot_sql(b: Books, c: str, slot: int, kind: str, k: int, day: int) -> list[str]:
    eid, at = b.row_id(slot, c), b.at(c, day)
    if kind == "earn":
        tid, pts, prov = b.row_id(k, c), b.points(c, k), b.provider(c, k)
        return [
            "INSERT INTO transactions (id, provider_id, provider_txn_id, source, event_type, customer_id, amount,"
            " currency, category, channel, occurred_at, received_at, processed_at, status, reversed_amount,"
            " attributes, body_hash) "
            f"SELECT {tid}, {prov}, CONCAT('h', {tid}), 'txn', 'purchase', {c}, {pts} * 6000, 'VND',"
            f" ELT({prov}, 'topup', 'parcel', 'grocery'), ELT(1 + {c} % 3, 'app', 'pos', 'web'),"
            f" TIMESTAMPADD(SECOND, -30, {at}), TIMESTAMPADD(SECOND, -2, {at}), {at}, 'processed', 0, '{{}}',"
            f" SHA2(CONCAT('h', {tid}), 256) FROM {{SEQ}}",
            "INSERT INTO ledger_entries (id, entry_key, customer_id, kind, points, pending, qualifying, debt,"
            " transaction_id, provider_id, rule_index, rule_name, created_at) "
            f"SELECT {eid}, CONCAT('e:', {tid}, ':0:0:0'), {c}, 'earn', {pts}, 0, {pts}, 0, {tid}, {prov}, 0,"
            f" 'base earning (history)', {at} FROM {{SEQ}}",
            "INSERT INTO point_lots (id, customer_id, entry_id, points, remaining, status, expires_at, created_at,"
            " funder_id, recovered) "
            f"SELECT {tid}, {c}, {eid}, {pts}, {0 if k <= CLOSED_LOTS else pts},"
            f" '{'closed' if k <= CLOSED_LOTS else 'available'}', TIMESTAMPADD(DAY, {LOT_DAYS}, {at}), {at},"
            f" IF(({c} + {k}) % 4 = 0, 0, {prov}), 0 FROM {{SEQ}}",
            "INSERT INTO customer_daily (customer_id, day, provider_id, txn_count, spend, points, qualifying) "
            f"SELECT {c}, DATE(TIMESTAMPADD(HOUR, 7, {at})), {prov}, 1, {pts} * 6000, {pts}, {pts} FROM {{SEQ}}"
            " ON DUPLICATE KEY UPDATE txn_count = txn_count + 1, spend = spend + VALUES(spend),"
            " points = points + VALUES(points), qualifying = qualifying + VALUES(qualifying)",
            "INSERT INTO customer_providers (customer_id, provider_id, first_at, txn_count) "
            f"SELECT {c}, {prov}, TIMESTAMPADD(SECOND, -30, {at}), 1 FROM {{SEQ}}"
            " ON DUPLICATE KEY UPDATE txn_count = txn_count + 1, first_at = LEAST(first_at, VALUES(first_at))",
            _balance(c, pts, earned=True, at=at),
        ]
    if kind == "redemption":
        rid, prov = b.row_id(k, c), b.provider(c, k)
        lots = REDEEMED[k]
        total = " + ".join(b.points(c, lot) for lot in lots)
        return [
            "INSERT INTO redemptions (id, customer_id, reward_id, points, voucher_code, status, requested_by,"
            " source, expires_at, created_at) "
            f"SELECT {rid}, {c}, {prov}, {total}, CONCAT('H', {rid}), 'issued', 'portal', 'redeem',"
            f" TIMESTAMPADD(DAY, 30, {at}), {at} FROM {{SEQ}}",
            "INSERT INTO ledger_entries (id, entry_key, customer_id, kind, points, pending, qualifying, debt,"
            " provider_id, redemption_id, note, created_at) "
            f"SELECT {eid}, CONCAT('rd:', {rid}), {c}, 'redemption', -({total}), 0, 0, 0, {prov}, {rid},"
            f" ELT({prov}, 'redeemed telecom-data', 'redeemed post-parcel', 'redeemed shop-voucher'), {at}"
            " FROM {SEQ}",
            "INSERT INTO lot_consumptions (lot_id, entry_id, points) "
            + " UNION ALL ".join(f"SELECT {b.row_id(lot, c)}, {eid}, {b.points(c, lot)} FROM {{SEQ}}" for lot in lots),
            _balance(c, f"-({total})", earned=False, at=at),
        ]
    lot_id, pts = b.row_id(k, c), b.points(c, k)
    return [
        "INSERT INTO ledger_entries (id, entry_key, customer_id, kind, points, pending, qualifying, debt, note,"
        f" created_at) SELECT {eid}, CONCAT('x:', {lot_id}), {c}, 'expiry', -{pts}, 0, 0, 0, 'points expired', {at}"
        " FROM {SEQ}",
        f"INSERT INTO lot_consumptions (lot_id, entry_id, points) SELECT {lot_id}, {eid}, {pts} FROM {{SEQ}}",
        _balance(c, f"-{pts}", earned=False, at=at),
    ]


def _balance(c: str, points: str, *, earned: bool, at: str) -> str:
    """The balance moves with each entry, as the crediting's upsert moves it (the checker proves the sum)."""
    return (
        "INSERT INTO customer_balances (customer_id, balance, lifetime_points, pending, qualifying, debt, agg_seq,"
        f" updated_at) SELECT {c}, {points}, {points if earned else 0}, 0, {points if earned else 0}, 0, 0, {at}"
        " FROM {SEQ} ON DUPLICATE KEY UPDATE balance = balance + VALUES(balance),"
        " lifetime_points = lifetime_points + VALUES(lifetime_points), qualifying = qualifying + VALUES(qualifying),"
        " updated_at = VALUES(updated_at)"
    )


def _identities(engine: Engine, customers: int, phones: list[str], start: datetime, chunk: int = 20_000) -> None:
    """Customer i holds bench/ingest.py's i-th phone (E.164); every number has its (blank) lifecycle state."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for lo in range(0, customers, chunk):
            rows = [(i + 1, "+84" + phones[i][1:]) for i in range(lo, min(customers, lo + chunk))]
            cur.executemany(
                "INSERT INTO customer_identities (customer_id, kind, value, created_at) VALUES (%s, 'phone', %s, %s)",
                [(cid, value, start) for cid, value in rows],
            )
            cur.executemany(
                "INSERT INTO phone_states (phone, updated_at) VALUES (%s, %s)", [(value, start) for _c, value in rows]
            )
            raw.commit()
    finally:
        raw.close()


def publish_tiers(app: Any) -> None:
    from campaigns.catalog import documents as catalog
    from webapp.extensions import db

    with app.app_context():
        ladder = (ROOT / "docs/examples/tiers.yaml").read_text()
        catalog.import_document(db.session, ladder, fmt="yaml", author="bench", publish=True, require_approval=False)
        db.session.commit()


def ladder_published(engine: Engine) -> bool:
    with engine.begin() as conn:
        return bool(
            conn.execute(text("SELECT COUNT(*) FROM campaigns WHERE type = 'tier' AND status = 'published'")).scalar()
        )


def flask(env: dict[str, str], *args: str) -> dict[str, Any]:
    """``flask --app wsgi ARGS`` in a subprocess: exit code, output, wall time, CPU and peak RSS (wait4)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": usage.ru_maxrss // 1024,
        "output": out.strip().splitlines()[-12:],
    }


def disk_size(engine: Engine, customers: int) -> dict[str, Any]:
    """data_length + index_length of every table (after ANALYZE TABLE, so InnoDB's page counts are fresh)."""
    with engine.begin() as conn:
        tables = [name for (name,) in conn.execute(text("SHOW TABLES"))]
        for name in tables:
            conn.execute(text(f"ANALYZE TABLE `{name}`")).all()
        rows = conn.execute(
            text(
                "SELECT table_name, data_length + index_length, table_rows FROM information_schema.tables"
                " WHERE table_schema = DATABASE() ORDER BY data_length + index_length DESC"
            )
        ).all()
    total = sum(int(size) for _n, size, _r in rows)
    return {
        "bytes": total,
        "mb": round(total / 2**20, 1),
        "mb_per_million_customers": round(total / 2**20 * 1_000_000 / customers, 1),
        "largest_tables_mb": {str(n): round(int(s) / 2**20, 1) for n, s, _r in rows[:8]},
    }


def counts(engine: Engine) -> dict[str, int]:
    with engine.begin() as conn:
        return {
            t: int(conn.execute(text(f"SELECT COUNT(*) FROM `{t}`")).scalar_one())
            for t in (
                "customers",
                "customer_identities",
                "ledger_entries",
                "point_lots",
                "lot_consumptions",
                "transactions",
                "customer_daily",
                "customer_providers",
                "redemptions",
            )
        }


def flush_redis(url: str) -> None:
    from redis import Redis

    r = Redis.from_url(url)
    if int(r.connection_pool.connection_kwargs.get("db", 0)) == 15:
        raise SystemExit("refusing to flush Redis db 15: the test suite uses it; pick another --redis-url")
    r.flushdb()
    r.close()


def ingest(args: argparse.Namespace) -> dict[str, Any]:
    """bench/ingest.py --no-reset against the books: the same phones, so every transaction finds its customer."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    argv = [
        sys.executable,
        "-m",
        "bench.ingest",
        "--no-reset",
        "--mode",
        "batch",
        "--db-url",
        args.db_url,
        "--redis-url",
        args.redis_url,
        "--customers",
        str(args.customers),
        "--seed",
        str(args.seed),
        "--n",
        str(args.ingest_n),
        "--json",
        str(out),
    ]
    code = subprocess.run(argv, cwd=ROOT, check=False).returncode
    r = json.loads(out.read_text()) if out.stat().st_size else {}
    out.unlink()
    keep = (
        "n",
        "accepted",
        "errors",
        "processed",
        "drained",
        "http_rate",
        "e2e_rate",
        "e2e_seconds",
        "latency_p50_s",
        "latency_p99_s",
        "cpu_cores_busy",
        "other_cores_busy",
        "ledger_check",
    )
    return {"exit_code": code, **{k: r.get(k) for k in keep}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--db-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS, help="bench Redis database (flushed)")
    parser.add_argument("--seed", type=int, default=SEED, help="bench/ingest.py's --seed: it picks the phones")
    parser.add_argument("--ingest-n", type=int, default=50_000, help="transactions the batch ingest posts")
    parser.add_argument("--month", default=None, help="month to close (default: three months back)")
    parser.add_argument("--block", type=int, default=100_000, help="customers per generating statement")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="reuse the books already generated (no drop); once their ladder is published, with --skip-ingest",
    )
    parser.add_argument("--skip-check", action="store_true", help="no ledger check of the generated books")
    parser.add_argument("--skip-ingest", action="store_true")
    parser.add_argument("--json", metavar="PATH", default=None, help="also write the summary to PATH")
    args = parser.parse_args()

    from campaigns.settings import Settings
    from webapp import create_app
    from webapp.extensions import recreate_schema

    today = datetime.now(ICT).date()
    month = args.month or default_month(today)
    engine = create_engine(args.db_url)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    result: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit,
        "customers": args.customers,
        "load_average_at_start": list(os.getloadavg()),
    }
    flush_redis(args.redis_url)
    app = create_app(Settings.from_env(database_url=args.db_url, redis_url=None, log_level="WARNING"))
    if not args.keep:
        with app.app_context():
            recreate_schema()
        started = time.monotonic()
        result["generated"] = generate(engine, args.customers, today=today, block=args.block, seed=args.seed)
        result["generate_seconds"] = round(time.monotonic() - started, 1)
        say(f"generated {args.customers:,} customers in {result['generate_seconds']}s")
    result["rows"] = counts(engine)
    env = {
        **os.environ,
        "LOYALTY_DATABASE_URL": args.db_url,
        "REDIS_URL": args.redis_url,
        "LOYALTY_LOG_LEVEL": "WARNING",
    }
    if not args.skip_check:
        result["ledger_check"] = flask(env, "ledger", "check")
        say(f"ledger check: {result['ledger_check']['output'][-1:]} in {result['ledger_check']['seconds']}s")
    result["disk"] = disk_size(engine, args.customers)
    say(f"on disk: {result['disk']['mb']} MB")
    if not args.skip_ingest:
        if ladder_published(engine):
            raise SystemExit("these books have a tier ladder already: regenerate them, or --skip-ingest")
        result["ingest"] = ingest(args)
        # its phones are the books' numbers: it must have credited existing customers, not created new ones
        result["ingest"]["customers_created"] = counts(engine)["customers"] - result["rows"]["customers"]
        say(f"ingest: {result['ingest']['e2e_rate']} tx/s end to end")
    if not ladder_published(engine):
        publish_tiers(app)
    requalify = flask(env, "tiers", "requalify")
    inside = re.search(r" in ([0-9.]+)s:", " ".join(requalify["output"]))  # the command's own clock, no start-up
    requalify["requalify_seconds"] = float(inside.group(1)) if inside else None
    per = 1_000_000 / args.customers
    requalify["seconds_per_million_customers"] = round((requalify["requalify_seconds"] or 0) * per, 1)
    requalify["process_seconds_per_million_customers"] = round(requalify["seconds"] * per, 1)
    result["requalify"] = requalify
    say(f"requalify: {requalify['seconds']}s, {requalify['peak_rss_mb']} MB")
    with engine.begin() as conn:  # --keep: the same month again
        conn.execute(text("DELETE FROM settlement_lines WHERE period = :p"), {"p": month})
        conn.execute(text("DELETE FROM settlement_periods WHERE period = :p"), {"p": month})
    result["close"] = {"month": month, **flask(env, "settlement", "close", month)}
    say(f"settlement close {month}: {result['close']['seconds']}s, {result['close']['peak_rss_mb']} MB")
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    engine.dispose()
    summary = json.dumps(result, indent=2, default=str)
    print(summary)
    if args.json:
        Path(args.json).write_text(summary + "\n")
    failed = [k for k in ("ledger_check", "ingest", "requalify", "close") if result.get(k, {}).get("exit_code")]
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)}")


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
