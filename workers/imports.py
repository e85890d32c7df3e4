"""Running uploaded imports: inline for small files, an RQ job on ``loyalty-imports``, or a thread.

With Redis, a large upload becomes one job on its own queue, worked by
``flask --app wsgi worker`` like the accrual partitions; the job takes the
import's lease, so a duplicate job is harmless, and the sweeper re-enqueues an
import whose runner died (its lease went stale), which then resumes after its
last committed line. Without Redis (the embedded default) a thread runs it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from redis import Redis
from rq import Queue

from campaigns.imports.runner import STALE_SECONDS, Dispatch, Options, Progress, claim, run_import, stale_imports

from .queues import PREFIX
from .runtime import Runtime

log = logging.getLogger(__name__)

IMPORT_QUEUE = f"{PREFIX}-imports"
IMPORT_JOB_TIMEOUT = 12 * 3600  # a 10-million-row file takes well under an hour; the lease covers a dead worker


def options_of(rt: Runtime) -> Options:
    return Options(max_future=timedelta(seconds=rt.max_future_seconds), chunk_rows=rt.import_chunk_rows)


def enqueue(redis: Redis, import_id: int) -> None:
    Queue(IMPORT_QUEUE, connection=redis).enqueue(
        "workers.jobs.run_import",
        import_id,
        job_timeout=IMPORT_JOB_TIMEOUT,
        result_ttl=3600,
        failure_ttl=7 * 86400,
    )


def run_claimed(
    rt: Runtime, import_id: int, dispatch: Dispatch, progress: Callable[[Progress], None] | None = None
) -> Progress | None:
    """Run an import if its lease is free (queued, or abandoned); None when someone else has it."""
    token = claim(rt.session_factory, import_id)
    if token is None:
        log.info("import %s is finished or being run elsewhere", import_id)
        return None
    return run_import(
        rt.session_factory, import_id, token, dispatch=dispatch, options=options_of(rt), progress=progress
    )


def start(rt: Runtime, import_id: int, dispatch: Dispatch, *, inline: bool) -> None:
    """Run now (small files), enqueue (Redis) or start a thread (embedded)."""
    if rt.redis is None:
        # Embedded: the in-process worker credits from SQLite, which has one writer at a time. Crediting
        # beside the import would fight it for the lock, so it is woken once the import is over.
        if inline:
            _run_then_wake(rt, import_id, dispatch)
        else:
            threading.Thread(
                target=_run_then_wake, args=(rt, import_id, dispatch), name=f"loyalty-import-{import_id}", daemon=True
            ).start()
    elif inline:
        run_claimed(rt, import_id, dispatch)
    else:
        enqueue(rt.redis, import_id)


def _run_then_wake(rt: Runtime, import_id: int, wake: Dispatch) -> None:
    try:
        run_claimed(rt, import_id, stay_queued)
    except Exception:
        log.exception("import %s failed", import_id)
    wake([])


def stay_queued(pairs: list[tuple[int, int]]) -> None:
    """Leave the rows queued in the database: the embedded worker's queue is the database itself."""


def requeue_stale(rt: Runtime, stale_seconds: int = STALE_SECONDS) -> int:
    """Enqueue uploads nobody is running (worker killed, Redis flushed); at most once per stale period each."""
    if rt.redis is None:
        return 0
    with rt.session_factory() as session:
        ids = stale_imports(session, stale_seconds=stale_seconds)
    n = 0
    for import_id in ids:
        if rt.redis.set(f"{PREFIX}:import-requeued:{import_id}", 1, nx=True, ex=stale_seconds):
            log.warning("import %s: no runner for %ss; enqueued again (it resumes)", import_id, stale_seconds)
            enqueue(rt.redis, import_id)
            n += 1
    return n
