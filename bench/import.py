"""Benchmark: bulk imports end to end against MariaDB and Redis (issue 7).

1. Generates a customer migration file (default 1 million customers, phones,
   some national IDs, opening balances with expiry dates) and a transaction
   file (default 10 million rows over those customers and some new ones,
   a few invalid rows), streamed to disk.
2. Imports the customers with ``flask --app wsgi customers import`` in a
   subprocess (peak memory from wait4).
3. Starts ``--workers`` crediting workers (``flask --app wsgi worker
   --no-imports``), runs ``flask --app wsgi transactions import`` in a
   subprocess and measures: acceptance (rows/s while importing), crediting
   (until nothing is queued), end to end, and the importer's peak RSS.
4. Prints a JSON summary (``--check`` adds ``ledger check``). With
   ``--sequential`` the import runs first and the crediting after it, so each
   phase's rate and CPU per row (its own and MariaDB's) are measured apart.

    .venv/bin/python -m bench.import --rows 1000000 --customers 100000

Uses database ``loyalty_bench_i7`` (tables dropped and re-created) and Redis db
11 (flushed) unless --db-url / --redis-url say otherwise. Files go to bench/out/.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from redis import Redis
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
DEFAULT_DB = "mysql+pymysql://loyalty:loyalty@127.0.0.1:3306/loyalty_bench_i7?charset=utf8mb4"
DEFAULT_REDIS = "redis://127.0.0.1:6379/11"


MOBILE = ("90", "91", "93", "94", "96", "97", "98", "86", "88", "70", "32", "33", "34", "35", "36", "37", "38", "39")


def digits_of(i: int) -> str:
    """Customer i's (valid, unique) mobile number without its leading 0."""
    return f"{MOBILE[i % len(MOBILE)]}{(i // len(MOBILE)) * 7919 % 10**7:07d}"


def phone_of(i: int) -> str:
    """Customer i's mobile number, written the ways providers write them."""
    digits = digits_of(i)
    if i % 3 == 0:
        return f"0{digits}"
    if i % 3 == 1:
        return f"+84{digits}"
    return f"0{digits[:2]} {digits[2:5]} {digits[5:]}"


def _open(path: Path, compress: bool) -> IO[str]:
    if compress:
        return gzip.open(path, "wt", compresslevel=1, newline="")  # type: ignore[return-value]
    return open(path, "w", newline="", buffering=1 << 20)


def write_customers(path: Path, n: int, compress: bool) -> None:
    today = date.today()
    with _open(path, compress) as f:
        f.write("customer_ref,phone,national_id,tier,birth_date,points,expires_at\n")
        for i in range(n):
            nid = f"{(i * 104729) % 10**12:012d}" if i % 4 == 0 else ""
            phones = phone_of(i) + (f";0{digits_of(n + i)}" if i % 10 == 0 else "")
            born = f"{1960 + i % 45}-{1 + i % 12:02d}-{1 + i % 28:02d}" if i % 2 else ""
            if i % 5 == 0:
                points, expires = "", ""
            elif i % 5 == 1:
                points, expires = f"{100 + i % 900}", (today + timedelta(days=30 + i % 300)).isoformat()
            else:
                points = f"{50 + i % 500};{10 + i % 90}"
                soon, later = today + timedelta(days=20 + i % 60), today + timedelta(days=200 + i % 300)
                expires = f"{soon.isoformat()};{later.isoformat()}"
            f.write(f"L{i},{phones},{nid},,{born},{points},{expires}\n")


CATEGORIES = ("topup", "topup", "bill", "data", "roaming")
CHANNELS = ("app", "ussd", "shop", "web")


def write_transactions(path: Path, n: int, customers: int, compress: bool, prefix: str = "T", seed: int = 7) -> int:
    """Rows over known customers (90%) and new ones; one in 2,000 invalid. Returns the valid count."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=1)
    valid = 0
    with _open(path, compress) as f:
        f.write("provider_txn_id,phone,national_id,amount,currency,category,channel,occurred_at,attributes.store\n")
        for i in range(n):
            who = rng.randrange(customers) if rng.random() < 0.9 else customers + rng.randrange(customers // 5 + 1)
            amount = rng.choice((10_000, 20_000, 50_000, 100_000, 150_000, 200_000, 500_000))
            when = (start + timedelta(seconds=i % 80_000)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
            if i % 2000 == 1999:
                f.write(f"{prefix}B{i},{phone_of(who)},,-{amount},VND,topup,app,{when},S{i % 50}\n")  # invalid amount
                continue
            valid += 1
            kind, channel = CATEGORIES[i % 5], CHANNELS[i % 4]
            f.write(f"{prefix}{i},{phone_of(who)},,{amount},VND,{kind},{channel},{when},S{i % 50}\n")
    return valid


def env(args: argparse.Namespace) -> dict[str, str]:
    return {
        **os.environ,
        "LOYALTY_DATABASE_URL": args.db_url,
        "REDIS_URL": args.redis_url,
        "LOYALTY_LOG_LEVEL": "WARNING",
        "LOYALTY_BATCH_SIZE": str(args.batch_size),
        "LOYALTY_IMPORT_CHUNK_ROWS": str(args.chunk_rows),
    }


def flask(args: argparse.Namespace, *cmd: str, **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", *cmd], cwd=ROOT, env=env(args), text=True, **kw
    )


CPU: dict[str, float] = {}


def run_measured(args: argparse.Namespace, *cmd: str) -> tuple[float, int, str]:
    """Run a flask command; (seconds, peak RSS in MB, stdout). Its CPU seconds go to CPU[cmd[0]]."""
    started = time.monotonic()
    proc = flask(args, *cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read()  # read before waiting: a full pipe would block the child
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out}")
    CPU[cmd[0]] = usage.ru_utime + usage.ru_stime
    return time.monotonic() - started, usage.ru_maxrss // 1024, out


def reset(args: argparse.Namespace) -> None:
    engine = create_engine(args.db_url)
    with engine.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for (name,) in conn.execute(text("SHOW TABLES")).all():
            conn.execute(text(f"DROP TABLE `{name}`"))
    engine.dispose()
    Redis.from_url(args.redis_url).flushdb()
    for cmd in (
        ("db", "upgrade"),
        ("providers", "create", "telecom", "--name", "Mobile operator"),
        ("campaigns", "import", "docs/examples/base-earning.yaml", "--publish"),
        ("campaigns", "import", "docs/examples/telecom-topup-bonus.yaml", "--publish"),
    ):
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", *cmd],
            cwd=ROOT,
            env=env(args),
            check=True,
            capture_output=True,
        )


def count(args: argparse.Namespace, sql: str) -> int:
    engine = create_engine(args.db_url)
    with engine.connect() as conn:
        value = conn.execute(text(sql)).scalar() or 0
    engine.dispose()
    return int(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="transaction rows")
    parser.add_argument("--customers", type=int, default=1_000_000, help="customers in the migration file")
    parser.add_argument("--workers", type=int, default=2, help="crediting worker processes")
    parser.add_argument("--batch-size", type=int, default=1000, help="transactions per crediting batch")
    parser.add_argument("--chunk-rows", type=int, default=2000, help="rows per import transaction")
    parser.add_argument("--gzip", action="store_true", help="gzip both files")
    parser.add_argument("--reuse-files", action="store_true", help="keep already generated files")
    parser.add_argument("--no-credit", action="store_true", help="import only, no workers")
    parser.add_argument("--only-customers", action="store_true", help="stop after the customer migration")
    parser.add_argument(
        "--skip-customers", action="store_true", help="keep the database as it is (migrated by an earlier run)"
    )
    parser.add_argument("--prefix", default="T", help="provider_txn_id prefix (runs on one database must differ)")
    parser.add_argument("--sequential", action="store_true", help="import first, then credit (phases measured apart)")
    parser.add_argument("--check", action="store_true", help="run `ledger check` at the end (slow on big books)")
    parser.add_argument("--db-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    args = parser.parse_args()

    OUT.mkdir(parents=True, exist_ok=True)
    suffix = ".csv.gz" if args.gzip else ".csv"
    cust_file = OUT / f"customers-{args.customers}{suffix}"
    txn_file = OUT / f"transactions-{args.prefix}-{args.rows}-{args.customers}{suffix}"
    result: dict[str, Any] = {
        "rows": args.rows,
        "customers": args.customers,
        "workers": args.workers,
        "load_average_at_start": os.getloadavg(),  # other engineers share the machine
        "mariadb": server_settings(args),
    }

    t = time.monotonic()
    if not (args.reuse_files and cust_file.exists()):
        write_customers(cust_file, args.customers, args.gzip)
    if not args.only_customers and not (args.reuse_files and txn_file.exists()):
        write_transactions(txn_file, args.rows, args.customers, args.gzip, args.prefix)
    result["generate_s"] = round(time.monotonic() - t, 1)
    result["file_mb"] = {"customers": cust_file.stat().st_size >> 20}
    if txn_file.exists():
        result["file_mb"]["transactions"] = txn_file.stat().st_size >> 20
    print(f"files ready in {result['generate_s']}s: {result['file_mb']} MB", flush=True)

    if not args.skip_customers:
        reset(args)
        db0 = mariadb_cpu()
        secs, rss, out = run_measured(args, "customers", "import", str(cust_file), "--no-progress")
        result["customers_import"] = phase(args.customers, secs, CPU["customers"], mariadb_cpu() - db0, rss)
        print("customers:", result["customers_import"], out.strip().splitlines()[-1], flush=True)
    if args.only_customers:
        _finish(args, result)
        return

    workers: list[subprocess.Popen[str]] = []
    worker_cpu = 0.0
    try:
        if not args.no_credit and not args.sequential:
            workers = start_workers(args)
        started, db0 = time.monotonic(), mariadb_cpu()
        secs, rss, out = run_measured(
            args, "transactions", "import", str(txn_file), "--provider", "telecom", "--no-progress"
        )
        accepted = last_import(args)
        result["accept"] = {**phase(args.rows, secs, CPU["transactions"], mariadb_cpu() - db0, rss), **accepted}
        print("accepted:", result["accept"], flush=True)
        if not args.no_credit:
            if args.sequential:  # crediting alone, after the import
                started, db0 = time.monotonic(), mariadb_cpu()
                workers = start_workers(args)
            wait_until_credited(args, started)
            secs = time.monotonic() - started
            worker_cpu = stop_workers(workers)
            workers = []
            label = "credit" if args.sequential else "end_to_end"
            result[label] = phase(accepted["accepted"], secs, worker_cpu, mariadb_cpu() - db0)
            if not args.sequential:
                result[label]["workers_cpu_ms_per_row"] = result[label].pop("cpu_ms_per_row")
            print(f"{label}:", result[label], flush=True)
    finally:
        stop_workers(workers)
    _finish(args, result)


def phase(rows: int, secs: float, cpu: float, db_cpu: float, rss: int | None = None) -> dict[str, Any]:
    """Wall time and rate, and CPU per row: the process's own, and MariaDB's over the same period (which
    includes whatever else the server did meanwhile: an upper bound on a shared machine)."""
    out: dict[str, Any] = {
        "seconds": round(secs, 1),
        "rows_per_s": round(rows / secs) if secs else None,
        "cpu_ms_per_row": round(cpu * 1000 / max(rows, 1), 3),
        "mariadb_cpu_ms_per_row": round(db_cpu * 1000 / max(rows, 1), 3),
    }
    if rss is not None:
        out["peak_mb"] = rss
    return out


def mariadb_cpu() -> float:
    """CPU seconds the MariaDB server has used so far (0 if it cannot be read)."""
    try:
        pid = subprocess.run(["pidof", "mariadbd"], capture_output=True, text=True).stdout.split()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (IndexError, OSError, ValueError):
        return 0.0


def server_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The MariaDB settings the figures depend on most (the buffer pool holds the books or it does not)."""
    names = ("innodb_buffer_pool_size", "innodb_flush_log_at_trx_commit", "innodb_log_file_size", "version")
    engine = create_engine(args.db_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT " + ", ".join(f"@@{n}" for n in names))).one()
    engine.dispose()
    return {n: (f"{int(v) >> 20} MB" if n.endswith("size") else v) for n, v in zip(names, row, strict=True)}


def last_import(args: argparse.Namespace) -> dict[str, int]:
    engine = create_engine(args.db_url)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT rows_read, accepted, rejected FROM imports ORDER BY id DESC LIMIT 1")).one()
    engine.dispose()
    return {"rows_read": row[0], "accepted": row[1], "rejected": row[2]}


def start_workers(args: argparse.Namespace) -> list[subprocess.Popen[str]]:
    return [
        flask(args, "worker", "--no-imports", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(args.workers)
    ]


def stop_workers(workers: list[subprocess.Popen[str]]) -> float:
    """Stop the workers we started; their CPU seconds."""
    for w in workers:
        w.terminate()
    cpu = 0.0
    for w in workers:
        _, _, usage = os.wait4(w.pid, 0)
        cpu += usage.ru_utime + usage.ru_stime
    return cpu


def wait_until_credited(args: argparse.Namespace, started: float) -> None:
    while (queued := count(args, "SELECT COUNT(*) FROM transactions WHERE status = 'queued'")) > 0:
        print(f"  {queued:,} still queued after {time.monotonic() - started:.0f}s", flush=True)
        time.sleep(5)


def _finish(args: argparse.Namespace, result: dict[str, Any]) -> None:
    if args.check:
        check = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "ledger", "check"],
            cwd=ROOT,
            env=env(args),
            capture_output=True,
            text=True,
        )
        result["ledger_check"] = (check.stdout.strip() or check.stderr.strip()).splitlines()[-1]
    result["load_average_at_end"] = os.getloadavg()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
