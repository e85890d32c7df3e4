"""The care centre's monitor: one periodic RQ job that runs every check and reconciles the alerts.

Each entry of ``CHECKS`` is a plain service function ``(session, now) -> int``
(how many conditions it saw); they run one after another, each in its own
database transaction so one failing check cannot hide the others' alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from campaigns.care import alerts, claims, clearing_warnings, sla, warnings
from campaigns.clock import utcnow
from campaigns.privacy import erasure

from .queues import CARE_QUEUE, JOB_TIMEOUT, PREFIX
from .runtime import Runtime

log = logging.getLogger(__name__)

MONITOR_LOCK_KEY = f"{PREFIX}:care:monitor"

Check = Callable[[Session, datetime], int]


CHECKS: list[tuple[str, Check]] = [
    ("sla", sla.check),
    ("claims_auto_match", claims.auto_match),
    ("claim_deadlines", claims.check_deadlines),
    ("hourly_rollup", warnings.rollup_check),
    ("volume", warnings.volume_check),
    ("velocity", warnings.velocity_check),
    ("budget", warnings.budget_check),
    ("claims_rise", warnings.claims_rise_check),
    ("funding", clearing_warnings.funding_check),
    ("unclosed_periods", clearing_warnings.unclosed_check),
    ("erasure_deadlines", erasure.check_deadlines),
    ("escalation", alerts.escalate_due),  # last: it sees the alerts the checks above just raised
]


def monitor(rt: Runtime, now: datetime | None = None) -> dict[str, int | str]:
    """Run every check once; returns what each saw (or the error that stopped it)."""
    now = now or utcnow()
    results: dict[str, int | str] = {}
    for name, check in CHECKS:
        with rt.session_factory() as session:
            try:
                results[name] = check(session, now)
                session.commit()
            except Exception as exc:  # one broken check must not silence the others
                session.rollback()
                log.exception("care check %s failed", name)
                results[name] = f"error: {exc.__class__.__name__}"
    return results


def schedule_monitor(rt: Runtime, every: int) -> bool:
    """Enqueue the monitor job at most once per ``every`` seconds cluster-wide."""
    if rt.redis is None or not rt.redis.set(MONITOR_LOCK_KEY, 1, nx=True, ex=max(1, every)):
        return False
    from rq import Queue

    Queue(CARE_QUEUE, connection=rt.redis).enqueue(
        "workers.jobs.care_monitor", job_timeout=JOB_TIMEOUT, result_ttl=300, failure_ttl=7 * 86400
    )
    return True
