#!/usr/bin/env python3
"""Ingestion benchmark: provider API -> MariaDB -> RQ workers -> ledger, measured end to end.

What one run does (see ``--help`` for every option):

1. Resets the bench database (drops every table, ``flask db upgrade``) and
   flushes the bench Redis database, creates 2-4 providers and a staff token,
   and publishes 20 generated campaigns (2-4 conditions each) through the API.
2. Starts ``--web-procs`` gunicorn processes and ``--workers`` RQ worker
   processes (``flask --app wsgi worker``) as subprocesses, or targets a running
   web app with ``--url``. Every process it started is stopped at the end, also
   on Ctrl-C or an error.
3. Posts ``--n`` pre-generated transactions of 100k distinct customers through
   the batch API, single POSTs, or both (``--mode``), as fast as
   ``--concurrency`` client threads go, or paced at ``--rate`` tx/s.
4. Waits until the database shows every accepted transaction ``processed``, and
   reports: HTTP acceptance rate, end-to-end rate (first POST to last
   ``processed_at``), accrual latency percentiles (``processed_at -
   received_at`` from the database), errors, CPU seconds per process kind, and
   the result of ``flask --app wsgi ledger check``.

Run from the repository root inside the virtualenv, e.g.::

    python bench/ingest.py --mode batch --n 100000 --web-procs 2 --workers 2
    python bench/ingest.py --mode single --n 20000 --concurrency 24 --web-procs 3
    python bench/ingest.py --mode single --rate 200 --duration 60
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import itertools
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent  # the app checkout the processes run from (--app-dir)
DEFAULT_DB = "mysql+pymysql://loyalty:loyalty@127.0.0.1:3306/loyalty_bench?charset=utf8mb4"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
PROTECTED_REDIS_DB = 15  # the test suite's
ICT = timezone(timedelta(hours=7))

# Valid Vietnamese mobile prefixes (checked with phonenumbers at start-up).
MOBILE_PREFIXES = (
    "090",
    "091",
    "093",
    "094",
    "096",
    "097",
    "098",
    "086",
    "088",
    "032",
    "033",
    "034",
    "035",
    "036",
    "037",
    "038",
    "039",
    "070",
    "076",
    "077",
    "078",
    "079",
    "081",
    "082",
    "083",
    "084",
    "085",
)

# code -> (name, share of traffic, categories, channels, amounts in VND)
PROVIDERS: dict[str, tuple[str, float, list[str], list[str], list[int]]] = {
    "telecom": (
        "Mobile operator",
        0.45,
        ["topup", "data_pack", "postpaid_bill"],
        ["app", "ussd", "sms", "web"],
        [10_000, 20_000, 50_000, 100_000, 100_000, 200_000, 300_000, 500_000],
    ),
    "shop": (
        "Convenience shop",
        0.25,
        ["grocery", "electronics", "fashion", "beverage"],
        ["pos", "web", "app"],
        [15_000, 35_000, 60_000, 120_000, 250_000, 480_000, 1_200_000, 3_500_000],
    ),
    "bank": (
        "Savings bank",
        0.15,
        ["card_spend", "deposit", "bill_payment"],
        ["app", "web", "pos"],
        [50_000, 150_000, 400_000, 900_000, 2_000_000, 5_000_000, 12_000_000],
    ),
    "post": (
        "Post office",
        0.15,
        ["parcel", "money_transfer", "bill_payment"],
        ["pos", "app"],
        [18_000, 25_000, 40_000, 65_000, 120_000, 300_000],
    ),
}
WEEKEND = ["saturday", "sunday"]
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday"]


# --------------------------------------------------------------------------- data generation


def attributes_for(code: str, rng: random.Random) -> dict[str, Any]:
    if code == "telecom":
        return {
            "plan": rng.choice(["prepaid", "prepaid", "postpaid"]),
            "data_gb": rng.choice([0, 1, 3, 5, 10, 30]),
            "roaming": rng.random() < 0.05,
        }
    if code == "shop":
        return {
            "store": f"S{rng.randrange(1, 120):03d}",
            "basket_items": rng.randint(1, 25),
            "member_app": rng.random() < 0.4,
        }
    if code == "bank":
        return {
            "card_type": rng.choice(["debit", "debit", "credit"]),
            "mcc": rng.choice(["5411", "5812", "4900", "5999"]),
        }
    return {"weight_kg": round(rng.uniform(0.1, 12.0), 1), "express": rng.random() < 0.3}


def attribute_conditions(code: str, rng: random.Random) -> list[dict[str, Any]]:
    """Conditions on the attributes ``attributes_for`` produces (types stay consistent)."""
    options = {
        "telecom": [
            {"name": "attributes.plan", "operator": "equal_to", "value": rng.choice(["prepaid", "postpaid"])},
            {"name": "attributes.data_gb", "operator": "greater_than_or_equal_to", "value": rng.choice([3, 5, 10])},
            {"name": "attributes.roaming", "operator": "is_false"},
        ],
        "shop": [
            {"name": "attributes.store", "operator": "starts_with", "value": rng.choice(["S0", "S1"])},
            {"name": "attributes.basket_items", "operator": "greater_than", "value": rng.choice([3, 5, 10])},
            {"name": "attributes.member_app", "operator": "is_true"},
        ],
        "bank": [
            {"name": "attributes.card_type", "operator": "equal_to", "value": rng.choice(["credit", "debit"])},
            {"name": "attributes.mcc", "operator": "is_in", "value": rng.sample(["5411", "5812", "4900", "5999"], 2)},
        ],
        "post": [
            {"name": "attributes.weight_kg", "operator": "between", "value": sorted(rng.sample([0.5, 2, 5, 10], 2))},
            {"name": "attributes.express", "operator": "is_true"},
        ],
    }
    return options[code]


def generic_conditions(code: str | None, rng: random.Random) -> list[dict[str, Any]]:
    cats, chans, amounts = (PROVIDERS[code][2], PROVIDERS[code][3], PROVIDERS[code][4]) if code else (None, None, None)
    out = [
        {
            "name": "amount",
            "operator": "greater_than_or_equal_to",
            "value": rng.choice(amounts[1:-1]) if amounts else rng.choice([50_000, 100_000, 200_000]),
        },
        {"name": "day_of_week", "operator": "is_in", "value": rng.choice([WEEKEND, WEEKDAYS, [rng.choice(WEEKDAYS)]])},
        {"name": "hour", "operator": "between", "value": rng.choice([[6, 10], [11, 14], [18, 23]])},
        {
            "name": "lifetime_points",
            "operator": rng.choice(["less_than", "greater_than_or_equal_to"]),
            "value": rng.choice([200, 1000, 5000]),
        },
        {"name": "customer_tier", "operator": "not_in", "value": ["suspended", "blocked"]},
    ]
    if cats:
        out.append({"name": "category", "operator": "is_in", "value": rng.sample(cats, rng.randint(1, 2))})
        out.append(
            {"name": "channel", "operator": "is_in", "value": rng.sample(chans, rng.randint(1, max(1, len(chans) - 1)))}
        )
    else:
        out.append({"name": "channel", "operator": "not_equal_to", "value": "ussd"})
        out.append({"name": "currency", "operator": "equal_to", "value": "VND"})
    return out


def make_campaigns(codes: list[str], rng: random.Random, count: int = 20) -> list[dict[str, Any]]:
    """``count`` realistic earning campaigns; the first is a base rate every purchase earns."""
    docs: list[dict[str, Any]] = [
        {
            "name": "Bench base earning",
            "type": "earning",
            "priority": 0,
            "stacking": "stackable",
            "rules": [
                {
                    "name": "1 point per 10,000 VND",
                    "conditions": {
                        "all": [
                            {"name": "currency", "operator": "equal_to", "value": "VND"},
                            {"name": "amount", "operator": "greater_than_or_equal_to", "value": 10_000},
                        ]
                    },
                    "actions": [{"name": "award_points_per_amount", "params": {"points": 1, "per": 10_000}}],
                }
            ],
        }
    ]
    for k in range(1, count):
        code = None if k % 6 == 0 else codes[k % len(codes)]
        pool = generic_conditions(code, rng)
        if code:
            pool.extend(attribute_conditions(code, rng))
        rng.shuffle(pool)
        want = 2 + k % 3  # 2, 3 or 4 conditions, evenly
        chosen: list[dict[str, Any]] = []
        for cond in pool:
            if len(chosen) < want and all(c["name"] != cond["name"] for c in chosen):
                chosen.append(cond)
        # Sometimes an "any" of two alternatives, as marketers write them.
        conditions: dict[str, Any] = {"all": chosen}
        if len(chosen) >= 3 and rng.random() < 0.3:
            conditions = {"all": [*chosen[:-2], {"any": chosen[-2:]}]}
        if rng.random() < 0.5:
            action = {"name": "award_points", "params": {"points": rng.choice([5, 10, 20, 50, 100])}}
        else:
            params: dict[str, Any] = {"points": rng.choice([1, 2, 3]), "per": rng.choice([5_000, 10_000, 20_000])}
            if rng.random() < 0.7:
                params["max"] = rng.choice([100, 300, 1000])
            action = {"name": "award_points_per_amount", "params": params}
        doc: dict[str, Any] = {
            "name": f"Bench {k:02d} {code or 'all'} {'/'.join(c['name'].split('.')[-1] for c in chosen)}",
            "type": "earning",
            "priority": rng.choice([10, 20, 50, 100]),
            "stacking": "exclusive" if k % 7 == 0 else "stackable",
            "rules": [{"name": f"rule {k}", "conditions": conditions, "actions": [action]}],
        }
        if code:
            doc["providers"] = [code]
        if k % 5 == 0:
            doc["starts_at"] = "2026-01-01T00:00:00+07:00"
            doc["ends_at"] = "2030-01-01T00:00:00+07:00"
        docs.append(doc)
    return docs


def make_phones(count: int, rng: random.Random) -> list[str]:
    prefixes = list(MOBILE_PREFIXES)
    try:
        import phonenumbers

        prefixes = [p for p in prefixes if phonenumbers.is_valid_number(phonenumbers.parse(p + "1234567", "VN"))]
    except ImportError:
        pass
    seen: set[str] = set()
    while len(seen) < count:
        seen.add(rng.choice(prefixes) + f"{rng.randrange(10_000_000):07d}")
    phones = sorted(seen)
    rng.shuffle(phones)
    return phones


@dataclass
class Unit:
    """One HTTP request of the load: pre-serialised, with the number of transactions it carries."""

    path: str
    body: bytes
    provider: str
    items: int


def make_transactions(
    n: int, codes: list[str], phones: list[str], run_id: str, rng: random.Random, now: datetime
) -> dict[str, list[dict[str, Any]]]:
    weights = [PROVIDERS[c][1] for c in codes]
    by_provider: dict[str, list[dict[str, Any]]] = {c: [] for c in codes}
    for i in range(n):
        code = rng.choices(codes, weights)[0]
        _name, _share, cats, chans, amounts = PROVIDERS[code]
        phone = rng.choice(phones)
        if i % 10 == 0:  # some providers export +84 numbers; same person, same customer
            phone = "+84" + phone[1:]
        occurred = now - timedelta(seconds=rng.randrange(60, 7 * 86400))
        by_provider[code].append(
            {
                "provider_txn_id": f"{run_id}-{code}-{i}",
                "customer": {"phone": phone},
                "amount": rng.choice(amounts),
                "currency": "VND",
                "category": rng.choice(cats),
                "channel": rng.choice(chans),
                "occurred_at": occurred.astimezone(ICT).isoformat(timespec="seconds"),
                "attributes": attributes_for(code, rng),
            }
        )
    return by_provider


def make_units(
    by_provider: dict[str, list[dict[str, Any]]], mode: str, batch_size: int, batch_share: float, rng: random.Random
) -> list[Unit]:
    units: list[Unit] = []
    for code, txns in by_provider.items():
        cut = len(txns) if mode == "batch" else 0 if mode == "single" else round(len(txns) * batch_share)
        for i in range(0, cut, batch_size):
            chunk = txns[i : min(i + batch_size, cut)]
            units.append(
                Unit("/api/v1/transactions/batch", json.dumps({"transactions": chunk}).encode(), code, len(chunk))
            )
        for t in txns[cut:]:
            units.append(Unit("/api/v1/transactions", json.dumps(t).encode(), code, 1))
    rng.shuffle(units)  # providers (and, in mixed mode, batches and singles) interleave
    return units


# --------------------------------------------------------------------------- processes


class Processes:
    """Subprocesses in their own process groups, stopped (TERM, then KILL) exactly once."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self._stopped = False
        atexit.register(self.stop)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: SIM115 (kept open for the child)
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def check_alive(self) -> None:
        for name, proc in self.procs:
            if proc.poll() is not None and not name.startswith("py-spy"):
                raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.log_dir / (name + '.log')}")

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        live = [(n, p) for n, p in self.procs if p.poll() is None]
        for _name, proc in live:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for _name, proc in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        for _name, proc in live:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def flask_cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check and res.returncode != 0:
        raise RuntimeError(f"flask {' '.join(args)} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res


def start_web(
    procs: Processes, env: dict[str, str], web_procs: int, web_threads: int = 1
) -> tuple[str, subprocess.Popen[bytes], list[int]]:
    """gunicorn on a free 127.0.0.1 port, as deployed; returns (url, master, worker pids) once it answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(web_procs),
        "-b",
        f"127.0.0.1:{port}",
        "--timeout",
        "120",
        "--graceful-timeout",
        "5",
    ]
    if web_threads > 1:
        argv += ["-k", "gthread", "--threads", str(web_threads)]
    master = procs.start("gunicorn", [*argv, "wsgi:app"], env)
    wait_http(url, 60, procs)
    deadline = time.monotonic() + 30
    while len(web_pids := children_of(master.pid)) < web_procs and time.monotonic() < deadline:
        time.sleep(0.2)
    return url, master, web_pids


def start_workers(
    procs: Processes, env: dict[str, str], count: int, care_worker: bool = False
) -> list[subprocess.Popen[bytes]]:
    """``count`` RQ worker processes (``flask --app wsgi worker``), each with its periodic sweeper thread;
    with ``care_worker`` they leave the care monitor to one more worker of its own (``worker care``)."""
    flask = [sys.executable, "-m", "flask", "--app", "wsgi", "worker"]
    started = [procs.start(f"worker-{k}", flask + (["--no-care"] if care_worker else []), env) for k in range(count)]
    if care_worker:
        started.append(procs.start("worker-care", [*flask, "care", "--no-imports"], env))
    return started


def last_line(text: str) -> str:
    return [line for line in text.splitlines() if line.strip()][-1].strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    out.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return out


def all_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds of every process now, with its name: to tell who else used the machine."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    head, _, rest = fh.read().rpartition(")")
                fields = rest.split()
                out[int(entry)] = (head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / tick)
            except (OSError, IndexError, ValueError):
                continue
    return out


def pids_named(comm: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as fh:
                    if fh.read().strip() == comm:
                        out.append(int(entry))
            except OSError:
                continue
    return out


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except (OSError, IndexError, ValueError):
            continue
    return total / tick


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(x) for x in fh.readline().split()[1:]]
    tick = os.sysconf("SC_CLK_TCK")
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already in user
    return (total - idle) / tick, total / tick


def wait_http(url: str, timeout: float, procs: Processes | None) -> None:
    deadline = time.monotonic() + timeout
    u = urlsplit(url)
    while time.monotonic() < deadline:
        if procs:
            procs.check_alive()
        try:
            conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer /healthz within {timeout:.0f} s")


# --------------------------------------------------------------------------- database and redis


def db_connect(url: str) -> Any:
    import pymysql
    from sqlalchemy.engine import make_url

    u = make_url(url)
    return pymysql.connect(
        host=u.host or "127.0.0.1",
        port=u.port or 3306,
        user=u.username,
        password=u.password or "",
        database=u.database,
        charset="utf8mb4",
        autocommit=True,
    )


def exclusive_use(url: str) -> Any:
    """Hold a MariaDB named lock for the whole run: two runs on one database would wreck each other."""
    from sqlalchemy.engine import make_url

    conn = db_connect(url)
    with conn.cursor() as cur:
        cur.execute("SELECT GET_LOCK(%s, 0)", (f"loyalty-bench:{make_url(url).database}",))
        if cur.fetchone()[0] != 1:
            conn.close()
            raise SystemExit(
                f"another bench run is using {make_url(url).database}; wait for it or use another --db-url"
            )
    return conn  # the lock lives as long as this connection


def reset_database(url: str, allow_any: bool) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database or ""
    if "bench" not in name and not allow_any:
        raise SystemExit(
            f"refusing to drop the tables of database '{name}' (no 'bench' in its name); "
            "pass --allow-reset-any-db if you mean it"
        )
    conn = db_connect(url)
    with conn.cursor() as cur:
        cur.execute("SHOW TABLES")
        tables = [r[0] for r in cur.fetchall()]
        cur.execute("SET FOREIGN_KEY_CHECKS=0")
        for t in tables:
            cur.execute(f"DROP TABLE IF EXISTS `{t}`")
        cur.execute("SET FOREIGN_KEY_CHECKS=1")
    conn.close()


def flush_redis(url: str) -> None:
    from redis import Redis

    r = Redis.from_url(url)
    db = r.connection_pool.connection_kwargs.get("db", 0)
    if int(db) == PROTECTED_REDIS_DB:
        raise SystemExit(f"refusing to flush Redis db {db}: the test suite uses it; pick another --redis-url")
    r.flushdb()
    r.close()


def iso_db(dt: datetime) -> str:
    return dt.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def queued_count(conn: Any, since: datetime) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT COUNT(*) FROM transactions WHERE status='queued' AND received_at >= %s", (iso_db(since),))
        return int(cur.fetchone()[0])


def status_counts(conn: Any, since: datetime, prefix: str) -> dict[str, int]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT status, COUNT(*) FROM transactions WHERE received_at >= %s AND provider_txn_id LIKE %s "
            "GROUP BY status",
            (iso_db(since), prefix + "%"),
        )
        return {s: int(c) for s, c in cur.fetchall()}


def latencies(conn: Any, since: datetime, prefix: str) -> tuple[list[float], datetime | None]:
    with conn.cursor() as cur:
        cur.execute(
            "SELECT TIMESTAMPDIFF(MICROSECOND, received_at, processed_at), processed_at FROM transactions "
            "WHERE received_at >= %s AND provider_txn_id LIKE %s AND status='processed'",
            (iso_db(since), prefix + "%"),
        )
        rows = cur.fetchall()
    lat = sorted(r[0] / 1e6 for r in rows)
    last = max((r[1] for r in rows), default=None)
    return lat, (last.replace(tzinfo=UTC) if last else None)


STATUS_VARS = (
    "Com_commit",
    "Com_rollback",
    "Com_rollback_to_savepoint",
    "Innodb_row_lock_waits",
    "Innodb_row_lock_time",
    "Innodb_deadlocks",
    "Innodb_os_log_fsyncs",
    "Questions",
    # rows written (internal temporary tables included): what MariaDB's CPU per transaction mostly follows
    "Handler_write",
    "Handler_update",
)


def server_status(conn: Any) -> dict[str, int]:
    """MariaDB global counters (server-wide: other clients of the server count too)."""
    names = ",".join(f"'{v}'" for v in STATUS_VARS)
    with conn.cursor() as cur:
        cur.execute(f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names})")
        return {k: int(v) for k, v in cur.fetchall()}


def redis_commands(url: str) -> int:
    """Commands the Redis server has processed so far (server-wide, all databases)."""
    from redis import Redis

    r = Redis.from_url(url)
    try:
        return int(r.info("stats")["total_commands_processed"])
    finally:
        r.close()


def pct(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


# --------------------------------------------------------------------------- load


@dataclass
class ClientStats:
    requests: int = 0
    accepted: int = 0
    duplicate: int = 0
    item_errors: int = 0
    http_errors: int = 0
    exceptions: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)
    request_seconds: list[float] = field(default_factory=list)
    by_kind: Counter[str] = field(default_factory=Counter)
    first_send: float = math.inf
    last_done: float = 0.0
    behind_schedule: float = 0.0  # worst lateness against --rate, seconds
    retries: int = 0
    retry_reasons: Counter[str] = field(default_factory=Counter)


def _reason(status: int, payload: bytes) -> str:
    if status == 0:
        return payload.decode(errors="replace").split(":")[0]
    try:
        return f"{status} {json.loads(payload)['error']['code']}"
    except (ValueError, KeyError, TypeError):
        return str(status)


def run_load(
    url: str,
    units: list[Unit],
    keys: dict[str, str],
    concurrency: int,
    rate: float | None,
    timeout: float,
    stop: threading.Event,
    per_thread: list[ClientStats] | None = None,
    retries: int = 0,
) -> ClientStats:
    """Send every unit once; ``per_thread`` (if given) receives each thread's live counters."""
    u = urlsplit(url)
    headers = {
        code: {"Authorization": f"Bearer {key}", "Content-Type": "application/json"} for code, key in keys.items()
    }
    # Scheduled send time of each unit (seconds after start) when paced.
    offsets: list[float] = []
    if rate:
        sent = 0
        for unit in units:
            offsets.append(sent / rate)
            sent += unit.items
    counter = itertools.count()
    per_thread = [] if per_thread is None else per_thread
    start = time.time() + 0.05

    def send(conn: http.client.HTTPConnection, unit: Unit) -> tuple[int, bytes]:
        conn.request("POST", unit.path, body=unit.body, headers=headers[unit.provider])
        resp = conn.getresponse()
        payload = resp.read()
        if resp.getheader("connection", "").lower() == "close":
            conn.close()
        return resp.status, payload

    def worker() -> None:
        st = ClientStats()
        per_thread.append(st)
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
        while not stop.is_set():
            i = next(counter)
            if i >= len(units):
                break
            unit = units[i]
            due = start + (offsets[i] if rate else 0.0)
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            elif rate:
                st.behind_schedule = max(st.behind_schedule, -delay)
            t0 = time.time()
            st.first_send = min(st.first_send, t0)
            for attempt in range(retries + 1):
                try:
                    status, payload = send(conn, unit)
                except (OSError, http.client.HTTPException) as exc:
                    conn.close()
                    status, payload = 0, f"{type(exc).__name__}: {exc}".encode()
                st.statuses[status] += 1
                retryable = status == 503 or (status == 409 and b'_race"' in payload) or status == 0
                if not retryable or attempt == retries:
                    break
                st.retries += 1
                st.retry_reasons[_reason(status, payload)] += 1
                time.sleep(0.05 * (attempt + 1))
            t1 = time.time()
            st.last_done = max(st.last_done, t1)
            st.requests += 1
            st.request_seconds.append(t1 - t0)
            kind = "batch" if unit.path.endswith("/batch") else "single"
            if status in (200, 202):
                if kind == "batch":
                    data = json.loads(payload)
                    st.accepted += data.get("accepted", 0)
                    st.duplicate += data.get("duplicate", 0)
                    st.item_errors += data.get("error", 0)
                    if data.get("error") and len(st.samples) < 5:
                        bad = next(r for r in data["results"] if r["status"] == "error")
                        st.samples.append(json.dumps(bad)[:300])
                    st.by_kind[kind] += data.get("accepted", 0)
                elif status == 202:
                    st.accepted += 1
                    st.by_kind[kind] += 1
                else:
                    st.duplicate += 1
            else:
                st.item_errors += unit.items
                if status == 0:
                    st.exceptions += 1
                else:
                    st.http_errors += 1
                if len(st.samples) < 5:
                    st.samples.append(f"HTTP {status}: {payload[:300]!r}")
        conn.close()

    threads = [threading.Thread(target=worker, name=f"client-{k}", daemon=True) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    total = ClientStats()
    for st in per_thread:
        for name in ("requests", "accepted", "duplicate", "item_errors", "http_errors", "exceptions", "retries"):
            setattr(total, name, getattr(total, name) + getattr(st, name))
        total.statuses.update(st.statuses)
        total.retry_reasons.update(st.retry_reasons)
        total.by_kind.update(st.by_kind)
        total.samples.extend(st.samples)
        total.request_seconds.extend(st.request_seconds)
        total.first_send = min(total.first_send, st.first_send)
        total.last_done = max(total.last_done, st.last_done)
        total.behind_schedule = max(total.behind_schedule, st.behind_schedule)
    total.request_seconds.sort()
    return total


def post_json(url: str, path: str, token: str, body: bytes, ctype: str = "application/json") -> tuple[int, bytes]:
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)
    conn.request("POST", path, body=body, headers={"Authorization": f"Bearer {token}", "Content-Type": ctype})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


# --------------------------------------------------------------------------- profiling


LINE_NO = re.compile(r":\d+\)$")


def summarize_collapsed(path: Path, focus: str, top: int = 30) -> list[str]:
    """Where the time under ``focus`` goes, from a py-spy ``--format raw`` (collapsed stacks) file.

    Shares are of the main thread's samples (its wall time with ``--idle``); frames
    are grouped per function (line numbers dropped) and counted once per sample.
    """
    inclusive: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    main = busy = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        frames = [LINE_NO.sub(")", f) for f in stack.split(";")]
        if not any(f.startswith("_run_module_as_main") for f in frames):
            continue  # helper threads (sweeper, pub/sub listener)
        count = int(n)
        main += count
        at = next((i for i, f in enumerate(frames) if f.startswith(focus)), None)
        if at is None:
            continue
        busy += count
        for f in set(frames[at:]):
            inclusive[f] += count
        leaf[frames[-1]] += count
    if not main:
        return ["(no samples)"]
    out = [f"{main} main-thread samples; {100 * busy / main:.1f}% inside {focus}; inclusive share of all samples:"]
    out += [f"  {100 * c / main:5.1f}%  {f}" for f, c in inclusive.most_common(top)]
    out.append("self (leaf frames):")
    out += [f"  {100 * c / main:5.1f}%  {f}" for f, c in leaf.most_common(15)]
    return out


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/ingest.py",
        description=__doc__.split("\n\n")[0] + " Run it from the repository root, in the project's virtualenv.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    g = p.add_argument_group("load")
    g.add_argument(
        "--mode",
        choices=["batch", "single", "mixed"],
        default="batch",
        help="batch: POST /transactions/batch; single: POST /transactions one by one; "
        "mixed: both at once (see --mixed-batch-share)",
    )
    g.add_argument(
        "--n",
        type=int,
        default=None,
        help="transactions to post (default: 100000 batch, 6000 single, 10000 mixed, "
        "or --rate x --duration when paced; about a minute each)",
    )
    g.add_argument("--batch-size", type=int, default=500, help="transactions per batch request (API max 1000)")
    g.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="client threads, each with its own keep-alive connection (default: 4 batch, 24 single/mixed)",
    )
    g.add_argument(
        "--rate", type=float, default=None, help="pace the load at this many tx/s (default: as fast as possible)"
    )
    g.add_argument("--duration", type=float, default=60.0, help="with --rate and no --n: seconds of paced load")
    g.add_argument(
        "--mixed-batch-share", type=float, default=0.5, help="mixed mode: share of transactions sent in batches"
    )
    g.add_argument("--customers", type=int, default=100_000, help="distinct customers (phone numbers) to draw from")
    g.add_argument("--providers", type=int, default=4, choices=[2, 3, 4], help="providers to create and post as")
    g.add_argument("--campaigns", type=int, default=20, help="published campaigns")
    g.add_argument(
        "--warmup",
        type=int,
        default=200,
        help="single POSTs sent (and credited) before the clock starts, to warm pools and rule caches",
    )
    g.add_argument("--seed", type=int, default=20261123, help="random seed of the generated data")
    g.add_argument(
        "--retries",
        type=int,
        default=3,
        help="re-send a request that failed as a whole with 503 or 409 *_race (the API asks clients to "
        "retry those), up to this many times; retries are counted and reported, 0 shows raw failures",
    )
    g.add_argument("--request-timeout", type=float, default=120.0, help="client socket timeout, seconds")

    g = p.add_argument_group("system under test")
    g.add_argument(
        "--url",
        default=None,
        help="target an already running web app at this URL instead of starting gunicorn "
        "(it must use the same --db-url/--redis-url; restart its workers after the reset "
        "or let this script start them with --workers)",
    )
    g.add_argument(
        "--app-dir",
        type=Path,
        default=ROOT,
        help="checkout of the app to run (e.g. a 'git worktree' of a fixed commit, so edits in progress "
        "in this tree do not change what is measured)",
    )
    g.add_argument("--web-procs", type=int, default=2, help="gunicorn worker processes (-w)")
    g.add_argument(
        "--web-threads",
        type=int,
        default=1,
        help="threads per gunicorn process; >1 uses the gthread worker (keep-alive), 1 the sync worker",
    )
    g.add_argument("--workers", type=int, default=2, help="RQ worker processes ('flask --app wsgi worker') to start")
    g.add_argument(
        "--partitions", type=int, default=None, help="LOYALTY_PARTITIONS for the started processes (app default 8)"
    )
    g.add_argument(
        "--app-batch-size",
        type=int,
        default=None,
        help="LOYALTY_BATCH_SIZE (ids per credit transaction) for the workers (app default 500)",
    )
    g.add_argument(
        "--db-url",
        default=os.environ.get("LOYALTY_BENCH_DATABASE_URL", DEFAULT_DB),
        help="bench database (its tables are dropped!); env LOYALTY_BENCH_DATABASE_URL",
    )
    g.add_argument(
        "--redis-url",
        default=os.environ.get("LOYALTY_BENCH_REDIS_URL", DEFAULT_REDIS),
        help="bench Redis database (flushed; db 15 is refused); env LOYALTY_BENCH_REDIS_URL",
    )
    g.add_argument(
        "--no-reset",
        action="store_true",
        help="keep the database and Redis as they are (providers and campaigns are still added)",
    )
    g.add_argument(
        "--allow-reset-any-db",
        action="store_true",
        help="allow dropping tables of a database without 'bench' in its name",
    )

    g = p.add_argument_group("measurement and output")
    g.add_argument(
        "--drain-timeout",
        type=float,
        default=300.0,
        help="seconds to wait for every accepted transaction to be processed",
    )
    g.add_argument("--poll", type=float, default=0.25, help="seconds between database polls while draining")
    g.add_argument(
        "--py-spy",
        metavar="DIR",
        default=None,
        help="record py-spy profiles (collapsed stacks) of one web and one worker process during the load into DIR, "
        "and print their hottest frames (needs py-spy and ptrace rights)",
    )
    g.add_argument(
        "--py-spy-mode",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: sample waiting threads too (py-spy --idle), so shares are of elapsed time; cpu: on-CPU only",
    )
    g.add_argument(
        "--log-dir", default=None, help="where the started processes log (default: a new /tmp/loyalty-bench-* dir)"
    )
    g.add_argument(
        "--json", metavar="PATH", default=None, help="also write the results as JSON to PATH ('-' for stdout)"
    )
    g.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before the load, wait up to this long for the rest of the machine to be idle (under 10%% busy), "
        "since other work on the machine skews every figure",
    )
    g.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    args = p.parse_args(argv)
    if args.concurrency is None:
        args.concurrency = 4 if args.mode == "batch" else 24
    if args.n is None:
        args.n = (
            int(args.rate * args.duration)
            if args.rate
            else {"batch": 100_000, "single": 6_000, "mixed": 10_000}[args.mode]
        )
    if not 1 <= args.batch_size <= 1000:
        p.error("--batch-size must be 1..1000")
    if args.n < 1 or args.concurrency < 1:
        p.error("--n and --concurrency must be positive")
    return args


def say(args: argparse.Namespace, msg: str) -> None:
    if not args.quiet:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    global ROOT
    args = parse_args(argv)
    ROOT = args.app_dir.resolve()
    if not (ROOT / "wsgi.py").exists():
        raise SystemExit(f"{ROOT} has no wsgi.py; --app-dir must be a checkout of the app")

    return supervised(args, run, "loyalty-bench-")


def supervised(args: argparse.Namespace, run: Any, prefix: str) -> int:
    """Run a bench's ``run(args, procs, log_dir)`` holding the database, and stop every process it started
    however it ends (SIGTERM and Ctrl-C included)."""

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_term)
    log_dir = Path(args.log_dir or tempfile.mkdtemp(prefix=prefix))
    log_dir.mkdir(parents=True, exist_ok=True)
    guard = exclusive_use(args.db_url)
    procs = Processes(log_dir)
    try:
        return run(args, procs, log_dir)
    except KeyboardInterrupt:
        print("interrupted; stopping the processes", file=sys.stderr)
        return 130
    finally:
        procs.stop()
        guard.close()


def run(args: argparse.Namespace, procs: Processes, log_dir: Path) -> int:
    env = dict(os.environ)
    env.update(LOYALTY_DATABASE_URL=args.db_url, REDIS_URL=args.redis_url, PYTHONUNBUFFERED="1")
    if args.partitions:
        env["LOYALTY_PARTITIONS"] = str(args.partitions)
    if args.app_batch_size:
        env["LOYALTY_BATCH_SIZE"] = str(args.app_batch_size)
    rng = random.Random(args.seed)
    run_id = f"b{int(time.time())}"

    # Generate first: the client's own CPU must not overlap the measurement.
    say(args, f"generating {args.n} transactions over {args.customers} customers ({args.mode}) ...")
    codes = list(PROVIDERS)[: args.providers]
    phones = make_phones(args.customers, rng)
    now = datetime.now(UTC)
    by_provider = make_transactions(args.n, codes, phones, run_id, rng, now)
    units = make_units(by_provider, args.mode, args.batch_size, args.mixed_batch_share, rng)
    warm = make_transactions(args.warmup, codes, phones, run_id + "w", rng, now) if args.warmup else {}
    warm_units = make_units(warm, "single", 1, 0.0, rng) if args.warmup else []
    campaigns = make_campaigns(codes, rng, args.campaigns)

    # Reset and set up.
    if not args.no_reset:
        say(args, "resetting the bench database and Redis ...")
        reset_database(args.db_url, args.allow_reset_any_db)
        flush_redis(args.redis_url)
    flask_cli(env, "db", "upgrade")
    keys: dict[str, str] = {}
    suffix = "" if not args.no_reset else f"-{run_id}"
    for code in codes:
        res = flask_cli(env, "providers", "create", f"{code}{suffix}"[:32], "--name", PROVIDERS[code][0])
        keys[code] = last_line(res.stdout)
    staff = last_line(flask_cli(env, "staff-token", "create", "bench").stdout)

    # Start the system under test.
    url = args.url
    web_pids: list[int] = []
    if url is None:
        url, _master, web_pids = start_web(procs, env, args.web_procs, args.web_threads)
    else:
        wait_http(url, 10, None)
    say(args, f"web at {url} ({'started, ' + str(args.web_procs) + ' procs' if not args.url else 'external'})")

    # Campaigns through the management API (validated and published like a marketer's).
    for doc in campaigns:
        if "providers" in doc:
            doc["providers"] = [f"{c}{suffix}"[:32] for c in doc["providers"]]
        status, body = post_json(url, "/api/v1/campaigns?publish=true", staff, json.dumps(doc).encode())
        if status != 201:
            raise RuntimeError(f"campaign '{doc['name']}' rejected: {status} {body[:500]!r}")
    say(args, f"published {len(campaigns)} campaigns; starting {args.workers} workers")

    worker_procs = start_workers(procs, env, args.workers)
    time.sleep(1.0)
    procs.check_alive()

    conn = db_connect(args.db_url)
    stop = threading.Event()
    if warm_units:
        say(args, f"warm-up: {len(warm_units)} single POSTs")
        t_warm = datetime.now(UTC) - timedelta(seconds=1)
        warm_stats = run_load(
            url, warm_units, keys, min(8, args.concurrency), None, args.request_timeout, stop, retries=args.retries
        )
        deadline = time.monotonic() + 120
        while (args.workers or args.url) and queued_count(conn, t_warm) and time.monotonic() < deadline:
            procs.check_alive()
            time.sleep(0.2)
        if warm_stats.item_errors:
            say(args, f"warm-up errors: {warm_stats.samples[:3]}")

    if args.wait_idle:
        deadline = time.monotonic() + args.wait_idle
        while True:
            a = machine_cpu()
            time.sleep(2.0)
            b = machine_cpu()
            busy = (b[0] - a[0]) / max(1e-9, b[1] - a[1])
            if busy < 0.10 or time.monotonic() > deadline:
                say(args, f"machine {100 * busy:.0f}% busy before the load")
                break

    # Profilers, if asked.
    spies: list[tuple[str, Path, subprocess.Popen[bytes]]] = []
    if args.py_spy:
        spy_dir = Path(args.py_spy)
        spy_dir.mkdir(parents=True, exist_ok=True)
        targets = ([("web", web_pids[0])] if web_pids else []) + [("worker", p.pid) for p in worker_procs[:1]]
        for kind, pid in targets:
            out = spy_dir / f"{kind}-{args.mode}.txt"
            spy = [
                "py-spy",
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--rate",
                "97",
                "--nonblocking",
                "-o",
                str(out),
            ]
            if args.py_spy_mode == "wall":
                spy.append("--idle")
            proc = procs.start(f"py-spy-{kind}", spy, env)
            spies.append((kind, out, proc))
        time.sleep(1.0)

    # CPU accounting per kind of process.
    groups = {
        "web": web_pids,
        "workers": [p.pid for p in worker_procs],
        "mariadbd": pids_named("mariadbd") or pids_named("mysqld"),
        "redis": pids_named("redis-server"),
        "client": [os.getpid()],
    }
    cpu0 = {k: cpu_seconds(v) for k, v in groups.items()}
    every0 = all_cpu()
    machine0 = machine_cpu()
    status0 = server_status(conn)
    redis0 = redis_commands(args.redis_url)

    # Progress reporter.
    monitor_stop = threading.Event()
    sent_box: dict[str, float] = {}

    live: list[ClientStats] = []

    def monitor() -> None:
        mconn = db_connect(args.db_url)
        before = 0
        while not monitor_stop.wait(5.0):
            try:
                q = queued_count(mconn, since)
                acc = sum(st.accepted for st in list(live))
                say(
                    args,
                    f"  {time.time() - sent_box['t']:5.1f}s  accepted {acc:,} (+{(acc - before) / 5:,.0f}/s)  "
                    f"queued in DB {q:,}",
                )
                before = acc
            except Exception as exc:  # progress only
                say(args, f"  monitor: {exc}")
        mconn.close()

    since = datetime.now(UTC)
    mon = threading.Thread(target=monitor, daemon=True)
    sent_box["t"] = time.time()
    mon.start()
    say(
        args,
        f"load: {args.n} tx in {len(units)} requests, {args.concurrency} threads"
        + (f", paced at {args.rate:g} tx/s" if args.rate else ""),
    )
    stats = run_load(url, units, keys, args.concurrency, args.rate, args.request_timeout, stop, live, args.retries)
    t_acked = time.time()
    say(args, f"load done in {stats.last_done - stats.first_send:.1f}s; waiting for the workers ...")

    deadline = time.monotonic() + args.drain_timeout
    drained = False
    while time.monotonic() < deadline:
        procs.check_alive()
        if queued_count(conn, since) == 0:
            drained = True
            break
        time.sleep(args.poll)
    t_drained = time.time()
    cpu1 = {k: cpu_seconds(v) for k, v in groups.items()}
    every1 = all_cpu()
    ours = {pid for pids in groups.values() for pid in pids}
    strangers = sorted(
        ((cpu - every0.get(pid, ("", 0.0))[1], pid, name) for pid, (name, cpu) in every1.items() if pid not in ours),
        reverse=True,
    )
    machine1 = machine_cpu()
    status1 = server_status(conn)
    redis1 = redis_commands(args.redis_url)
    monitor_stop.set()

    for _kind, _out, proc in spies:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for _kind, _out, proc in spies:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()

    counts = status_counts(conn, since, run_id + "-")
    lat, last_processed = latencies(conn, since, run_id + "-")
    conn.close()
    first_send = datetime.fromtimestamp(stats.first_send, UTC)
    http_seconds = stats.last_done - stats.first_send
    e2e_seconds = (last_processed - first_send).total_seconds() if last_processed else None
    processed = counts.get("processed", 0)
    ledger = flask_cli(env, "ledger", "check", check=False)
    ledger_text = (ledger.stdout + ledger.stderr).strip()
    wall = t_drained - stats.first_send

    result: dict[str, Any] = {
        "mode": args.mode,
        "n": args.n,
        "batch_size": args.batch_size if args.mode != "single" else None,
        "concurrency": args.concurrency,
        "rate_target": args.rate,
        "web_procs": args.web_procs if not args.url else None,
        "web_threads": args.web_threads if not args.url else None,
        "workers": args.workers,
        "partitions": int(env.get("LOYALTY_PARTITIONS", "8")),
        "app_batch_size": int(env.get("LOYALTY_BATCH_SIZE", "500")),
        "requests": stats.requests,
        "accepted": stats.accepted,
        "accepted_by_kind": dict(stats.by_kind),
        "duplicate": stats.duplicate,
        "errors": stats.item_errors,
        "http_errors": stats.http_errors,
        "client_exceptions": stats.exceptions,
        "http_statuses": {str(k): v for k, v in sorted(stats.statuses.items())},
        "retries": stats.retries,
        "retry_reasons": dict(stats.retry_reasons),
        "error_samples": stats.samples[:5],
        "http_seconds": round(http_seconds, 3),
        "http_rate": round(stats.accepted / http_seconds, 1) if http_seconds > 0 else None,
        "request_p50_ms": round(1000 * (pct(stats.request_seconds, 50) or 0), 1),
        "request_p99_ms": round(1000 * (pct(stats.request_seconds, 99) or 0), 1),
        "pacing_worst_lateness_s": round(stats.behind_schedule, 3) if args.rate else None,
        "db_status": counts,
        "processed": processed,
        "drained": drained,
        "e2e_seconds": round(e2e_seconds, 3) if e2e_seconds else None,
        "e2e_rate": round(processed / e2e_seconds, 1) if e2e_seconds else None,
        "latency_p50_s": pct(lat, 50),
        "latency_p95_s": pct(lat, 95),
        "latency_p99_s": pct(lat, 99),
        "latency_max_s": lat[-1] if lat else None,
        "cpu_seconds": {k: round(cpu1[k] - cpu0[k], 1) for k in groups},
        "cpu_cores_busy": {k: round((cpu1[k] - cpu0[k]) / wall, 2) for k in groups} if wall > 0 else {},
        "machine_cores": os.cpu_count(),
        "machine_busy_share": round((machine1[0] - machine0[0]) / max(1e-9, machine1[1] - machine0[1]), 3),
        "other_top": [f"{name}[{pid}] {secs:.1f}s" for secs, pid, name in strangers[:4] if secs >= 0.5],
        "other_cores_busy": round((machine1[0] - machine0[0] - sum(cpu1[k] - cpu0[k] for k in groups)) / wall, 2)
        if wall > 0
        else None,
        "mariadb_status_delta": {k: status1.get(k, 0) - status0.get(k, 0) for k in STATUS_VARS},
        "redis_commands": redis1 - redis0,
        "ledger_check": {"exit_code": ledger.returncode, "output": ledger_text[-2000:]},
        "log_dir": str(log_dir),
        "drain_wait_after_last_ack_s": round(t_drained - t_acked, 2),
    }
    print_report(result)
    for kind, out, _proc in spies:
        print(f"\npy-spy {kind} ({out}):")
        focus = "Flask.wsgi_app" if kind == "web" else "drain (workers/drain.py)"
        print("\n".join(summarize_collapsed(out, focus)) if out.exists() else "  (no output; see the py-spy log)")
    if args.json:
        text = json.dumps(result, indent=2, default=str)
        if args.json == "-":
            print(text)
        else:
            Path(args.json).write_text(text + "\n")
    ok = drained and not stats.item_errors and ledger.returncode == 0 and processed == stats.accepted
    return 0 if ok else 1


def fmt(v: Any, unit: str = "", digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}{unit}"
    return f"{v:,}{unit}"


def print_report(r: dict[str, Any]) -> None:
    ledger_output = r["ledger_check"]["output"]
    ledger_last = ledger_output.splitlines()[-1] if ledger_output else ""
    setup = (
        f"mode={r['mode']} n={r['n']:,} concurrency={r['concurrency']}"
        + (f" batch={r['batch_size']}" if r["batch_size"] else "")
        + (f" rate={r['rate_target']:g}/s" if r["rate_target"] else "")
        + f" web_procs={r['web_procs'] if r['web_procs'] is not None else 'external'}"
        + (f"x{r['web_threads']}thr" if (r["web_threads"] or 1) > 1 else "")
        + f" workers={r['workers']} partitions={r['partitions']}"
    )
    rows = [
        ("accepted / errors / duplicates", f"{r['accepted']:,} / {r['errors']:,} / {r['duplicate']:,}"),
        ("requests / retried", f"{r['requests']:,} / {r['retries']:,} {r['retry_reasons'] or ''}"),
        (
            "HTTP acceptance rate",
            f"{fmt(r['http_rate'], ' tx/s', 1)}  ({fmt(r['http_seconds'], ' s', 1)}; "
            f"request p50 {r['request_p50_ms']} ms, p99 {r['request_p99_ms']} ms)",
        ),
        (
            "end-to-end rate",
            f"{fmt(r['e2e_rate'], ' tx/s', 1)}  ({fmt(r['e2e_seconds'], ' s', 1)} first POST -> last processed)",
        ),
        ("processed in DB", f"{r['processed']:,}  {r['db_status']}{'' if r['drained'] else '  NOT DRAINED'}"),
        (
            "accrual latency p50/p95/p99/max",
            " / ".join(fmt(r[k], " s") for k in ("latency_p50_s", "latency_p95_s", "latency_p99_s", "latency_max_s")),
        ),
        (
            "CPU cores busy (web/workers/db/redis/client/other)",
            " / ".join(
                f"{r['cpu_cores_busy'].get(k, 0):.2f}" for k in ("web", "workers", "mariadbd", "redis", "client")
            )
            + f" / other {r['other_cores_busy']:.2f}"
            + f"  (machine {100 * r['machine_busy_share']:.0f}% of {r['machine_cores']} cores)",
        ),
        (
            "MariaDB (server-wide) commits / row-lock waits / deadlocks",
            "{Com_commit:,} / {Innodb_row_lock_waits:,} ({Innodb_row_lock_time:,} ms) / {Innodb_deadlocks}".format(
                **r["mariadb_status_delta"]
            ),
        ),
        (
            "server-wide per transaction: SQL statements / commits / Redis commands",
            " / ".join(
                f"{v / max(1, r['accepted']):.2f}"
                for v in (
                    r["mariadb_status_delta"]["Questions"],
                    r["mariadb_status_delta"]["Com_commit"],
                    r["redis_commands"],
                )
            ),
        ),
        (
            "server-wide per transaction: rows written / updated (Handler_write / Handler_update)",
            " / ".join(
                f"{r['mariadb_status_delta'].get(k, 0) / max(1, r['accepted']):.2f}"
                for k in ("Handler_write", "Handler_update")
            ),
        ),
        ("ledger check", f"exit {r['ledger_check']['exit_code']}: {ledger_last}"),
    ]
    if r["pacing_worst_lateness_s"] is not None:
        rows.insert(2, ("pacing: worst lateness", fmt(r["pacing_worst_lateness_s"], " s")))
    width = max(len(k) for k, _ in rows)
    print(f"\n== loyalty ingest bench: {setup}")
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    if (r["other_cores_busy"] or 0) > 0.15:
        print(
            f"  WARNING: other processes used {r['other_cores_busy']:.2f} cores during the run; figures are disturbed"
            f" (top CPU users still alive: {', '.join(r['other_top']) or 'none; they have exited'})"
        )
    if r["error_samples"]:
        print("  error samples:")
        for s in r["error_samples"]:
            print(f"    {s}")
    print(f"  logs: {r['log_dir']}")


if __name__ == "__main__":
    sys.exit(main())
