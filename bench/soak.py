#!/usr/bin/env python3
"""Soak: minutes of paced provider traffic with web and workers running as in production.

Issue 8 asks for a bounded soak at the spine's rate (200 tx/s): no errors, no
memory growth, stable latency, invariants holding at the end. One run:

1. Resets the soak database and Redis database (the same guards as
   ``bench/ingest.py``: a database without ``bench`` in its name is refused,
   Redis db 15 is refused, a MariaDB named lock refuses a second run), creates
   the providers and publishes the 20 generated campaigns of ``ingest.py``.
2. Starts gunicorn (``--web-procs`` x ``--web-threads``) on a free 127.0.0.1
   port and ``--workers`` RQ worker processes (``flask --app wsgi worker``, each
   with its periodic sweeper thread), exactly as ``ingest.py`` does.
3. Sends ``--rate`` tx/s for ``--duration`` seconds, in windows of ``--window``
   seconds: single POSTs and batches interleaved (``--batch-share`` of the
   transactions travel in batches of ``--batch-size``). Each window is a
   bounded list of pre-generated requests sent by ``ingest.run_load``; a
   watchdog stops the load at ``duration + grace`` whatever happens. Traffic
   goes only to the gunicorn it started on 127.0.0.1.
4. Samples the RSS of every process it started every ``--sample-every``
   seconds, waits for the workers to credit everything, reads each window's
   accrual latency (``processed_at - received_at``) from MariaDB, and runs
   ``flask --app wsgi ledger check``.

It prints, per window: achieved rate, errors, request latency p50/p95/p99,
accrual latency p50/p95/p99, backlog, RSS of web and workers, and the share of
the machine used by other processes; then the verdicts. Exit 0 when nothing
failed, everything accepted was credited and the ledger check passed.

    python bench/soak.py                                  # 10 minutes at 200 tx/s
    python bench/soak.py --duration 60 --rate 100         # a one-minute smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest  # the sibling bench script: data generation, processes, load loop)

DEFAULT_DB = "mysql+pymysql://loyalty:loyalty@127.0.0.1:3306/loyalty_bench_soak?charset=utf8mb4"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/soak.py",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--duration", type=float, default=600.0, help="seconds of paced load")
    p.add_argument("--rate", type=float, default=200.0, help="transactions per second offered")
    p.add_argument("--window", type=float, default=60.0, help="seconds per reporting window")
    p.add_argument("--batch-share", type=float, default=0.5, help="share of transactions sent in batch requests")
    p.add_argument("--batch-size", type=int, default=20, help="transactions per batch request")
    p.add_argument("--concurrency", type=int, default=16, help="client threads (keep-alive connections)")
    p.add_argument("--customers", type=int, default=100_000, help="distinct customers")
    p.add_argument("--web-procs", type=int, default=2, help="gunicorn processes")
    p.add_argument("--web-threads", type=int, default=8, help="threads per gunicorn process (gthread when > 1)")
    p.add_argument("--workers", type=int, default=2, help="RQ worker processes")
    p.add_argument(
        "--care-worker", action="store_true", help="crediting workers --no-care, plus one 'flask worker care'"
    )
    p.add_argument("--partitions", type=int, default=None, help="LOYALTY_PARTITIONS (app default 8)")
    p.add_argument("--retries", type=int, default=3, help="re-sends of a request answered 503 / 409 *_race")
    p.add_argument("--request-timeout", type=float, default=60.0, help="client socket timeout, seconds")
    p.add_argument("--sample-every", type=float, default=5.0, help="seconds between RSS samples")
    p.add_argument("--drain-timeout", type=float, default=300.0, help="seconds to wait for the backlog to clear")
    p.add_argument("--seed", type=int, default=20261128)
    p.add_argument(
        "--db-url",
        default=os.environ.get("LOYALTY_BENCH_DATABASE_URL", DEFAULT_DB),
        help="soak database (its tables are dropped!); env LOYALTY_BENCH_DATABASE_URL",
    )
    p.add_argument(
        "--redis-url",
        default=os.environ.get("LOYALTY_BENCH_REDIS_URL", ingest.DEFAULT_REDIS),
        help="soak Redis database (flushed; db 15 is refused); env LOYALTY_BENCH_REDIS_URL",
    )
    p.add_argument("--log-dir", default=None, help="process logs (default: a new /tmp/loyalty-soak-* dir)")
    p.add_argument("--json", metavar="PATH", default=None, help="also write the results as JSON to PATH")
    args = p.parse_args(argv)
    if args.duration <= 0 or args.rate <= 0 or args.window <= 0:
        p.error("--duration, --rate and --window must be positive")
    if not 1 <= args.batch_size <= 1000:
        p.error("--batch-size must be 1..1000")
    return args


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """RSS of every watched process every few seconds; gunicorn workers are re-listed each time,
    so a restarted worker shows up as a new pid instead of hiding a leak."""

    def __init__(self, every: float, fixed: dict[str, int], gunicorn_master: int) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.every, self.fixed, self.master = every, fixed, gunicorn_master
        self.samples: list[tuple[float, str, float]] = []
        self.web_pids_seen: set[int] = set()
        self.stopped = threading.Event()

    def sample(self) -> None:
        now = time.time()
        web = sorted(ingest.children_of(self.master))
        self.web_pids_seen.update(web)
        watched = {**self.fixed, **{f"web[{pid}]": pid for pid in web}}
        for name, pid in watched.items():
            value = rss_mb(pid)
            if value is not None:
                self.samples.append((now, name, value))

    def run(self) -> None:
        self.sample()
        while not self.stopped.wait(self.every):
            self.sample()


@dataclass
class Window:
    index: int
    run_id: str
    units: list[ingest.Unit]
    offered: int
    start: float = 0.0
    end: float = 0.0
    stats: ingest.ClientStats | None = None
    machine_busy: float = 0.0
    ours_busy: float = 0.0
    backlog_after: int = 0
    accrual: list[float] = field(default_factory=list)


def mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return ingest.supervised(args, run, "loyalty-soak-")


def run(args: argparse.Namespace, procs: ingest.Processes, log_dir: Path) -> int:
    env = dict(os.environ)
    env.update(LOYALTY_DATABASE_URL=args.db_url, REDIS_URL=args.redis_url, PYTHONUNBUFFERED="1")
    if args.partitions:
        env["LOYALTY_PARTITIONS"] = str(args.partitions)
    rng = random.Random(args.seed)
    run_id = f"s{int(time.time())}"
    codes = list(ingest.PROVIDERS)
    now = datetime.now(UTC)

    count = max(1, math.ceil(args.duration / args.window))
    say(f"generating {count} windows of {args.rate:g} tx/s ...")
    phones = ingest.make_phones(args.customers, rng)
    windows: list[Window] = []
    for k in range(count):
        seconds = min(args.window, args.duration - k * args.window)
        n = max(1, round(args.rate * seconds))
        wid = f"{run_id}m{k:03d}"
        by_provider = ingest.make_transactions(n, codes, phones, wid, rng, now)
        units = ingest.make_units(by_provider, "mixed", args.batch_size, args.batch_share, rng)
        windows.append(Window(k, wid, units, n))
    warm = ingest.make_units(
        ingest.make_transactions(200, codes, phones, run_id + "w", rng, now), "single", 1, 0.0, rng
    )
    campaigns = ingest.make_campaigns(codes, rng)

    say("resetting the soak database and Redis ...")
    ingest.reset_database(args.db_url, allow_any=False)
    ingest.flush_redis(args.redis_url)
    ingest.flask_cli(env, "db", "upgrade")
    keys = {
        code: ingest.last_line(
            ingest.flask_cli(env, "providers", "create", code, "--name", ingest.PROVIDERS[code][0]).stdout
        )
        for code in codes
    }
    staff = ingest.last_line(ingest.flask_cli(env, "staff-token", "create", "soak").stdout)

    url, master, _web_pids = ingest.start_web(procs, env, args.web_procs, args.web_threads)
    for doc in campaigns:
        status, body = ingest.post_json(url, "/api/v1/campaigns?publish=true", staff, json.dumps(doc).encode())
        if status != 201:
            raise RuntimeError(f"campaign '{doc['name']}' rejected: {status} {body[:300]!r}")
    workers = ingest.start_workers(procs, env, args.workers, care_worker=args.care_worker)
    say(f"web at {url} ({args.web_procs}x{args.web_threads}), {args.workers} workers, logs in {log_dir}")
    time.sleep(1.0)
    procs.check_alive()

    conn = ingest.db_connect(args.db_url)
    stop = threading.Event()
    t_warm = datetime.now(UTC) - timedelta(seconds=1)
    ingest.run_load(url, warm, keys, 8, None, args.request_timeout, stop, retries=args.retries)
    deadline = time.monotonic() + 120
    while ingest.queued_count(conn, t_warm) and time.monotonic() < deadline:
        procs.check_alive()
        time.sleep(0.5)

    fixed = {"gunicorn-master": master.pid, **{f"worker-{k}": p.pid for k, p in enumerate(workers)}}
    sampler = Sampler(args.sample_every, fixed, master.pid)
    sampler.start()
    ours = [master.pid, *(p.pid for p in workers)]  # + the gunicorn workers, re-listed each window
    since = datetime.now(UTC)
    t0 = time.time()
    grace = max(60.0, 0.2 * args.duration)
    watchdog = threading.Timer(args.duration + grace, stop.set)  # bounds the load in time, whatever happens
    watchdog.daemon = True
    watchdog.start()
    for w in windows:
        if stop.is_set():
            say(f"window {w.index}: skipped, the load ran past duration + {grace:.0f} s")
            break
        machine0, cpu0 = ingest.machine_cpu(), ingest.cpu_seconds(ours + ingest.children_of(master.pid))
        w.start = time.time()
        w.stats = ingest.run_load(
            url, w.units, keys, args.concurrency, args.rate, args.request_timeout, stop, retries=args.retries
        )
        w.end = time.time()
        machine1, cpu1 = ingest.machine_cpu(), ingest.cpu_seconds(ours + ingest.children_of(master.pid))
        span = max(1e-9, machine1[1] - machine0[1])
        w.machine_busy = (machine1[0] - machine0[0]) / span
        w.ours_busy = (cpu1 - cpu0) / span
        w.backlog_after = ingest.queued_count(conn, since)
        st = w.stats
        say(
            f"window {w.index}: {st.accepted:,}/{w.offered:,} accepted in {w.end - w.start:.0f} s, "
            f"errors {st.item_errors}, request p99 {1000 * (ingest.pct(st.request_seconds, 99) or 0):.0f} ms, "
            f"backlog {w.backlog_after:,}, machine {100 * w.machine_busy:.0f}% busy"
        )
        procs.check_alive()
    watchdog.cancel()
    t_load_end = time.time()

    say("load done; waiting for the workers to credit the backlog ...")
    drained = False
    deadline = time.monotonic() + args.drain_timeout
    while time.monotonic() < deadline:
        procs.check_alive()
        if ingest.queued_count(conn, since) == 0:
            drained = True
            break
        time.sleep(0.5)
    drain_seconds = time.time() - t_load_end
    sampler.stopped.set()
    sampler.join()
    for w in windows:
        w.accrual, _ = ingest.latencies(conn, since, w.run_id + "-")
    counts = ingest.status_counts(conn, since, run_id + "m")
    conn.close()
    ledger = ingest.flask_cli(env, "ledger", "check", check=False)
    result = summarise(args, windows, sampler, counts, drained, drain_seconds, ledger, t0, log_dir)
    print_report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str) + "\n")
    return 0 if result["ok"] else 1


def summarise(
    args: argparse.Namespace,
    windows: list[Window],
    sampler: Sampler,
    counts: dict[str, int],
    drained: bool,
    drain_seconds: float,
    ledger: Any,
    t0: float,
    log_dir: Path,
) -> dict[str, Any]:
    sent = [w for w in windows if w.stats is not None]
    rows = []
    names = sorted({name for _, name, _ in sampler.samples})
    for w in sent:
        st = w.stats
        assert st is not None
        rss = {name: mean([v for t, n, v in sampler.samples if n == name and w.start <= t <= w.end]) for name in names}
        rows.append(
            {
                "window": w.index,
                "offered": w.offered,
                "accepted": st.accepted,
                "duplicate": st.duplicate,
                "errors": st.item_errors,
                "retries": st.retries,
                "statuses": {str(k): v for k, v in sorted(st.statuses.items())},
                "rate": round(st.accepted / max(1e-9, w.end - w.start), 1),
                "behind_schedule_s": round(st.behind_schedule, 2),
                "request_ms": {
                    f"p{p}": round(1000 * (ingest.pct(st.request_seconds, p) or 0), 1) for p in (50, 95, 99)
                },
                "accrual_s": {f"p{p}": ingest.pct(w.accrual, p) for p in (50, 95, 99)},
                "accrual_max_s": w.accrual[-1] if w.accrual else None,
                "backlog_after": w.backlog_after,
                "machine_busy": round(w.machine_busy, 3),
                "other_cores_busy": round(max(0.0, w.machine_busy - w.ours_busy) * (os.cpu_count() or 1), 2),
                "rss_mb": {k: round(v, 1) for k, v in rss.items() if v is not None},
                "error_samples": st.samples[:3],
            }
        )
    # Memory growth: each process's mean RSS in the last window against the second (the first still warms up).
    growth: dict[str, dict[str, float]] = {}
    if len(rows) >= 3:
        first, last = rows[1]["rss_mb"], rows[-1]["rss_mb"]
        for name in sorted(set(first) & set(last)):
            growth[name] = {
                "from_mb": first[name],
                "to_mb": last[name],
                "growth_mb": round(last[name] - first[name], 1),
                "max_mb": round(max(v for _, n, v in sampler.samples if n == name), 1),
            }
    p99s = [r["accrual_s"]["p99"] for r in rows if r["accrual_s"]["p99"] is not None]
    req99 = [r["request_ms"]["p99"] for r in rows]
    accepted = sum(r["accepted"] for r in rows)
    errors = sum(r["errors"] for r in rows)
    processed = counts.get("processed", 0)
    ledger_text = (ledger.stdout + ledger.stderr).strip()
    leak = [n for n, g in growth.items() if g["growth_mb"] > max(20.0, 0.1 * g["from_mb"])]
    return {
        "setup": {
            "duration_s": args.duration,
            "rate": args.rate,
            "window_s": args.window,
            "batch_share": args.batch_share,
            "batch_size": args.batch_size,
            "concurrency": args.concurrency,
            "web": f"{args.web_procs}x{args.web_threads}",
            "workers": args.workers,
            "partitions": args.partitions or 8,
            "cores": os.cpu_count(),
            "started": datetime.fromtimestamp(t0, UTC).isoformat(timespec="seconds"),
        },
        "windows": rows,
        "offered": sum(r["offered"] for r in rows),
        "accepted": accepted,
        "errors": errors,
        "retries": sum(r["retries"] for r in rows),
        "processed": processed,
        "db_status": counts,
        "drained": drained,
        "drain_after_load_s": round(drain_seconds, 1),
        "web_processes_seen": len(sampler.web_pids_seen),
        "rss_growth": growth,
        "accrual_p99_s_per_window": p99s,
        "request_p99_ms_per_window": req99,
        "ledger_check": {"exit_code": ledger.returncode, "output": ledger_text[-1000:]},
        "memory_flag": leak,
        "log_dir": str(log_dir),
        "ok": drained and errors == 0 and processed == accepted and ledger.returncode == 0,
    }


def print_report(r: dict[str, Any]) -> None:
    s = r["setup"]
    print(
        f"\n== loyalty soak: {s['duration_s']:g} s at {s['rate']:g} tx/s, {100 * s['batch_share']:.0f}% in batches of "
        f"{s['batch_size']}, web {s['web']}, {s['workers']} workers, {s['partitions']} partitions, {s['cores']} cores"
    )
    names = sorted({n for w in r["windows"] for n in w["rss_mb"]})
    head = f"{'win':>3} {'tx/s':>6} {'err':>4} {'req p50/p95/p99 ms':>20} {'accrual p50/p95/p99 s':>24} {'backlog':>7}"
    head += f" {'others':>6}  RSS MB " + " ".join(names)
    print(head)
    for w in r["windows"]:
        req = "/".join(f"{w['request_ms'][k]:.0f}" for k in ("p50", "p95", "p99"))
        acc = "/".join("-" if w["accrual_s"][k] is None else f"{w['accrual_s'][k]:.2f}" for k in ("p50", "p95", "p99"))
        rss = " ".join(f"{w['rss_mb'].get(n, 0):.0f}" for n in names)
        print(
            f"{w['window']:>3} {w['rate']:>6.1f} {w['errors']:>4} {req:>20} {acc:>24} {w['backlog_after']:>7}"
            f" {w['other_cores_busy']:>6.2f}  {rss}"
        )
    print(
        f"  accepted {r['accepted']:,} of {r['offered']:,} offered; errors {r['errors']}; retries {r['retries']}; "
        f"processed {r['processed']:,} {r['db_status']}; drained {r['drained']} "
        f"({r['drain_after_load_s']} s after the load)"
    )
    for name, g in r["rss_growth"].items():
        print(f"  RSS {name}: {g['from_mb']} -> {g['to_mb']} MB (growth {g['growth_mb']:+} MB, max {g['max_mb']} MB)")
    if r["memory_flag"]:
        print(f"  WARNING: RSS grew by more than max(20 MB, 10%) in {', '.join(r['memory_flag'])}")
    print(f"  web processes seen: {r['web_processes_seen']} (a restart would show more than started)")
    last = r["ledger_check"]["output"].splitlines()[-1:] or [""]
    print(f"  ledger check: exit {r['ledger_check']['exit_code']}: {last[0]}")
    for w in r["windows"]:
        for sample in w["error_samples"]:
            print(f"  error sample (window {w['window']}): {sample}")
    print(f"  logs: {r['log_dir']}\n  verdict: {'OK' if r['ok'] else 'FAILED'}")


if __name__ == "__main__":
    sys.exit(main())
