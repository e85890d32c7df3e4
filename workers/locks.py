"""Cluster-wide locks held over a long pass: redis-py's ``Lock`` (atomic acquire, extend and release scripts),
renewed as the pass goes so that a slow pass never outlives its lock and lets a second holder in beside it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.exceptions import LockError
from redis.lock import Lock

log = logging.getLogger(__name__)


def renewer(lock: Lock | None) -> Callable[[], bool]:
    """A check for the pass to call before each unit of work: it resets the lock's time to live once a third of it
    has gone, and says False when the lock is no longer ours (it expired, or another holder has it): stop then."""
    timeout = lock.timeout if lock is not None and lock.timeout is not None else 0.0
    renewed = time.monotonic()

    def still_held() -> bool:
        nonlocal renewed
        if lock is None or time.monotonic() - renewed < timeout / 3:
            return True
        try:
            lock.reacquire()
        except LockError:
            log.error("lost the lock %s; stopping this pass", lock.name)
            return False
        renewed = time.monotonic()
        return True

    return still_held


def release(lock: Lock | None) -> None:
    """Release only if still ours (the script compares the token); a lock that expired meanwhile is left alone."""
    if lock is None:
        return
    try:
        lock.release()
    except LockError:
        log.warning("the lock %s had expired before its pass ended", lock.name)
