"""Drain one partition: move ids to an in-flight list, credit them, acknowledge.

The in-flight list is the safety net for a worker killed mid-batch: the next
drainer of the partition credits what it finds there first (crediting is
idempotent, so a batch that did commit is simply skipped). A committed batch is
acknowledged (deleted from the in-flight list) by the script that moves the next
batch in, or before the lock is released when none follows. The sweeper covers
the rest (Redis flushed, ids never pushed).

The partition lock lives ``LOCK_SECONDS`` unless its holder keeps it alive: a
heartbeat thread renews it while the drain runs, however long one batch takes,
so a killed worker holds its partition for seconds, not minutes. Should the
lock still be lost (Redis flushed or unreachable past the TTL), the drain stops
after its batch; two drainers overlapping would still credit each transaction
once and in its customer's order (the crediting transaction checks both).

A batch whose rows stay locked past the crediting engine's lock wait (a worker host cut off inside its
crediting transaction holds them until the server's ``idle_transaction_timeout`` rolls it back) is left in the
in-flight list, untouched: the drain ends and the partition cools off (``Runtime.credit_cool_off_seconds``);
its jobs meanwhile return at once, so the worker credits the other partitions instead of waiting on this one.
After it, the next push or the sweeper's ``wake_orphaned`` schedules a drain, which credits the in-flight ids
first: nothing is dropped or credited twice, and each customer's order holds.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from dataclasses import dataclass

from redis.commands.core import Script
from redis.exceptions import LockError, RedisError
from redis.lock import Lock
from rq import Queue
from sqlalchemy.exc import OperationalError

from campaigns.db import LOCK_WAIT_TIMEOUT, is_lock_wait

from .imports import IMPORT_QUEUE
from .queues import (
    CARE_QUEUE,
    NOTIFY_QUEUE,
    cool_off_key,
    inflight_key,
    lock_key,
    pending_key,
    queue_name,
    scheduled_key,
)
from .runtime import Runtime

log = logging.getLogger(__name__)

LOCK_SECONDS = 10.0
HEARTBEAT_SECONDS = LOCK_SECONDS / 4
# An emptied partition is watched this long for more ids before the job ends, but only while no other job
# waits for a worker: single POSTs then ride a running drain (the push script asks for no job while the lock is
# held) instead of paying an RQ job each (~2 ms of worker CPU). A job lingers for at most DRAIN_SECONDS in all.
LINGER_SECONDS = 0.05
LINGER_POLL_SECONDS = 0.01
DRAIN_SECONDS = 30.0

# Atomically take up to N ids from the pending list into the in-flight list; with ARGV[2], first acknowledge the
# batch the in-flight list still holds (it committed): one round trip a batch instead of two.
_MOVE = """
if ARGV[2] then
  redis.call('DEL', KEYS[2])
end
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids > 0 then
  redis.call('LTRIM', KEYS[1], #ids, -1)
  redis.call('RPUSH', KEYS[2], unpack(ids))
end
return ids
"""

# One linger poll: -1 when a job waits in any other queue (KEYS[2..]), else the length of the pending list (KEYS[1]).
_WATCH = """
for i = 2, #KEYS do
  if redis.call('LLEN', KEYS[i]) > 0 then return -1 end
end
return redis.call('LLEN', KEYS[1])
"""


@dataclass
class DrainReport:
    batches: int = 0
    processed: int = 0
    skipped: int = 0
    points: int = 0
    messages: int = 0  # outbox rows (SMS, webhooks) the batches wrote: only these call for the sender
    deferred: int = 0
    lock_waits: int = 0  # batches left in flight because their rows stayed locked (the drain then stopped)
    cooling_off: bool = False  # the partition was cooling off after such a batch: nothing was done


class _Heartbeat(threading.Thread):
    """Renews the partition lock every ``HEARTBEAT_SECONDS`` while its holder lives."""

    def __init__(self, lock: Lock, partition: int) -> None:
        super().__init__(name=f"loyalty-lock-{partition}", daemon=True)
        self.lock, self.partition = lock, partition
        self.stopped, self.lost = threading.Event(), threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(HEARTBEAT_SECONDS):
            try:
                self.lock.reacquire()
            except LockError:  # expired or taken over (Redis flushed, or unreachable past the TTL)
                log.warning("partition %s: lost its lock; stopping after this batch", self.partition)
                self.lost.set()
                return
            except RedisError:  # unreachable for now: try again before the TTL runs out
                log.warning("partition %s: could not renew its lock", self.partition)


def drain(rt: Runtime, partition: int) -> DrainReport:
    r = rt.redis
    assert r is not None
    report = DrainReport()
    if (left := r.pttl(cool_off_key(partition))) > 0:
        # Pushes ask for no job until the pause ends (the flag expires with it); then one does, or the sweeper.
        r.set(scheduled_key(partition), 1, px=left)
        report.cooling_off = True
        return report
    # Clear the flag first: a push after this point schedules a new job.
    r.delete(scheduled_key(partition))
    move, watch = r.register_script(_MOVE), r.register_script(_WATCH)
    until = time.monotonic() + DRAIN_SECONDS
    while True:
        lock = r.lock(lock_key(partition), timeout=LOCK_SECONDS, blocking=False, thread_local=False)
        if not lock.acquire():
            return report  # the holder re-checks the list after releasing
        beat = _Heartbeat(lock, partition)
        beat.start()
        try:
            # True while the in-flight list holds a committed batch: the next move, or the end of this lock hold
            # (before the release, so that no other drainer's in-flight ids are ever deleted), acknowledges it.
            unacknowledged = False
            leftover = r.lrange(inflight_key(partition), 0, -1)
            if leftover:
                log.warning("partition %s: recovering %s in-flight ids", partition, len(leftover))
                unacknowledged = _credit(rt, partition, leftover, report)
            notified = report.messages
            while not beat.lost.is_set():
                args = [rt.batch_size, 1] if unacknowledged else [rt.batch_size]
                ids = move(keys=[pending_key(partition), inflight_key(partition)], args=args)
                unacknowledged = False
                if ids:
                    unacknowledged = _credit(rt, partition, ids, report)
                    continue
                if report.messages > notified:  # what was credited is not kept waiting for its messages
                    rt.dispatcher.schedule_notify()
                    notified = report.messages
                if not _linger(rt, partition, until, watch):
                    break
            if unacknowledged:
                r.delete(inflight_key(partition))
        except OperationalError as exc:
            if not is_lock_wait(exc):
                raise
            report.lock_waits += 1
        finally:
            beat.stopped.set()
            beat.join(HEARTBEAT_SECONDS)
            with contextlib.suppress(LockError):  # already gone: expired or flushed
                lock.release()
        if report.lock_waits:
            pause = rt.credit_cool_off_seconds
            log.warning(
                "partition %s: rows still locked after %s s (error %s); its %s in-flight ids wait, the partition "
                "cools off for %.0f s",
                partition,
                rt.credit_lock_wait_seconds or "the server's lock wait",
                LOCK_WAIT_TIMEOUT,
                r.llen(inflight_key(partition)),
                pause,
            )
            pipe = r.pipeline(transaction=True)
            pipe.set(cool_off_key(partition), 1, px=int(pause * 1000))
            pipe.set(scheduled_key(partition), 1, px=int(pause * 1000))
            pipe.execute()
            return report
        if beat.lost.is_set() or r.llen(pending_key(partition)) == 0:
            return report


def _linger(rt: Runtime, partition: int, until: float, watch: Script) -> bool:
    """Watch an emptied partition for up to ``LINGER_SECONDS``: True as soon as ids arrive, False when none did,
    when another job waits for a worker (the partitions take turns) or when the job has run long enough."""
    keys = [pending_key(partition), *_waiting_keys(rt.partitions)]
    deadline = min(until, time.monotonic() + LINGER_SECONDS)
    while time.monotonic() < deadline:
        time.sleep(LINGER_POLL_SECONDS)
        found = watch(keys=keys)  # one EVALSHA a poll, where a pipeline of LLENs cost a command per queue
        if found:
            return found > 0
    return False


@functools.cache
def _waiting_keys(partitions: int) -> tuple[str, ...]:
    """The RQ lists of every queue a worker may serve: a job in any of them ends a linger."""
    names = [queue_name(p) for p in range(partitions)] + [NOTIFY_QUEUE, CARE_QUEUE, IMPORT_QUEUE]
    return tuple(Queue.redis_queue_namespace_prefix + name for name in names)


def _credit(rt: Runtime, partition: int, raw_ids: list[bytes | str], report: DrainReport) -> bool:
    """Credit one batch; True when it still is to be acknowledged (its in-flight ids deleted), which the caller
    does with its next move. A batch that deferred ids puts them back in the queue and is acknowledged at once."""
    ids = sorted({int(x) for x in raw_ids})
    result = rt.credit(ids)
    assert rt.redis is not None
    if result.deferred:  # newer ids that wait for older ones of their customers: back in the queue
        pipe = rt.redis.pipeline(transaction=True)
        pipe.rpush(pending_key(partition), *result.deferred)
        pipe.delete(inflight_key(partition))
        pipe.execute()
    report.batches += 1
    report.processed += result.processed
    report.skipped += result.skipped
    report.points += result.points
    report.messages += result.messages
    report.deferred += len(result.deferred)
    return not result.deferred
