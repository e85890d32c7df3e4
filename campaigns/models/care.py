"""Claims, alerts and the care centre's rollups (``campaigns.care``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Date, Double, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.models.base import Base, BigId, UTCDateTime

ClaimState = Literal["open", "assigned", "investigating", "resolved", "rejected"]  # a customer-care claim's workflow


class Claim(Base):
    """'Report missing points': stored now, worked by the care centre later."""

    __tablename__ = "claims"
    __table_args__ = (
        Index("ix_claim_customer", "customer_id", "id"),
        Index("ix_claim_status", "status", "id"),
        Index("ix_claim_provider", "provider_id", "status"),
        Index("ix_claim_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    transaction_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    occurred_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(19, 4), nullable=True)
    description: Mapped[str] = mapped_column(String(1000), default="")
    channel: Mapped[str] = mapped_column(String(16))  # portal | app | sms | ussd | care
    status: Mapped[ClaimState] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # the care workflow (campaigns/care/claims.py)
    filed_by: Mapped[str | None] = mapped_column(String(254), nullable=True)  # the agent who filed it for the customer
    filed_ref: Mapped[str | None] = mapped_column(String(96), nullable=True, unique=True)  # channel idempotency
    assignee: Mapped[str | None] = mapped_column(String(254), nullable=True)  # who investigates it
    state_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # deadline of the current state
    transaction_id: Mapped[int | None] = mapped_column(BigId, nullable=True)  # the matched transaction
    points: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # credited by the resolving adjustment
    adjustment_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(1000), nullable=True)  # what the customer is told
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# Claims per period (analytics, the claims-rise warning) without a scan of the whole table.
Index("ix_claim_created", Claim.created_at)


class ClaimEvent(Base):
    """One step of a claim's workflow: who moved it from which state to which, when and why."""

    __tablename__ = "claim_events"
    __table_args__ = (Index("ix_claim_event_claim", "claim_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_id: Mapped[int] = mapped_column(BigId)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))
    from_status: Mapped[ClaimState | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[ClaimState] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(1000), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


AlertStatus = Literal["open", "acknowledged", "resolved"]  # a monitoring alert


class Alert(Base):
    """A condition the care centre must act on (SLA breach, overdue claim, early warning).

    ``active_key`` equals ``key`` while the alert is open or acknowledged and is
    NULL once resolved: the unique index keeps one live alert per condition, and a
    condition that persists after staff resolved it raises a new alert.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("active_key", name="uq_alert_active_key"),
        Index("ix_alert_status", "status", "id"),
        Index("ix_alert_provider", "provider_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(191))
    active_key: Mapped[str | None] = mapped_column(String(191), nullable=True)
    kind: Mapped[str] = mapped_column(String(32))  # sla | claim | volume | velocity | budget | claims_rise ...
    severity: Mapped[str] = mapped_column(String(16))  # warning | overdue | critical
    status: Mapped[AlertStatus] = mapped_column(String(16), default="open")
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subject: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(String(1000))
    suggested_action: Mapped[str] = mapped_column(String(1000), default="")
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    oldest_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    escalation: Mapped[int] = mapped_column(Integer, default=0)  # 0 unit, 1 provider manager, 2 programme admin
    times_raised: Mapped[int] = mapped_column(Integer, default=1)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class SlaDaily(Base):
    """Accrual SLA per UTC day (of receipt) and provider, for days that are over: the SLA dashboard's history.

    Rolled up once by the workers' periodic pass (exact latency percentiles
    computed from every credited transaction of the day), so the dashboard
    never re-reads weeks of transactions. ``sla_seconds`` is the SLA that
    applied when the day was rolled up; ``late`` counts transactions credited
    after it plus those still waiting beyond it.
    """

    __tablename__ = "sla_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sla_seconds: Mapped[int] = mapped_column(Integer)
    credited: Mapped[int] = mapped_column(BigInteger, default=0)
    within_sla: Mapped[int] = mapped_column(BigInteger, default=0)
    late: Mapped[int] = mapped_column(BigInteger, default=0)
    p50_seconds: Mapped[float | None] = mapped_column(Double, nullable=True)
    p90_seconds: Mapped[float | None] = mapped_column(Double, nullable=True)
    p99_seconds: Mapped[float | None] = mapped_column(Double, nullable=True)
    max_seconds: Mapped[float | None] = mapped_column(Double, nullable=True)


class TxnHourly(Base):
    """Transactions received per UTC hour, provider, category, channel and region (``campaigns.care.hourly``).

    The compact source of the early warnings' baselines and of the care
    analytics: an hour is rolled once, after it ended plus the accrual SLA, so
    every transaction in it is either credited (its latency known) or already
    late. ``breaches`` counts those credited later than the SLA or not at all.
    """

    __tablename__ = "txn_hourly"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" when the transaction had none
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    region: Mapped[str] = mapped_column(String(64), primary_key=True)  # attributes.region, else "unknown"
    txn_count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount: Mapped[Decimal] = mapped_column(Numeric(21, 4), default=Decimal(0))
    breaches: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)


class CampaignHourly(Base):
    """Points a campaign issued per UTC hour (earn entries of the ledger): its budget burn rate."""

    __tablename__ = "campaign_hourly"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    points: Mapped[int] = mapped_column(BigInteger, default=0)


class VelocityHourly(Base):
    """Per UTC hour: customers who transacted and the 99th percentile of their count and amount in that hour."""

    __tablename__ = "velocity_hourly"

    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    customers: Mapped[int] = mapped_column(BigInteger, default=0)
    p99_txns: Mapped[int] = mapped_column(BigInteger, default=0)
    p99_amount: Mapped[Decimal] = mapped_column(Numeric(21, 4), default=Decimal(0))
