"""RQ job entry points: thin wrappers over the drain and the sweeper."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from .drain import drain
from .runtime import runtime
from .sweeper import sweep


def drain_partition(partition: int) -> dict[str, Any]:
    """Credit everything waiting in one partition (ids travel in the partition's Redis list)."""
    return asdict(drain(runtime(), partition))


def sweep_queued() -> int:
    return sweep(runtime())
