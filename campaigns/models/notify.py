"""The notification outbox and webhook subscriptions (``campaigns.notify``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.models.base import Base, BigId, UTCDateTime

OutboxStatus = Literal["pending", "sent", "failed", "suppressed"]  # one outgoing SMS or webhook delivery


class Outbox(Base):
    """Notifications written in the same database transaction as their cause; sent by workers."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status", "status", "id"),
        Index("ix_outbox_customer", "customer_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    channel: Mapped[str] = mapped_column(String(16))  # sms | webhook
    template: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # deferred / back-off
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recipient: Mapped[str | None] = mapped_column(String(500), nullable=True)  # phone (E.164) or webhook URL
    body: Mapped[str | None] = mapped_column(Text, nullable=True)  # as sent (one-time codes are masked)
    segments: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class WebhookSubscription(Base):
    """A provider's subscription to events; deliveries are outbox rows on the ``webhook`` channel."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, index=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))  # kept to sign deliveries (it is a signing key)
    events: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
