"""RQ job entry points: thin wrappers over the drain and the sweeper."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .drain import drain
from .runtime import runtime
from .sweeper import sweep


def drain_partition(partition: int) -> dict[str, Any]:
    """Credit everything waiting in one partition (ids travel in the partition's Redis list)."""
    rt = runtime()
    report = drain(rt, partition)
    if report.processed:
        rt.dispatcher.schedule_notify()  # points, tiers and rewards may have written outbox rows
    return asdict(report)


def send_notifications() -> dict[str, Any]:
    """Send the due outbox rows (SMS and provider webhooks) through the configured adapters."""
    return runtime().send_notifications(from_job=True)


def sweep_queued() -> int:
    return sweep(runtime())
