"""The one clock: aware UTC now (every stored time is UTC; see ``campaigns.models.base.UTCDateTime``)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)
