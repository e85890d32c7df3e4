"""Fixed-window rate limits in Redis counters (in-process counters on the embedded default)."""

from __future__ import annotations

import logging
import threading
import time

from flask import request
from redis.exceptions import RedisError

from campaigns.errors import DomainError

from .extensions import redis

log = logging.getLogger(__name__)
_local: dict[str, tuple[int, float]] = {}
_warned_at = 0.0
_lock = threading.Lock()

# (limit, window seconds)
OTP_PER_PHONE = (3, 900)
OTP_PER_IP = (20, 900)
VERIFY_PER_IP = (30, 900)


class RateLimited(DomainError):
    def __init__(self, retry_after: int) -> None:
        super().__init__("rate_limited", f"too many requests; try again in {retry_after} seconds", status=429)
        self.retry_after = retry_after


# Count every key and give one without a window its window (as EXPIRE NX): one EVALSHA per request instead of a
# pipeline of three commands per counter (redis-py's Script loads it again after a SCRIPT FLUSH or a restart).
_COUNT = """
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if ttl < 0 then redis.call('EXPIRE', key, ARGV[i]); ttl = tonumber(ARGV[i]) end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
return out
"""


def hit(name: str, key: str, limit: int, window: int) -> None:
    """Count one request; raise :class:`RateLimited` (429 + Retry-After) above ``limit`` per ``window``."""
    hit_many([(name, key, limit, window)])


def hit_many(rules: list[tuple[str, str, int, int]]) -> None:
    """Count one request against several ``(name, key, limit, window)`` counters in one Redis round trip.

    A limit of 0 (or less) switches that counter off. Every counter is counted, then the longest wait is
    raised, so a client over two limits is told the later time.
    """
    rules = [r for r in rules if r[2] > 0]
    if not rules:
        return
    client = redis()
    waits: list[int] = []
    if client is not None:
        try:
            replies = client.register_script(_COUNT)(
                keys=[f"loyalty:rl:{name}:{key}" for name, key, _, _ in rules], args=[r[3] for r in rules]
            )
        except RedisError:  # fail open: MariaDB is the truth, and ingestion must go on while Redis is away
            _warn_unlimited()
            return
        for i, (_name, _key, limit, _window) in enumerate(rules):
            count, ttl = replies[2 * i : 2 * i + 2]
            if count > limit:
                waits.append(max(1, int(ttl)))
    else:
        now = time.time()
        with _lock:
            for name, key, limit, window in rules:
                full = f"loyalty:rl:{name}:{key}"
                count, until = _local.get(full, (0, now + window))
                if until <= now:
                    count, until = 0, now + window
                _local[full] = (count + 1, until)
                if count + 1 > limit:
                    waits.append(max(1, int(until - now)))
    if waits:
        raise RateLimited(max(waits))


def _warn_unlimited() -> None:
    global _warned_at
    now = time.monotonic()
    if now - _warned_at > 60:
        _warned_at = now
        log.warning("Redis unreachable: rate limits are not enforced until it is back")


def client_ip() -> str:
    """The peer address; behind ``LOYALTY_PROXY_COUNT`` trusted proxies, ProxyFix has put the client's here."""
    return request.remote_addr or "unknown"
