"""Drain one partition: move ids to an in-flight list, credit them, acknowledge.

The in-flight list is the safety net for a worker killed mid-batch: the next
drainer of the partition credits what it finds there first (crediting is
idempotent, so a batch that did commit is simply skipped). The sweeper covers
the rest (Redis flushed, ids never pushed).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from .queues import inflight_key, lock_key, pending_key, scheduled_key
from .runtime import Runtime

log = logging.getLogger(__name__)

LOCK_MS = 120_000

# Atomically take up to N ids from the pending list into the in-flight list.
_MOVE = """
local ids = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #ids > 0 then
  redis.call('LTRIM', KEYS[1], #ids, -1)
  redis.call('RPUSH', KEYS[2], unpack(ids))
end
return ids
"""

# Release or extend the lock only if we still own it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


@dataclass
class DrainReport:
    batches: int = 0
    processed: int = 0
    skipped: int = 0
    points: int = 0


def drain(rt: Runtime, partition: int) -> DrainReport:
    r = rt.redis
    assert r is not None
    report = DrainReport()
    # Clear the flag first: a push after this point schedules a new job.
    r.delete(scheduled_key(partition))
    move, release, extend = r.register_script(_MOVE), r.register_script(_RELEASE), r.register_script(_EXTEND)
    while True:
        token = uuid.uuid4().hex
        if not r.set(lock_key(partition), token, nx=True, px=LOCK_MS):
            return report  # the holder re-checks the list after releasing
        try:
            leftover = r.lrange(inflight_key(partition), 0, -1)
            if leftover:
                log.warning("partition %s: recovering %s in-flight ids", partition, len(leftover))
                _credit(rt, partition, leftover, report)
            while True:
                ids = move(keys=[pending_key(partition), inflight_key(partition)], args=[rt.batch_size])
                if not ids:
                    break
                _credit(rt, partition, ids, report)
                extend(keys=[lock_key(partition)], args=[token, LOCK_MS])
        finally:
            release(keys=[lock_key(partition)], args=[token])
        if r.llen(pending_key(partition)) == 0:
            return report


def _credit(rt: Runtime, partition: int, raw_ids: list[bytes | str], report: DrainReport) -> None:
    ids = sorted({int(x) for x in raw_ids})
    result = rt.credit(ids)
    assert rt.redis is not None
    rt.redis.delete(inflight_key(partition))
    report.batches += 1
    report.processed += result.processed
    report.skipped += result.skipped
    report.points += result.points
