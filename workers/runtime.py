"""What a worker process needs: a session factory, Redis, the rule cache, the settings.

Set once by whoever starts the process (the ``flask worker`` command, a test,
the embedded in-process queue); jobs stay small functions that look it up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from campaigns.accrual.crediting import CreditReport, credit_batch
from campaigns.accrual.transactions import stranded_before
from campaigns.catalog.documents import publication_counter
from campaigns.catalog.published import Published
from campaigns.catalog.published import load as load_published
from campaigns.customers.aggregates import AggregateCache
from campaigns.models import utcnow
from campaigns.notify.gateways import LoggingGateway, SmsGateway

from .queues import NOTIFY_LOCK_KEY, NOTIFY_SCHEDULED_KEY, PUBLICATION_KEY, RedisDispatcher

log = logging.getLogger(__name__)

RETRYABLE_MYSQL = {1205, 1213}  # lock wait timeout, deadlock


@dataclass
class Runtime:
    session_factory: sessionmaker[Session]
    redis: Redis | None
    partitions: int = 8
    batch_size: int = 500
    sweep_after_seconds: int = 60
    max_future_seconds: int = 300
    import_chunk_rows: int = 2000
    care_monitor_seconds: int = 60
    db_recheck_seconds: float = 5.0
    _published: Published | None = None
    _published_version: int | None = None
    _db_checked_at: float = 0.0
    _db_counter: int = 0
    sms_gateway: SmsGateway = field(default_factory=LoggingGateway)
    webhook_post: Any = None  # callable(url, body, headers) -> status; None: urllib

    @property
    def dispatcher(self) -> RedisDispatcher:
        if self.redis is None:
            raise RuntimeError("no Redis configured")
        if not hasattr(self, "_dispatcher"):
            self._dispatcher = RedisDispatcher(self.redis, self.partitions)
        return self._dispatcher

    def _publication(self, session: Session) -> int:
        """The counter to compare with the cache: Redis when it has it, else the database.

        The database is also re-read every few seconds so a lost Redis update
        (flush, failover) can never hide a publication for long.
        """
        now = time.monotonic()
        if self.redis is not None:
            value = self.redis.get(PUBLICATION_KEY)
            if value is not None and now - self._db_checked_at < self.db_recheck_seconds:
                return max(int(value), self._db_counter)
        self._db_counter = publication_counter(session)
        self._db_checked_at = now
        if self.redis is not None:
            self.redis.set(PUBLICATION_KEY, self._db_counter)
        return self._db_counter

    @property
    def aggregate_cache(self) -> AggregateCache | None:
        if self.redis is None:
            return None
        if not hasattr(self, "_aggregate_cache"):
            self._aggregate_cache = AggregateCache(self.redis)
        return self._aggregate_cache

    def published(self, session: Session) -> Published:
        """The compiled programme, reloaded when the publication counter moves."""
        version = self._publication(session)
        if self._published is None or version != self._published_version:
            self._published = load_published(session)
            self._published_version = version
            log.info("loaded published programme %s", version)
        return self._published

    def forget_published(self) -> None:
        self._published, self._published_version, self._db_checked_at = None, None, 0.0

    @property
    def stranded_horizon(self) -> timedelta:
        """How long after a failed dispatch the sweeper may still be re-dispatching stranded rows."""
        return timedelta(seconds=max(600, 10 * self.sweep_after_seconds))

    def credit(self, txn_ids: Sequence[int]) -> CreditReport:
        """Credit one batch in one database transaction, retrying deadlocks.

        After a failed dispatch, a customer's older stranded transactions join the batch ahead of it.
        """
        for attempt in range(5):
            with self.session_factory() as session:
                try:
                    ids: Sequence[int] = txn_ids
                    if older := stranded_before(session, txn_ids, utcnow(), self.stranded_horizon):
                        log.warning("crediting %s older stranded transactions ahead of their batch", len(older))
                        ids = sorted({*txn_ids, *older})
                    report = credit_batch(session, ids, self.published(session), cache=self.aggregate_cache)
                    session.commit()
                    if self.aggregate_cache is not None:
                        try:
                            self.aggregate_cache.apply(report.agg_updates)
                        except RedisError:  # the copies are checked against MariaDB on every read
                            log.warning("could not update aggregate copies in Redis")
                    return report
                except OperationalError as exc:
                    session.rollback()
                    errno = getattr(exc.orig, "args", [None])[0]
                    if errno in RETRYABLE_MYSQL and attempt < 4:
                        log.warning("retrying batch after MySQL error %s", errno)
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    raise
        raise AssertionError("unreachable")

    def send_notifications(self, *, from_job: bool = False) -> dict[str, Any]:
        """Send what is due in the outbox; one sender at a time cluster-wide (a Redis lock)."""
        from campaigns.notify.outbox import send_due
        from campaigns.notify.webhooks import deliver_due

        token = None
        if self.redis is not None:
            if from_job:
                self.redis.delete(NOTIFY_SCHEDULED_KEY)  # a row written from now on schedules a new job
            token = str(time.time())
            if not self.redis.set(NOTIFY_LOCK_KEY, token, nx=True, px=300_000):
                return {"skipped": "another sender is running"}
        try:
            sms = send_due(self.session_factory, self.sms_gateway)
            hooks = deliver_due(self.session_factory, post=self.webhook_post)
        finally:
            if self.redis is not None and token is not None and self.redis.get(NOTIFY_LOCK_KEY) == token.encode():
                self.redis.delete(NOTIFY_LOCK_KEY)
        return {"sms": asdict(sms), "webhooks": asdict(hooks)}


_runtime: Runtime | None = None


def configure(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def runtime() -> Runtime:
    """The configured runtime; a bare ``rq worker`` process builds it from the environment."""
    if _runtime is None:
        from .bootstrap import from_environment

        configure(from_environment())
    assert _runtime is not None
    return _runtime
