"""Coalition clearing (``campaigns.clearing``): dated provider rates, closed periods and their stored statements."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.models.base import Base, BigId, UTCDateTime


class ProviderRate(Base):
    """What a point costs its funder and what a redemption pays its fulfilling provider, from an instant on.

    Rows are only ever added, never changed: a rate applies to what happens at
    or after ``effective_from`` (never in the past), so history keeps its price.
    ``provider_id`` 0 is the programme's own rate (values the points it funds).
    """

    __tablename__ = "provider_rates"
    __table_args__ = (Index("ix_provider_rate_from", "provider_id", "effective_from"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    issue_cost: Mapped[int] = mapped_column(BigInteger)  # VND per point issued
    redemption_rate: Mapped[int] = mapped_column(BigInteger)  # VND per point redeemed
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SettlementPeriod(Base):
    """A closed month (programme time zone): its statements are stored in ``settlement_lines`` and never change."""

    __tablename__ = "settlement_periods"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="closed")
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_by: Mapped[str] = mapped_column(String(200))


class SettlementLine(Base):
    """One figure of a stored statement; ``amount`` is signed as the party sees it (positive: the programme pays).

    ``party_id``: a provider id, 0 for the programme. ``value`` is informational
    VND (e.g. breakage at issue cost) that is not a payment.
    """

    __tablename__ = "settlement_lines"
    __table_args__ = (Index("ix_settlement_line_period", "period", "party_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7))
    party_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[int] = mapped_column(BigInteger, default=0)
    value: Mapped[int] = mapped_column(BigInteger, default=0)
    origin: Mapped[str | None] = mapped_column(String(200), nullable=True)
