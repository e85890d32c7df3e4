"""Benchmark: CPU per transaction of the accrual path's own code, in process, for one or more checkouts.

The end-to-end benches (``ingest.py``, ``report.py``) measure what a deployment does; on a 2-core machine their
rates move with everything else that runs. This one takes HTTP, gunicorn and the scheduler out and counts only
this process's CPU (``time.process_time``) for the two halves of the path, so two checkouts compared in one
sitting show what a change to the code did:

1. acceptance: the batch (or single) POSTs of ``ingest.py``'s generated load through Flask's test client
   (authentication, validation, identity, the insert, the dispatch to Redis);
2. crediting: ``Runtime.credit`` over the queued ids in batches of 500, as a worker does (rules, caps, the
   books written); ``--credit-batch 2`` credits them two at a time instead, as a drain fed by single POSTs
   does, to show the fixed cost of a batch. The SQL statements crediting sent are counted too.

    .venv/bin/python -m bench.hotpath                                  # this checkout
    .venv/bin/python -m bench.hotpath --app-dir /tmp/base --app-dir .  # two checkouts, alternating, twice each

Each run uses database ``loyalty_bench_hotpath`` (tables dropped and re-created) and Redis db 9, 20 campaigns,
20,000 customers, 300 warm-up transactions before the clock starts.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DB = "mysql+pymysql://root@127.0.0.1:3306/loyalty_bench_hotpath?charset=utf8mb4"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"


def measure(
    app_dir: Path,
    n: int,
    mode: str,
    db_url: str,
    redis_url: str,
    profile: Path | None = None,
    credit_batch: int = 500,
) -> dict[str, Any]:
    """Run in a child process: the checkout's own packages and its ``bench/ingest.py`` come first.

    With ``profile``, each half runs under cProfile with a CPU timer (wall time would count MariaDB's waits) and
    its stats are written to ``<profile>/accept.prof`` and ``<profile>/credit.prof``.
    """
    import cProfile

    sys.path[:0] = [str(app_dir), str(app_dir / "bench")]
    import random
    from datetime import UTC, datetime

    import ingest as load  # bench/ingest.py of the checkout measured
    import redis
    from sqlalchemy import create_engine, event, text

    from campaigns.settings import Settings
    from webapp import create_app
    from webapp.extensions import recreate_schema
    from workers.bootstrap import build

    engine = create_engine(db_url.rsplit("/", 1)[0])
    with engine.begin() as conn:
        name = db_url.rsplit("/", 1)[1].split("?")[0]
        conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4"))
    engine.dispose()
    settings = Settings.from_env(database_url=db_url, redis_url=redis_url, log_level="WARNING")
    app = create_app(settings)
    redis.Redis.from_url(redis_url).flushdb()
    with app.app_context():
        recreate_schema()
    rng = random.Random(1)
    codes = list(load.PROVIDERS)
    runner = app.test_cli_runner()
    keys = {
        c: runner.invoke(args=["providers", "create", c, "--name", load.PROVIDERS[c][0]])
        .output.strip()
        .splitlines()[-1]
        for c in codes
    }
    staff = runner.invoke(args=["staff-token", "create", "bench"]).output.strip().splitlines()[-1]
    client = app.test_client()
    for doc in load.make_campaigns(codes, rng, 20):
        resp = client.post(
            "/api/v1/campaigns?publish=true",
            data=json.dumps(doc),
            headers={"Authorization": f"Bearer {staff}", "Content-Type": "application/json"},
        )
        if resp.status_code != 201:
            raise RuntimeError(f"campaign refused: {resp.status_code} {resp.data[:300]!r}")
    phones = load.make_phones(20_000, rng)
    now = datetime.now(UTC)

    def post(units: list[Any]) -> None:
        for u in units:
            headers = {"Authorization": f"Bearer {keys[u.provider]}", "Content-Type": "application/json"}
            resp = client.post(u.path, data=u.body, headers=headers)
            if resp.status_code not in (200, 202):
                raise RuntimeError(f"{u.path}: {resp.status_code} {resp.data[:300]!r}")

    rt = build(settings)
    size = 500
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    for factory in {rt.session_factory, rt.credit_session_factory} - {None}:
        assert factory is not None
        event.listen(factory.kw["bind"], "before_cursor_execute", count)

    def credit() -> int:
        with rt.session_factory() as s:
            ids = [i for (i,) in s.execute(text("SELECT id FROM transactions WHERE status='queued' ORDER BY id"))]
        return sum(rt.credit(ids[i : i + size]).processed for i in range(0, len(ids), size))

    post(load.make_units(load.make_transactions(300, codes, phones, "w", rng, now), "batch", 100, 0, rng))
    credit()
    units = load.make_units(load.make_transactions(n, codes, phones, "m", rng, now), mode, 500, 0, rng)

    server = load.pids_named("mariadbd") or load.pids_named("mysqld")
    server_cpu: dict[str, float] = {}

    def run(name: str, fn: Any) -> tuple[Any, float, float]:
        prof = cProfile.Profile(time.process_time) if profile else None
        cpu, wall, db = time.process_time(), time.monotonic(), load.cpu_seconds(server)
        result = prof.runcall(fn) if prof else fn()
        spent = time.process_time() - cpu, time.monotonic() - wall
        server_cpu[name] = load.cpu_seconds(server) - db  # the whole server's: run it on a quiet machine
        if prof and profile:
            profile.mkdir(parents=True, exist_ok=True)
            prof.dump_stats(str(profile / f"{name}.prof"))
        return result, *spent

    _, accept_cpu, accept_wall = run("accept", lambda: post(units))
    size, statements[0] = credit_batch, 0
    credited, credit_cpu, credit_wall = run("credit", credit)
    if credited != n:
        raise RuntimeError(f"credited {credited} of {n}")
    return {
        "app_dir": str(app_dir),
        "mode": mode,
        "transactions": n,
        "accept_cpu_ms_per_tx": round(1000 * accept_cpu / n, 3),
        "credit_batch": credit_batch,
        "credit_cpu_ms_per_tx": round(1000 * credit_cpu / n, 3),
        "credit_sql_per_tx": round(statements[0] / n, 2),
        "accept_mariadb_cpu_ms_per_tx": round(1000 * server_cpu["accept"] / n, 3),
        "credit_mariadb_cpu_ms_per_tx": round(1000 * server_cpu["credit"] / n, 3),
        "accept_wall_s": round(accept_wall, 2),
        "credit_wall_s": round(credit_wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--app-dir", action="append", type=Path, help="checkout to measure (repeatable)")
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--mode", choices=("batch", "single"), default="batch")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each checkout, alternating")
    parser.add_argument("--db-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--credit-batch", type=int, default=500, help="transactions per crediting batch")
    parser.add_argument("--profile", type=Path, help="write cProfile stats (CPU timer) of each half to this folder")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    dirs = [d.resolve() for d in (args.app_dir or [ROOT])]
    if args.one:
        result = measure(dirs[0], args.n, args.mode, args.db_url, args.redis_url, args.profile, args.credit_batch)
        print(json.dumps(result))
        return
    results = []
    for _ in range(args.rounds):
        for d in dirs:
            env = {**os.environ, "LOYALTY_LOG_LEVEL": "WARNING"}
            argv = [sys.executable, str(Path(__file__).resolve()), "--one", "--app-dir", str(d), "--n", str(args.n)]
            argv += ["--mode", args.mode, "--db-url", args.db_url, "--redis-url", args.redis_url]
            argv += ["--credit-batch", str(args.credit_batch)]
            if args.profile:
                argv += ["--profile", str(args.profile.resolve() / f"{d.name}-{len(results)}")]
            out = subprocess.run(argv, cwd=d, env=env, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)


if __name__ == "__main__":
    main()
