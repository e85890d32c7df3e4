"""Start an RQ worker over the accrual partitions and the notify queue, with the periodic thread beside it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from rq import Queue, SimpleWorker, Worker

from .imports import IMPORT_QUEUE
from .queues import CARE_QUEUE, NOTIFY_QUEUE, queue_name
from .runtime import Runtime, configure
from .sweeper import SweeperThread, sweep

log = logging.getLogger(__name__)


def run_worker(
    rt: Runtime,
    *,
    partitions: Sequence[int] | None = None,
    imports: bool = True,
    burst: bool = False,
    fork: bool = False,
    sweep_interval: float = 15.0,
    name: str | None = None,
) -> bool:
    """Work the named partitions (default: all) and the imports queue until stopped, or until empty with ``burst``.

    Partition queues come first, so between jobs crediting goes before the next
    import. A worker busy with a long import credits nothing meanwhile: run
    crediting-only workers (``imports=False``) beside it for big files.

    ``SimpleWorker`` (no fork per job) is the default: jobs are few and large,
    and keeping the process lets the compiled rules and the connection pool live.
    """
    assert rt.redis is not None, "an RQ worker needs REDIS_URL"
    configure(rt)
    parts = list(range(rt.partitions)) if partitions is None else list(partitions)
    queues = [Queue(queue_name(p), connection=rt.redis) for p in parts]
    queues.append(Queue(NOTIFY_QUEUE, connection=rt.redis))  # the outbox sender (SMS, provider webhooks)
    queues.append(Queue(CARE_QUEUE, connection=rt.redis))  # the care centre's monitor
    if imports:
        queues.append(Queue(IMPORT_QUEUE, connection=rt.redis))
    cls = Worker if fork else SimpleWorker
    worker = cls(queues, connection=rt.redis, name=name)
    if burst:
        sweep(rt)
        rt.dispatcher.schedule_notify()
        return worker.work(burst=True, logging_level="WARNING")
    sweeper = SweeperThread(rt, sweep_interval)
    sweeper.start()
    try:
        return worker.work(burst=False, logging_level="INFO")
    finally:
        sweeper.stopped.set()
