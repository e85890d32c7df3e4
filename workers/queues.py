"""Queue partitions and the dispatcher that hands committed transactions to the workers.

A customer always maps to the same partition, and at most one worker drains a
partition at a time (a Redis lock), so one customer's transactions are
credited in order without row-lock fights; the order itself does not depend on
what Redis keeps (crediting checks it in MariaDB, see ``Runtime.credit``). Ids
wait in a per-partition Redis list; an RQ job is enqueued only when none is
already waiting for that partition, so a burst of single POSTs collapses into a
few jobs that each credit hundreds of transactions in one database transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence

from redis import Redis
from rq import Queue
from sqlalchemy.orm import Session

from campaigns.publication import publication_counter

log = logging.getLogger(__name__)

PREFIX = "loyalty"
PUBLICATION_KEY = f"{PREFIX}:publication"
SWEEP_LOCK_KEY = f"{PREFIX}:sweeper"
JOB_TIMEOUT = 600
NOTIFY_QUEUE = f"{PREFIX}-notify"
CARE_QUEUE = f"{PREFIX}-care"
NOTIFY_SCHEDULED_KEY = f"{PREFIX}:notify:scheduled"
NOTIFY_LOCK_KEY = f"{PREFIX}:notify:lock"


ACCRUAL_QUEUE_PREFIX = f"{PREFIX}-accrual-"


def queue_name(partition: int) -> str:
    return f"{ACCRUAL_QUEUE_PREFIX}{partition:03d}"


def pending_key(partition: int) -> str:
    return f"{PREFIX}:pending:{partition}"


def inflight_key(partition: int) -> str:
    return f"{PREFIX}:inflight:{partition}"


def scheduled_key(partition: int) -> str:
    return f"{PREFIX}:scheduled:{partition}"


def lock_key(partition: int) -> str:
    return f"{PREFIX}:lock:{partition}"


def cool_off_key(partition: int) -> str:
    """Set for a while after a drain found its batch's rows locked (``workers.drain``)."""
    return f"{PREFIX}:cooloff:{partition}"


# Push ids; ask for a job only if no drainer holds the lock and no job is already waiting.
_PUSH = """
redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('SET', KEYS[3], 1, 'NX', 'EX', ARGV[1]) then return 1 end
return 0
"""


def partition_of(customer_id: int, partitions: int) -> int:
    return customer_id % partitions


class RedisDispatcher:
    """Push transaction ids to their partition and make sure a drain job will run."""

    def __init__(self, redis: Redis, partitions: int) -> None:
        self.redis = redis
        self.partitions = partitions
        self.queues = [Queue(queue_name(p), connection=redis) for p in range(partitions)]
        self._push = redis.register_script(_PUSH)
        self.notify_queue = Queue(NOTIFY_QUEUE, connection=redis)

    def dispatch(self, pairs: Iterable[tuple[int, int]]) -> None:
        """``pairs`` are (transaction id, customer id), in the order they must be credited.

        A job is enqueued only when the partition has neither a job waiting nor a
        drainer at work: a drainer re-reads the list after releasing its lock, so
        ids pushed while it holds the lock are credited without a new job.
        """
        by_partition: dict[int, list[int]] = defaultdict(list)
        for txn_id, customer_id in pairs:
            by_partition[partition_of(customer_id, self.partitions)].append(txn_id)
        if not by_partition:
            return
        if len(by_partition) == 1:  # a single POST: one EVALSHA, where a pipeline first asks SCRIPT EXISTS
            [(p, ids)] = by_partition.items()
            if len(ids) <= 1000:
                keys = [pending_key(p), lock_key(p), scheduled_key(p)]
                if self._push(keys=keys, args=[JOB_TIMEOUT, *ids]):
                    self.schedule(p)
                return
        pipe = self.redis.pipeline(transaction=False)
        calls: list[int] = []
        for p in sorted(by_partition):
            ids = by_partition[p]
            for start in range(0, len(ids), 1000):
                keys = [pending_key(p), lock_key(p), scheduled_key(p)]
                self._push(keys=keys, args=[JOB_TIMEOUT, *ids[start : start + 1000]], client=pipe)
                calls.append(p)
        for p, needs_job in zip(calls, pipe.execute(), strict=True):
            if needs_job:
                self.schedule(p)

    def schedule(self, partition: int) -> None:
        self.queues[partition].enqueue(
            "workers.jobs.drain_partition",
            partition,
            job_timeout=JOB_TIMEOUT,
            result_ttl=60,
            failure_ttl=7 * 86400,
        )

    def schedule_notify(self) -> None:
        """Make sure one outbox sender job is waiting (a burst of messages collapses into one job)."""
        if self.redis.set(NOTIFY_SCHEDULED_KEY, 1, nx=True, ex=JOB_TIMEOUT):
            self.notify_queue.enqueue(
                "workers.jobs.send_notifications", job_timeout=JOB_TIMEOUT, result_ttl=60, failure_ttl=7 * 86400
            )

    def requeue(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Used by the sweeper: same as dispatch, and always wakes each partition."""
        self.dispatch(pairs)
        for p in {partition_of(c, self.partitions) for _, c in pairs}:
            self.schedule(p)

    def announce_publication(self, session: Session) -> None:
        """Every worker reloads what is published (campaigns, settings); call after the commit that changed it."""
        self.redis.set(PUBLICATION_KEY, publication_counter(session))

    def depth(self) -> dict[int, int]:
        pipe = self.redis.pipeline(transaction=False)
        for p in range(self.partitions):
            pipe.llen(pending_key(p))
        return dict(enumerate(pipe.execute()))
