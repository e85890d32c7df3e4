"""Transactions as providers sent them, their reversals, campaign budgets and usage (``campaigns.accrual``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.models.base import Base, BigId, UTCDateTime

TxStatus = Literal["queued", "processed", "rejected", "reversed"]  # a transaction's life: queued until credited


class Transaction(Base):
    """One accrual transaction as the provider sent it; inserted before the API answers."""

    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("provider_id", "source", "provider_txn_id", name="uq_txn_provider_source_txn"),
        Index("ix_txn_status_received", "status", "received_at"),
        Index("ix_txn_customer", "customer_id", "id"),
        Index("ix_txn_customer_status", "customer_id", "status", "id"),  # a customer's older queued rows
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"))
    provider_txn_id: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(8), default="txn")  # txn | event
    event_type: Mapped[str] = mapped_column(String(32), default="purchase")
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(19, 4))
    currency: Mapped[str] = mapped_column(String(3))
    category: Mapped[str | None] = mapped_column(String(64), nullable=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    status: Mapped[TxStatus] = mapped_column(String(16), default="queued")
    reject_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reversed_amount: Mapped[Decimal] = mapped_column(Numeric(19, 4), default=Decimal(0))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body_hash: Mapped[str] = mapped_column(String(64))


ReversalStatus = Literal["pending", "applied"]  # a reversal waits for the crediting worker


class Reversal(Base):
    """A full or partial refund of a transaction; applied once the transaction is credited."""

    __tablename__ = "reversals"
    __table_args__ = (UniqueConstraint("transaction_id", "provider_reversal_id", name="uq_reversal_provider_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), index=True)
    provider_reversal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(19, 4))
    status: Mapped[ReversalStatus] = mapped_column(String(16), default="pending")
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CampaignCounter(Base):
    """Budget consumption of a campaign; locked row by row so racing workers never overspend."""

    __tablename__ = "campaign_counters"

    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    rewards: Mapped[int] = mapped_column(BigInteger, default=0)


class CampaignUsage(Base):
    """Per customer, campaign and local day: points and awards (caps, limits per period)."""

    __tablename__ = "campaign_usage"

    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    awards: Mapped[int] = mapped_column(Integer, default=0)


ChallengeStatus = Literal["in_progress", "completed"]  # one customer's progress on one challenge in one period


class ChallengeProgress(Base):
    """A customer's step counts on a campaign's challenge in one period (``2027-03``, ``2027-W09``, ``campaign``)."""

    __tablename__ = "challenge_progress"
    __table_args__ = (
        UniqueConstraint("customer_id", "campaign_id", "period", name="uq_challenge_progress"),
        Index("ix_challenge_progress_campaign", "campaign_id", "period"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    campaign_id: Mapped[int] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(16))
    counts: Mapped[list[int]] = mapped_column(JSON, default=list)  # one per step, in document order
    status: Mapped[ChallengeStatus] = mapped_column(String(16), default="in_progress")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_by: Mapped[int | None] = mapped_column(BigId, nullable=True)  # the transaction that completed it
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ChallengeCount(Base):
    """The marker of one transaction counted toward one step: a retried or replayed credit never counts twice."""

    __tablename__ = "challenge_counts"
    __table_args__ = (UniqueConstraint("progress_id", "transaction_id", name="uq_challenge_count"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    progress_id: Mapped[int] = mapped_column(BigId)
    transaction_id: Mapped[int] = mapped_column(BigId, index=True)
    step: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RuleUsage(Base):
    """Per customer, campaign rule and local day: awards of that rule (a limit written on the rule itself)."""

    __tablename__ = "rule_usage"

    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    awards: Mapped[int] = mapped_column(Integer, default=0)


ExperimentGroup = Literal["treated", "control"]  # rules.experiments.group_of


class ExperimentExposure(Base):
    """A customer a holdout campaign evaluated: its group, and the points awarded (treated) or withheld
    (control), so both sides of the comparison are counted the same way and control is never credited."""

    __tablename__ = "experiment_exposures"
    __table_args__ = (Index("ix_exposure_campaign_cohort", "campaign_id", "cohort"),)

    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    cohort: Mapped[ExperimentGroup] = mapped_column(String(8))
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    evaluations: Mapped[int] = mapped_column(Integer, default=0)
    awarded_points: Mapped[int] = mapped_column(BigInteger, default=0)
    withheld_points: Mapped[int] = mapped_column(BigInteger, default=0)
