"""Days of the programme's time zone: where a dashboard, SLA or analytics day starts and ends.

Times are stored in UTC; people read days in the programme's zone (``Asia/Ho_Chi_Minh`` by default), so a
transaction at 23:30 UTC on the 3rd belongs to the 4th in Hanoi. Rollups and live queries group by
:func:`day_case`, a CASE over the UTC instants where each local day starts: the same SQL on MariaDB and
SQLite, no time zone tables needed in the database, and right across a daylight-saving change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case

DEFAULT_ZONE = "Asia/Ho_Chi_Minh"


def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(name or DEFAULT_ZONE)


def day_of(at: datetime, name: str | None) -> date:
    """The local calendar day of a stored time (a naive one is UTC, as the database keeps it)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return at.astimezone(zone(name)).date()


def start_of(day: date, name: str | None) -> datetime:
    """The UTC instant the local ``day`` begins."""
    return datetime(day.year, day.month, day.day, tzinfo=zone(name)).astimezone(UTC)


def bounds(first: date, last: date, name: str | None) -> tuple[datetime, datetime]:
    """[start of ``first``, start of the day after ``last``) in UTC."""
    return start_of(first, name), start_of(last + timedelta(days=1), name)


def day_case(column: Any, first: date, last: date, name: str | None) -> Any:
    """SQL giving the local day's ordinal of ``column`` for times from ``first`` to ``last`` (inclusive).

    Times before ``first`` map to its ordinal and times after ``last`` to ``last``'s: the caller's
    WHERE keeps the range, this only labels the rows.
    """
    whens = [
        (column < start_of(first + timedelta(days=i + 1), name), first.toordinal() + i)
        for i in range(max(1, (last - first).days))
    ]
    return case(*whens, else_=last.toordinal())


def ordinal_day(value: Any) -> date:
    return date.fromordinal(int(value))
