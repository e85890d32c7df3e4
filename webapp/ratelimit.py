"""Fixed-window rate limits in Redis counters (in-process counters on the embedded default)."""

from __future__ import annotations

import threading
import time

from flask import current_app, request

from campaigns.errors import DomainError

_local: dict[str, tuple[int, float]] = {}
_lock = threading.Lock()

# (limit, window seconds)
OTP_PER_PHONE = (3, 900)
OTP_PER_IP = (20, 900)
VERIFY_PER_IP = (30, 900)


class RateLimited(DomainError):
    def __init__(self, retry_after: int) -> None:
        super().__init__("rate_limited", f"too many requests; try again in {retry_after} seconds", status=429)
        self.retry_after = retry_after


def hit(name: str, key: str, limit: int, window: int) -> None:
    """Count one request; raise :class:`RateLimited` (429 + Retry-After) above ``limit`` per ``window``."""
    redis = current_app.extensions["loyalty.runtime"].redis
    full = f"loyalty:rl:{name}:{key}"
    if redis is not None:
        pipe = redis.pipeline()
        pipe.incr(full)
        pipe.expire(full, window, nx=True)
        pipe.ttl(full)
        count, _, ttl = pipe.execute()
        if count > limit:
            raise RateLimited(max(1, int(ttl)))
        return
    now = time.time()
    with _lock:
        count, until = _local.get(full, (0, now + window))
        if until <= now:
            count, until = 0, now + window
        _local[full] = (count + 1, until)
    if count + 1 > limit:
        raise RateLimited(max(1, int(until - now)))


def client_ip() -> str:
    return request.remote_addr or "unknown"
