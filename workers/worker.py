"""Start an RQ worker over the accrual partitions and the notify queue, with the periodic thread beside it."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from redis.exceptions import ConnectionError as RedisConnectionError
from rq import Queue, SimpleWorker, Worker
from rq.job import Job

from . import memory
from .bootstrap import configure
from .imports import IMPORT_QUEUE
from .queues import ACCRUAL_QUEUE_PREFIX, CARE_QUEUE, NOTIFY_QUEUE, queue_name
from .runtime import Runtime
from .sweeper import HeartbeatThread, SweeperThread, sweep

log = logging.getLogger(__name__)

REDIS_RETRY_SECONDS = 2.0


class _FairPartitions:
    """After each job, the partition queue just served goes to the back of the partitions.

    RQ's default order is strict priority: under sustained load the first
    partitions always have a drain job waiting, so the last ones waited minutes
    (the soak in docs/performance.md measured 0.5 s for partition 0 and 308 s for
    partition 7). The notify and import queues stay after the partitions.
    """

    _ordered_queues: list[Queue]

    def reorder_queues(self, reference_queue: Queue) -> None:
        parts = [q for q in self._ordered_queues if q.name.startswith(ACCRUAL_QUEUE_PREFIX)]
        rest = [q for q in self._ordered_queues if not q.name.startswith(ACCRUAL_QUEUE_PREFIX)]
        if reference_queue in parts:
            at = parts.index(reference_queue)
            parts = parts[at + 1 :] + parts[: at + 1]
        self._ordered_queues = parts + rest


class MemoryLimitReached(Exception):
    """The worker finished its job over its memory limit: its process should start afresh."""


class _MemoryBounded:
    """After each job: give freed heap back, and stop between jobs (never during one) over the limit."""

    max_memory_mb: float = 0.0  # 0: no limit
    over_limit: bool = False
    _stop_requested: bool

    def execute_job(self, job: Job, queue: Queue) -> None:
        try:
            super().execute_job(job, queue)  # type: ignore[misc]
        finally:
            memory.release()
            if self.max_memory_mb and (rss := memory.rss_mb()) > self.max_memory_mb:
                log.warning("worker at %.0f MB, over its limit of %.0f MB: restarting", rss, self.max_memory_mb)
                self.over_limit = True
                self._stop_requested = True  # RQ's loop ends before the next job


class FairSimpleWorker(_MemoryBounded, _FairPartitions, SimpleWorker):
    pass


class FairWorker(_MemoryBounded, _FairPartitions, Worker):
    pass


def run_worker(
    rt: Runtime,
    *,
    partitions: Sequence[int] | None = None,
    imports: bool = True,
    care: bool = True,
    burst: bool = False,
    fork: bool = False,
    sweep_interval: float = 15.0,
    name: str | None = None,
    max_memory_mb: float = 0.0,
) -> bool:
    """Work the named partitions (default: all) and the imports queue until stopped, or until empty with ``burst``.

    Partition queues come first, so between jobs crediting goes before the next
    import. A worker busy with a long import credits nothing meanwhile: run
    crediting-only workers (``imports=False``) beside it for big files. The
    same holds for the care monitor's pass (seconds on big books): ``care=False``
    on the crediting workers and one ``flask worker care`` beside them.

    ``SimpleWorker`` (no fork per job) is the default: jobs are few and large,
    and keeping the process lets the compiled rules and the connection pool live.
    Over ``max_memory_mb`` it raises :class:`MemoryLimitReached` after a job, for
    the caller to start a fresh process (nothing is lost: the job is done, the
    queues wait in Redis).
    """
    if rt.redis is None:  # a real check, not an assert: it must hold under python -O too
        raise RuntimeError("an RQ worker needs REDIS_URL (without it, `flask worker` credits from the database)")
    memory.limit_arenas()  # before the periodic thread starts
    configure(rt)
    parts = list(range(rt.partitions)) if partitions is None else list(partitions)
    queues = [Queue(queue_name(p), connection=rt.redis) for p in parts]
    queues.append(Queue(NOTIFY_QUEUE, connection=rt.redis))  # the outbox sender (SMS, provider webhooks)
    if care:  # the care centre's monitor; a worker of its own keeps its scans from delaying crediting
        queues.append(Queue(CARE_QUEUE, connection=rt.redis))
    if imports:
        queues.append(Queue(IMPORT_QUEUE, connection=rt.redis))
    cls = FairWorker if fork else FairSimpleWorker
    if burst:
        sweep(rt)
        rt.dispatcher.schedule_notify()
        return cls(queues, connection=rt.redis, name=name).work(burst=True, logging_level="WARNING")
    sweeper = SweeperThread(rt, sweep_interval)
    sweeper.start()
    heartbeat = HeartbeatThread(rt) if rt.replica_heartbeat else None
    if heartbeat is not None:
        heartbeat.start()
    try:
        while True:
            # RQ quits when Redis goes away mid-job (it cannot record the job's end). Nothing is lost (ids
            # stay in MariaDB, the sweeper re-dispatches them), so a new worker starts once Redis answers.
            try:
                worker = cls(queues, connection=rt.redis, name=name)
                worker.max_memory_mb = max_memory_mb
                worked = worker.work(burst=False, logging_level="INFO")
                if worker.over_limit:
                    raise MemoryLimitReached(f"{memory.rss_mb():.0f} MB")
                return worked
            except RedisConnectionError:
                log.warning("lost the connection to Redis; starting a new worker in %.0f s", REDIS_RETRY_SECONDS)
                time.sleep(REDIS_RETRY_SECONDS)
    finally:
        sweeper.stopped.set()
        if heartbeat is not None:
            heartbeat.stopped.set()
