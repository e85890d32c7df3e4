"""Campaigns, their versioned documents and the programme settings (``campaigns.catalog``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.models.base import Base, UTCDateTime

CampaignStatus = Literal["draft", "published", "archived"]  # a campaign's and a version's stored status


class Campaign(Base):
    """A named campaign; its documents live in :class:`CampaignVersion`."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(16), default="earning")
    status: Mapped[CampaignStatus] = mapped_column(String(16), default="draft")
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


ReviewState = Literal["none", "in_review", "approved", "rejected"]  # four-eyes review of a version


class CampaignVersion(Base):
    __tablename__ = "campaign_versions"
    __table_args__ = (UniqueConstraint("campaign_id", "version", name="uq_campaign_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[CampaignStatus] = mapped_column(String(16), default="draft")
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(Text)
    source_format: Mapped[str] = mapped_column(String(8))
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # review: draft -> in_review -> approved (by someone other than the submitter) -> published
    review_state: Mapped[ReviewState] = mapped_column(String(16), default="none", server_default="none")
    submitted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # scheduled publication: applied by the workers' periodic thread (or ``campaigns publish-due``)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    scheduled_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Setting(Base):
    """Programme settings (expiry policy, negative balances, caps) editable without a deploy."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
