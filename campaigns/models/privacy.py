"""Consent by purpose (``campaigns.consent``): every grant and withdrawal is kept, the latest one counts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.models.base import Base, BigId, UTCDateTime

ConsentPurpose = Literal["cross_provider_sharing", "marketing", "profiling"]
ConsentChannel = Literal["portal", "app", "ussd", "sms", "paper_form"]


class ConsentRecord(Base):
    """One decision of a person about one purpose: the history is the record, never updated in place.

    ``text_version`` is the version of the consent text the person was shown (programme setting
    ``consent_texts``); a paper form names its ``form_reference`` and the provider that recorded it.
    """

    __tablename__ = "consent_records"
    __table_args__ = (Index("ix_consent_records_customer", "customer_id", "purpose", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    purpose: Mapped[ConsentPurpose] = mapped_column(String(32))
    granted: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[ConsentChannel] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    text_version: Mapped[str] = mapped_column(String(32))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    form_reference: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_ref: Mapped[str | None] = mapped_column(String(96), nullable=True)  # e.g. the USSD session, for retries
