"""Re-dispatch transactions still ``queued`` after a timeout.

MariaDB is the truth and Redis can always be rebuilt: after a Redis flush, a
lost job or a crashed web process between commit and dispatch, this finds the
stranded rows and hands them to their partitions again.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from campaigns.accounts.lifecycle import LifecycleReport, run_all
from campaigns.accrual.transactions import queued_ids
from campaigns.care import sla
from campaigns.catalog import documents as catalog
from campaigns.clock import utcnow
from campaigns.db import BEAT_EVERY_SECONDS, write_heartbeat
from campaigns.notify.outbox import queue_expiring
from campaigns.privacy import retention
from campaigns.reporting import dashboard

from . import memory
from .care import schedule_monitor
from .imports import requeue_stale
from .queues import JOB_TIMEOUT, SWEEP_LOCK_KEY, inflight_key, lock_key, partition_of, pending_key, scheduled_key
from .runtime import Runtime

log = logging.getLogger(__name__)


def sweep(rt: Runtime, *, older_than_seconds: int | None = None, limit: int = 50_000) -> int:
    """Re-dispatch stranded transactions; returns how many were found.

    The periodic pass (no ``older_than_seconds``) runs once per interval across
    all workers; an explicit call (CLI, operator, test) always runs.
    """
    age = rt.sweep_after_seconds if older_than_seconds is None else older_than_seconds
    cutoff = utcnow() - timedelta(seconds=age)
    periodic = older_than_seconds is None
    if periodic and rt.redis is not None and not rt.redis.set(SWEEP_LOCK_KEY, 1, nx=True, ex=max(5, age // 2)):
        return 0  # another worker swept a moment ago
    with rt.session_factory() as session:
        pairs = queued_ids(session, cutoff, limit)
    if periodic and pairs and rt.redis is not None:
        # A partition still working through a backlog (a bulk import, a burst) has its ids waiting in
        # Redis: pushing them again would only make the workers skip duplicates (a big import used to
        # be re-pushed 50,000 ids every interval). Such a partition is only woken up; its stragglers
        # are re-dispatched once its list is empty.
        busy = _busy_partitions(rt)
        for p in sorted(busy & {partition_of(c, rt.partitions) for _, c in pairs}):
            rt.dispatcher.schedule(p)
        pairs = [(t, c) for t, c in pairs if partition_of(c, rt.partitions) not in busy]
    if pairs:
        log.warning("sweeper: re-dispatching %s transactions queued for over %ss", len(pairs), age)
        rt.dispatcher.requeue(pairs)
    return len(pairs)


def _busy_partitions(rt: Runtime) -> set[int]:
    assert rt.redis is not None
    pipe = rt.redis.pipeline(transaction=False)
    for p in range(rt.partitions):
        pipe.llen(pending_key(p))
    return {p for p, size in enumerate(pipe.execute()) if size}


def wake_orphaned(rt: Runtime) -> list[int]:
    """Schedule a drain for partitions with ids waiting but neither a job nor a live drainer.

    Ids pushed while a drainer holds the lock ask for no job (the holder re-reads the list); if that
    holder was killed, its lock expires within seconds, and this wakes the partition without waiting
    for the ids to be old enough for the sweeper. A handful of Redis reads per interval.
    """
    if rt.redis is None:
        return []
    pipe = rt.redis.pipeline(transaction=False)
    for p in range(rt.partitions):
        pipe.llen(pending_key(p))
        pipe.llen(inflight_key(p))
        pipe.exists(lock_key(p), scheduled_key(p))
    replies = pipe.execute()
    orphaned = [p for p in range(rt.partitions) if (replies[3 * p] or replies[3 * p + 1]) and not replies[3 * p + 2]]
    woken = [p for p in orphaned if rt.redis.set(scheduled_key(p), 1, nx=True, ex=JOB_TIMEOUT)]  # once cluster-wide
    for p in woken:
        log.warning("partition %s: ids waiting with no job and no drainer; waking it", p)
        rt.dispatcher.schedule(p)
    return woken


def publish_due(rt: Runtime) -> list[tuple[int, int]]:
    """Apply scheduled publications whose time has come, and tell the workers to reload."""
    with rt.session_factory() as session:
        done = catalog.publish_due(session, require_approval=rt.require_approval)
        session.commit()
        if done:
            log.info("scheduled publications applied: %s", done)
            if rt.redis is not None:  # workers without Redis re-read the counter from the database
                rt.dispatcher.announce_publication(session)
    return done


def rollup(rt: Runtime) -> int:
    """Bring the dashboard's and the SLA dashboard's daily rollups up to yesterday (a month of days per call)."""
    added = 0
    with rt.session_factory() as session:
        for refresh in (dashboard.refresh_rollup, sla.refresh_rollup):
            while n := refresh(session):
                session.commit()
                added += n
        session.commit()
    return added


def queue_expiring_notices(rt: Runtime) -> int:
    """Outbox rows for points expiring within 30 days (one per customer per month)."""

    with rt.session_factory() as session:
        n = queue_expiring(session)
        session.commit()
    return n


def lifecycle(rt: Runtime, *, requalify: bool = False) -> LifecycleReport:
    """Release pending points and expire what is due (and requalify tiers when asked); then delete the personal
    data older than the programme's retention."""
    report = run_all(rt.session_factory, rt.published, requalify=requalify)
    with rt.session_factory() as session:
        log.info("%s", retention.purge(session))
        session.commit()
    return report


class SweeperThread(threading.Thread):
    """Periodic duties inside a worker process, each run once cluster-wide thanks to Redis locks:
    the sweeper and scheduled publications every interval (publications lock the campaign row), the
    points lifecycle and the dashboard rollup every few minutes, tier requalification daily."""

    def __init__(self, rt: Runtime, interval: float, lifecycle_every: float = 300.0) -> None:
        super().__init__(name="loyalty-sweeper", daemon=True)
        self.rt, self.interval, self.lifecycle_every = rt, interval, lifecycle_every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                wake_orphaned(self.rt)
                sweep(self.rt)
                publish_due(self.rt)
                requeue_stale(self.rt)
                schedule_monitor(self.rt, self.rt.care_monitor_seconds)
                r = self.rt.redis
                if r is not None:
                    self.rt.dispatcher.schedule_notify()  # due retries and deferred messages
                    hour = utcnow().strftime("%Y%m%d%H")
                    if r.set(f"{SWEEP_LOCK_KEY}:expiring:{hour}", 1, nx=True, ex=2 * 3600):
                        log.info("expiring-points notices: %s", queue_expiring_notices(self.rt))
                if r is not None and r.set(f"{SWEEP_LOCK_KEY}:lifecycle", 1, nx=True, ex=int(self.lifecycle_every)):
                    day = utcnow().strftime("%Y%m%d")
                    daily = bool(r.set(f"{SWEEP_LOCK_KEY}:requalify:{day}", 1, nx=True, ex=2 * 86400))
                    report = lifecycle(self.rt, requalify=daily)
                    log.info("lifecycle: %s", report)
                    if days := rollup(self.rt):
                        log.info("dashboard rollup: %s day(s) added", days)
            except Exception:  # keep going through a database or Redis outage
                log.exception("periodic pass failed")
            memory.release(force=True)  # a lifecycle pass loads tens of MB once; give them back


class HeartbeatThread(threading.Thread):
    """With a read replica configured: the primary's heartbeat every second, so a report read from the replica
    can say how old its data is to the second even when no web process has routed a read lately
    (``campaigns.db.ReadReplica``). One tiny upsert per second per worker process."""

    def __init__(self, rt: Runtime, every: float = BEAT_EVERY_SECONDS) -> None:
        super().__init__(name="loyalty-replica-heartbeat", daemon=True)
        self.rt, self.every = rt, every
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.every):
            try:
                with self.rt.session_factory.begin() as session:
                    write_heartbeat(session, utcnow())
            except Exception:  # the primary is down: the replica's lag grows, reads fall back; keep beating
                log.warning("replica heartbeat failed", exc_info=True)
