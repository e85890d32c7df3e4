"""What a worker process needs: a session factory, Redis, the rule cache, the settings.

Set once by whoever starts the process (the ``flask worker`` command, a test,
the embedded in-process queue) through ``workers.bootstrap.configure``; jobs stay
small functions that look it up with ``workers.bootstrap.runtime()``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from campaigns.accrual.crediting import CreditReport, credit_batch
from campaigns.accrual.transactions import in_customer_order
from campaigns.catalog.published import Published
from campaigns.catalog.published import load as load_published
from campaigns.customers.aggregates import AggregateCache
from campaigns.db import make_engine, retry_transient
from campaigns.notify.gateways import LoggingGateway, SmsGateway, from_url
from campaigns.notify.outbox import send_due
from campaigns.notify.webhooks import deliver_due
from campaigns.publication import publication_counter
from campaigns.settings import Settings

from .locks import release, renewer
from .queues import NOTIFY_LOCK_KEY, NOTIFY_SCHEDULED_KEY, PUBLICATION_KEY, RedisDispatcher

log = logging.getLogger(__name__)

NOTIFY_LOCK_SECONDS = 300  # renewed while the sender works, so a pass may take longer


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
    require_approval: bool = False  # LOYALTY_REQUIRE_APPROVAL: scheduled publications answer to four eyes too
    replica_heartbeat: bool = False  # LOYALTY_DATABASE_REPLICA_URL set: beat every second for the replica's lag
    db_recheck_seconds: float = 5.0
    # crediting transactions run on an engine of their own whose sessions wait at most this long on a row lock
    # (LOYALTY_CREDIT_LOCK_WAIT_SECONDS); None: on ``session_factory``, the server's lock wait
    credit_session_factory: sessionmaker[Session] | None = None
    credit_lock_wait_seconds: int = 0
    # how long a partition whose batch found its rows locked is left alone (``workers.drain``): as long as it waited
    credit_cool_off_seconds: float = 10.0
    _published: Published | None = None
    _published_version: int | None = None
    _db_checked_at: float = 0.0
    _db_counter: int = 0
    sms_gateway: SmsGateway = field(default_factory=LoggingGateway)
    webhook_post: Any = None  # callable(url, body, headers) -> status; None: urllib

    @classmethod
    def from_settings(cls, settings: Settings, engine: Engine) -> Runtime:
        """The one way the web app and a bare worker process make their runtime: the same settings, the same way.

        On MariaDB, crediting gets an engine of its own (connections opened on first use, one per crediting
        thread) whose sessions bound their row-lock waits; every other session keeps the server's.
        """
        lock_wait = settings.credit_lock_wait_seconds if engine.dialect.name == "mysql" else 0
        credit_engine = make_engine(settings, lock_wait_seconds=lock_wait) if lock_wait > 0 else None
        return cls(
            session_factory=sessionmaker(bind=engine, expire_on_commit=False),
            credit_session_factory=sessionmaker(bind=credit_engine, expire_on_commit=False) if credit_engine else None,
            credit_lock_wait_seconds=lock_wait,
            credit_cool_off_seconds=float(lock_wait or cls.credit_cool_off_seconds),
            redis=Redis.from_url(settings.redis_url) if settings.redis_url else None,
            partitions=settings.partitions,
            batch_size=settings.batch_size,
            sweep_after_seconds=settings.sweep_after_seconds,
            sms_gateway=from_url(settings.sms_gateway_url, settings.sms_gateway_token),
            max_future_seconds=settings.max_future_skew_seconds,
            import_chunk_rows=settings.import_chunk_rows,
            care_monitor_seconds=settings.care_monitor_seconds,
            require_approval=settings.require_approval,
            replica_heartbeat=bool(settings.database_replica_url),
        )

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

    def credit(self, txn_ids: Sequence[int]) -> CreditReport:
        """Credit one batch in one database transaction, retrying deadlocks.

        A customer's older still-queued transactions join the batch ahead of it (Redis may have lost
        them); ids that must wait for them come back in ``report.deferred``. A row lock held past
        ``credit_lock_wait_seconds`` raises at once (``campaigns.db.is_lock_wait``), nothing committed: the
        drain leaves the batch for later rather than wait again.
        """
        sessions = self.credit_session_factory or self.session_factory

        def attempt() -> CreditReport:
            with sessions() as session:
                ids, deferred = in_customer_order(session, txn_ids, self.batch_size)
                if older := len(set(ids) - set(txn_ids)):
                    log.warning("crediting %s older queued transactions ahead of their batch", older)
                report = credit_batch(session, ids, self.published(session), cache=self.aggregate_cache)
                session.commit()
                report.deferred = deferred
                return report

        report = retry_transient(attempt, attempts=5, backoff=0.05, lock_waits=False)
        if self.aggregate_cache is not None:
            try:
                self.aggregate_cache.apply(report.agg_updates)
            except RedisError:  # the copies are checked against MariaDB on every read
                log.warning("could not update aggregate copies in Redis")
        return report

    def send_notifications(self, *, from_job: bool = False) -> dict[str, Any]:
        """Send what is due in the outbox; one sender at a time cluster-wide (a Redis lock)."""

        lock = None
        if self.redis is not None:
            if from_job:
                self.redis.delete(NOTIFY_SCHEDULED_KEY)  # a row written from now on schedules a new job
            lock = self.redis.lock(NOTIFY_LOCK_KEY, timeout=NOTIFY_LOCK_SECONDS, blocking=False)
            if not lock.acquire():
                return {"skipped": "another sender is running"}
        still_held = renewer(lock)
        try:
            sms = send_due(self.session_factory, self.sms_gateway, keep_going=still_held)
            hooks = deliver_due(self.session_factory, post=self.webhook_post, keep_going=still_held)
        finally:
            release(lock)
        return {"sms": asdict(sms), "webhooks": asdict(hooks)}
