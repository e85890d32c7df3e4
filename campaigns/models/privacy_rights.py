"""The person's rights (``campaigns.privacy``): erasure requests and their two-person approval."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.models.base import Base, BigId, UTCDateTime

ErasureStatus = Literal["open", "done", "rejected"]  # open: waits for an admin's approval
ErasureSource = Literal["staff", "portal", "app"]


class ErasureRequest(Base):
    """A request to erase a person: the care case with its legal deadline and who asked and who approved."""

    __tablename__ = "erasure_requests"
    __table_args__ = (Index("ix_erasure_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId, index=True)
    source: Mapped[ErasureSource] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(500))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ErasureStatus] = mapped_column(String(8), default="open")
    decided_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decision: Mapped[str | None] = mapped_column(String(500), nullable=True)  # why a request was rejected


class UssdSession(Base):
    """One USSD callback as received (kept for ``retention.ussd_sessions_days``, then deleted)."""

    __tablename__ = "ussd_sessions"
    __table_args__ = (Index("ix_ussd_sessions_created", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True, index=True)
    text: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
