"""Watermarks of the incremental rollups: how far a rollup has got, in its own unit (a day's ordinal, an hour since
the epoch), kept in a ``counters`` row so it survives a Redis flush.

Every rollup (the dashboard's ``daily_stats``, the SLA's ``sla_daily``, the care ``*_hourly`` tables) reads its
watermark the same way and takes its next range the same way: the counter row locked, so concurrent passes
serialise on it and each unit is rolled once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.models import Counter


def read(session: Session, name: str) -> int | None:
    """The last unit rolled (None before the first pass)."""
    return session.scalar(select(Counter.value).where(Counter.name == name))


@dataclass
class Window:
    """The next units to roll, ``start`` to ``end`` inclusive, with the locked counter row."""

    counter: Counter
    start: int
    end: int

    def done(self, session: Session) -> int:
        """Move the watermark to ``end`` (the caller commits with the rolled rows); returns how many units."""
        self.counter.value = self.end
        session.flush()
        return self.end - self.start + 1


def next_window(
    session: Session, name: str, *, last: int, most: int, before_first: Callable[[], int | None]
) -> Window | None:
    """Lock the watermark and return the units after it up to ``last`` (at most ``most``), or None if none is due.

    On the first pass ``before_first()`` says where to start: the unit before the first one to roll, or None when
    there is nothing to roll yet (no row is written then).
    """
    counter = session.get(Counter, name, with_for_update=True)
    if counter is None:
        origin = before_first()
        if origin is None:
            return None
        counter = Counter(name=name, value=origin)
        session.add(counter)
        session.flush()
    start = int(counter.value) + 1
    end = min(last, start + most - 1)
    return Window(counter, start, end) if end >= start else None
