"""Benchmark: closing a settlement month (issue 14) over a large ledger.

1. Generates, set-based in MariaDB (its SEQUENCE engine), one month of books:
   ``--entries`` ledger entries (default 10 million) over ``--customers``
   (default 1 million): half earnings with one point lot each (funders spread
   over three providers and the programme), 30 % redemptions fulfilled by the
   providers, 15 % expiries, 5 % refund clawbacks, each with its lot
   consumption; rates for every provider, one of them changing mid-month.
2. Runs ``flask --app wsgi settlement close YYYY-MM`` in a subprocess and
   measures its wall time and peak RSS (wait4).
3. Prints a JSON summary, with the closed statement's total (0).

    .venv/bin/python -m bench.settlement --entries 1000000 --customers 100000

Uses database ``loyalty_bench_clearing`` (tables dropped and re-created)
unless --db-url says otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from campaigns.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = "mysql+pymysql://root@127.0.0.1:3306/loyalty_bench_clearing?charset=utf8mb4"
MONTH = "2026-01"
START = "2025-12-31 17:00:00"  # 1 January 00:00 in Hanoi, as naive UTC
SECONDS = 31 * 86400 - 1


def generate(db_url: str, entries: int, customers: int) -> dict[str, int]:
    earn, red, exp = entries // 2, entries * 3 // 10, entries * 15 // 100
    rev = entries - earn - red - exp
    engine = create_engine(db_url)
    at = f"TIMESTAMPADD(SECOND, seq * {SECONDS} DIV {{n}}, '{START}')"
    with engine.begin() as c:
        c.execute(text("SET unique_checks=0, foreign_key_checks=0"))
        c.execute(
            text(
                "INSERT INTO providers (id, code, name, active, created_at) VALUES "
                "(1,'telecom','Telecom',1,NOW()),(2,'post','Post',1,NOW()),(3,'shop','Shop',1,NOW())"
            )
        )
        c.execute(
            text(
                "INSERT INTO provider_rates (provider_id, effective_from, issue_cost, redemption_rate, actor,"
                " created_at)"
                " VALUES "
                "(1,'2025-01-01',100,90,'bench',NOW()),(2,'2025-01-01',80,120,'bench',NOW()),"
                "(3,'2025-01-01',50,60,'bench',NOW()),(0,'2025-01-01',70,0,'bench',NOW()),"
                "(1,'2026-01-14 17:00:00',120,95,'bench',NOW())"
            )
        )
        c.execute(
            text(
                f"INSERT INTO customers (id, created_at, timezone, language) "
                f"SELECT seq, '{START}', 'Asia/Ho_Chi_Minh', 'vi' FROM seq_1_to_{customers}"
            )
        )
        # earnings 1..earn, one lot each (lot id = entry id); the funder cycles telecom, post, shop, programme
        c.execute(
            text(
                "INSERT INTO ledger_entries (id, entry_key, customer_id, kind, points, pending, qualifying, debt,"
                " provider_id, created_at) "
                f"SELECT seq, CONCAT('e:', seq), seq % {customers} + 1, 'earn', 10, 0, 10, 0, seq % 3 + 1,"
                f" {at.format(n=earn)} FROM seq_1_to_{earn}"
            )
        )
        c.execute(
            text(
                "INSERT INTO point_lots (id, customer_id, entry_id, points, remaining, status, expires_at, created_at,"
                " funder_id, recovered) "
                f"SELECT seq, seq % {customers} + 1, seq, 10, 10, 'available', '2027-01-01', {at.format(n=earn)},"
                f" IF(seq % 4 = 0, 0, seq % 3 + 1), 0 FROM seq_1_to_{earn}"
            )
        )
        # redemptions, expiries and clawbacks each empty one distinct lot
        for kind, first, n, provider in (
            ("redemption", 0, red, "seq % 3 + 1"),
            ("expiry", red, exp, "NULL"),
            ("reversal", red + exp, rev, "NULL"),
        ):
            base = earn + first
            c.execute(
                text(
                    "INSERT INTO ledger_entries (id, entry_key, customer_id, kind, points, pending, qualifying, debt,"
                    " provider_id, reverses_entry_id, created_at) "
                    f"SELECT {base} + seq, CONCAT('{kind}:', seq), ({first} + seq) % {customers} + 1, '{kind}',"
                    f" -10, 0, 0, 0, {provider}, {'(' + str(first) + ' + seq)' if kind == 'reversal' else 'NULL'},"
                    f" TIMESTAMPADD(SECOND, 60, {at.format(n=n)}) FROM seq_1_to_{n}"
                )
            )
            c.execute(
                text(
                    "INSERT INTO lot_consumptions (lot_id, entry_id, points) "
                    f"SELECT {first} + seq, {base} + seq, 10 FROM seq_1_to_{n}"
                )
            )
        used = red + exp + rev
        c.execute(text(f"UPDATE point_lots SET remaining = 0, status = 'closed' WHERE id <= {used}"))
    engine.dispose()
    return {"earn": earn, "redemption": red, "expiry": exp, "reversal": rev}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--db-url", default=DEFAULT_DB)
    parser.add_argument(
        "--keep", action="store_true", help="reuse the generated books (no drop); the month is reopened"
    )
    args = parser.parse_args()

    from webapp import create_app
    from webapp.extensions import recreate_schema

    app = create_app(Settings.from_env(database_url=args.db_url, redis_url=None, log_level="WARNING"))
    counts: dict[str, int] = {}
    with app.app_context():
        if not args.keep:
            recreate_schema()
            started = time.monotonic()
            counts = generate(args.db_url, args.entries, args.customers)
            print(f"generated {args.entries:,} entries in {time.monotonic() - started:.0f}s", file=sys.stderr)
    engine = create_engine(args.db_url)
    with engine.begin() as c:  # --keep: close the same month again
        c.execute(text("DELETE FROM settlement_lines WHERE period = :p"), {"p": MONTH})
        c.execute(text("DELETE FROM settlement_periods WHERE period = :p"), {"p": MONTH})
    env = {**os.environ, "LOYALTY_DATABASE_URL": args.db_url, "LOYALTY_LOG_LEVEL": "WARNING"}
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "settlement", "close", MONTH],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"settlement close failed:\n{out}")
    with engine.begin() as c:
        total = c.execute(
            text("SELECT SUM(amount) FROM settlement_lines WHERE period = :p AND kind = 'net'"), {"p": MONTH}
        ).scalar_one()
    print(
        json.dumps(
            {
                "entries": args.entries,
                "customers": args.customers,
                "kinds": counts,
                "close_seconds": round(seconds, 1),
                "close_peak_rss_mb": usage.ru_maxrss // 1024,
                "close_cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
                "statement_total": int(total or 0),
                "output": out.strip().splitlines(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
