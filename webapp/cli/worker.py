"""``flask worker`` and ``flask sweep``: run the workers; re-dispatch what is still queued."""

from __future__ import annotations

import logging
import os
import sys
import time

import click
from flask.cli import with_appcontext

from workers.imports import IMPORT_QUEUE
from workers.queues import CARE_QUEUE
from workers.sweeper import sweep
from workers.worker import MemoryLimitReached, run_worker

from ..extensions import embedded_queue, runtime, settings


@click.command("worker")
@with_appcontext
@click.argument("partitions", nargs=-1)
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option("--fork", is_flag=True, help="Fork a work horse per job (RQ's default Worker).")
@click.option("--no-imports", is_flag=True, help="Leave the loyalty-imports queue to other workers.")
@click.option("--no-care", is_flag=True, help="Leave the care monitor (loyalty-care) to other workers.")
def worker_command(partitions: tuple[str, ...], burst: bool, fork: bool, no_imports: bool, no_care: bool) -> None:
    """Run an RQ worker over all accrual partitions, the imports and the care queues, or those named
    (numbers or queue names, and 'imports' / 'care': naming either leaves out the one not named)."""
    rt = runtime()
    if rt.redis is None:
        queue = embedded_queue()
        click.echo("No REDIS_URL: crediting from the embedded database queue.")
        while True:
            n = queue.drain_now()
            if burst:
                click.echo(f"Credited {n} transactions.")
                return
            time.sleep(1.0)
    special = {"imports": "imports", IMPORT_QUEUE: "imports", "care": "care", CARE_QUEUE: "care"}
    named = [p for p in partitions if p not in special]
    extra = {special[p] for p in partitions if p in special}
    try:
        parts = [int(p.rsplit("-", 1)[-1]) for p in named]
    except ValueError:
        raise click.BadParameter(
            f"name partitions by number or queue name, 'imports' or 'care'; got {partitions}"
        ) from None
    bad = [p for p in parts if not 0 <= p < rt.partitions]
    if bad:
        raise click.BadParameter(f"partitions are 0..{rt.partitions - 1}, got {bad}")
    conf = settings()
    try:
        run_worker(
            rt,
            partitions=parts if named or partitions else None,  # 'imports' or 'care' alone: no partitions
            imports=not no_imports and (not extra or "imports" in extra),
            care=not no_care and (not extra or "care" in extra),
            burst=burst,
            fork=fork,
            sweep_interval=conf.sweep_interval_seconds,
            max_memory_mb=conf.worker_max_memory_mb,
        )
    except MemoryLimitReached:
        # The same command in a fresh process image: same pid, so a supervisor sees no exit.
        logging.shutdown()
        os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


@click.command("sweep")
@with_appcontext
@click.option("--older-than", default=0, show_default=True, help="Seconds a transaction has waited.")
def sweep_command(older_than: int) -> None:
    """Re-dispatch transactions still queued (after a Redis flush, say)."""
    rt = runtime()
    if rt.redis is None:
        n = embedded_queue().drain_now()
        click.echo(f"Credited {n} queued transactions.")
        return
    click.echo(f"Re-dispatched {sweep(rt, older_than_seconds=older_than)} transactions.")
