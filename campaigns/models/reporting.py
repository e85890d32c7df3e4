"""The dashboard's daily rollup (``campaigns.reporting``)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Integer, Numeric
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.models.base import Base


class DailyStat(Base):
    """Dashboard rollup per local day (the programme's time zone) and provider (0: none), for days that are over.

    Built incrementally by the workers' periodic thread from the append-only
    ledger and the transactions; the dashboard reads it for past days and
    queries today (and any day not rolled up yet) live.
    """

    __tablename__ = "daily_stats"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    redeemed: Mapped[int] = mapped_column(BigInteger, default=0)
    txn_count: Mapped[int] = mapped_column(BigInteger, default=0)
    txn_amount: Mapped[Decimal] = mapped_column(Numeric(21, 4), default=Decimal(0))
