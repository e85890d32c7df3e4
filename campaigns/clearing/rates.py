"""Provider rates with effective dates: what a point costs its funder, what a redemption pays its fulfiller.

``issue_cost``: VND the funder pays per point issued; ``redemption_rate``: VND
the programme pays a fulfilling provider per point redeemed through it. Both
are whole VND per point, so every amount is points x rate: no rounding.

A change never rewrites history: a rate takes effect at the start of its
``--from`` day in the programme's time zone, which may not be in the past; a
rate dated today takes effect at once (the events earlier today keep the rate
they had). Rates are only ever added; the history is the list of them. Before a
provider's first rate both rates are 0. The programme's own rate (code
``programme``) values the points it funds in the liability.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from campaigns.catalog import programme
from campaigns.clearing import PROGRAMME
from campaigns.errors import invalid, not_found
from campaigns.models import AuditEvent, Provider, ProviderRate, utcnow

PROGRAMME_CODE = "programme"
MAX_RATE = 1_000_000_000  # VND per point: far above any real point value, far below an overflow


def party_id(session: Session, code: str) -> int:
    """The funder / party id of a provider code (``programme``: 0)."""
    if code == PROGRAMME_CODE:
        return PROGRAMME
    pid = session.scalar(select(Provider.id).where(Provider.code == code))
    if pid is None:
        raise not_found(f"provider '{code}'")
    return pid


def _whole(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(path, f"expected a whole number of VND per point, got {type(value).__name__}")
    if not 0 <= value <= MAX_RATE:
        raise invalid(path, f"must be between 0 and {MAX_RATE:,} VND per point")
    return value


def _effective(session: Session, value: Any, now: datetime) -> datetime:
    tz = ZoneInfo(programme.load(session).timezone)
    today = now.astimezone(tz).date()
    if value is None:
        return now
    if isinstance(value, date):
        day = value
    elif isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise invalid("from", f"{value!r} is not a date (YYYY-MM-DD)") from None
    else:
        raise invalid("from", "expected a date (YYYY-MM-DD)")
    if day.year > 2999:
        raise invalid("from", "must be a date before 3000")
    if day < today:
        raise invalid("from", f"{day.isoformat()} is in the past: a rate change never rewrites history")
    return now if day == today else datetime.combine(day, time(), tz)


def set_rates(
    session: Session,
    code: str,
    issue_cost: Any,
    redemption_rate: Any,
    *,
    effective_from: Any = None,
    actor: str,
    now: datetime | None = None,
) -> ProviderRate:
    """Add a rate for ``code`` from ``effective_from`` (a date, today or later; None: now); audited."""
    now = now or utcnow()
    pid = party_id(session, code)
    rate = ProviderRate(
        provider_id=pid,
        effective_from=_effective(session, effective_from, now),
        issue_cost=_whole(issue_cost, "issue_cost"),
        redemption_rate=_whole(redemption_rate, "redemption_rate"),
        actor=actor,
        created_at=now,
    )
    session.add(rate)
    session.flush()
    session.add(
        AuditEvent(
            actor=actor,
            action="provider.rates_set",
            object_type="provider",
            object_id=str(pid),
            details={
                "code": code,
                "issue_cost": rate.issue_cost,
                "redemption_rate": rate.redemption_rate,
                "effective_from": rate.effective_from.isoformat(),
            },
            at=now,
        )
    )
    session.flush()
    return rate


def rate_view(rate: ProviderRate) -> dict[str, Any]:
    return {
        "effective_from": rate.effective_from,
        "issue_cost": rate.issue_cost,
        "redemption_rate": rate.redemption_rate,
        "set_by": rate.actor,
        "set_at": rate.created_at,
    }


def history(session: Session, code: str) -> dict[str, Any]:
    """Every rate of ``code``, oldest first, and the one in force now."""
    pid = party_id(session, code)
    rows = session.scalars(
        select(ProviderRate)
        .where(ProviderRate.provider_id == pid)
        .order_by(ProviderRate.effective_from, ProviderRate.id)
    ).all()
    book = RateBook(list(rows))
    issue, redeem = book.at(pid, utcnow())
    tz = ZoneInfo(programme.load(session).timezone)
    return {
        "provider": code,
        "current": {"issue_cost": issue, "redemption_rate": redeem},
        "history": [{**rate_view(r), "effective_from_local": r.effective_from.astimezone(tz)} for r in rows],
    }


@dataclass
class RateBook:
    """All rates, for pricing many events: ``at(party, instant)`` -> (issue_cost, redemption_rate)."""

    rates: list[ProviderRate]

    def __post_init__(self) -> None:
        self.by_party: dict[int, list[tuple[datetime, int, int, int]]] = {}
        for r in sorted(self.rates, key=lambda r: (r.effective_from, r.id)):
            self.by_party.setdefault(r.provider_id, []).append(
                (r.effective_from, r.id, r.issue_cost, r.redemption_rate)
            )
        self.boundaries = sorted({r.effective_from for r in self.rates})

    @classmethod
    def load(cls, session: Session) -> RateBook:
        return cls(list(session.scalars(select(ProviderRate))))

    def at(self, party: int, moment: datetime) -> tuple[int, int]:
        rows = self.by_party.get(party, [])
        i = bisect.bisect_right([r[0] for r in rows], moment)
        return (rows[i - 1][2], rows[i - 1][3]) if i else (0, 0)

    def segment_start(self, index: int) -> datetime | None:
        """The first instant of price segment ``index`` (0: before any rate)."""
        return self.boundaries[index - 1] if index else None

    def in_segment(self, party: int, index: int) -> tuple[int, int]:
        start = self.segment_start(index)
        return self.at(party, start) if start is not None else (0, 0)
