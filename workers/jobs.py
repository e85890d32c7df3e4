"""RQ job entry points: thin wrappers over the drain, the sweeper and the imports."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict
from typing import Any, TypeVar

from campaigns import logctx

from .bootstrap import runtime
from .drain import drain
from .sweeper import sweep

F = TypeVar("F", bound=Callable[..., Any])


def _logged(job: F) -> F:
    """Every log line written while the job runs carries its RQ job id."""

    @functools.wraps(job)
    def run(*args: Any, **kwargs: Any) -> Any:
        from rq import get_current_job

        current = get_current_job()
        with logctx.bind(job_id=current.id if current is not None else None):
            return job(*args, **kwargs)

    return run  # type: ignore[return-value]


@_logged
def drain_partition(partition: int) -> dict[str, Any]:
    """Credit everything waiting in one partition (ids travel in the partition's Redis list)."""
    rt = runtime()
    report = drain(rt, partition)
    if report.messages:
        rt.dispatcher.schedule_notify()  # points, tiers and rewards wrote outbox rows
    return asdict(report)


@_logged
def send_notifications() -> dict[str, Any]:
    """Send the due outbox rows (SMS and provider webhooks) through the configured adapters."""
    return runtime().send_notifications(from_job=True)


@_logged
def care_monitor() -> dict[str, int | str]:
    """The care centre's periodic pass: SLA, claim deadlines, early warnings, escalation."""
    from .care import monitor

    return monitor(runtime())


@_logged
def sweep_queued() -> int:
    return sweep(runtime())


@_logged
def run_import(import_id: int) -> dict[str, Any] | None:
    """Run or resume one uploaded import; accepted ids go to the same dispatcher as the API's."""
    from flask import current_app, has_app_context

    from .imports import run_claimed

    rt = runtime()
    dispatcher = current_app.extensions["loyalty.dispatcher"] if has_app_context() else rt.dispatcher
    progress = run_claimed(rt, import_id, dispatcher.dispatch)
    if progress is None:
        return None
    return {k: v for k, v in asdict(progress).items() if k != "started"}
