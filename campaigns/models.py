"""SQLAlchemy 2.0 typed models: the system of record.

Times are stored as naive UTC (MariaDB ``DATETIME(6)`` has no zone) and come
back timezone-aware through :class:`UTCDateTime`, so no code ever compares a
naive and an aware datetime.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on MariaDB, INTEGER on SQLite (only INTEGER PRIMARY KEY autoincrements there).
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in Python, naive UTC with microseconds in the database."""

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Provider(Base):
    """A company of the group that posts transactions (telecom, post office, bank...)."""

    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # the mobile operator whose number lifecycle events (release, SIM swap) the programme trusts
    phone_authority: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class StaffUser(Base):
    """A person working in the staff UI; a ``provider`` user only ever sees its provider's data."""

    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))  # admin | marketer | analyst | care | provider
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), nullable=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    session_version: Mapped[int] = mapped_column(Integer, default=1)  # bumped on password change: old sessions end
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ApiKey(Base):
    """A bearer secret; only its SHA-256 is kept (keys are 256-bit random, so no KDF is needed).

    ``kind``: ``provider`` (a provider's integration key), ``staff`` (a legacy
    management token: admin role) or ``user`` (a staff user's personal token,
    carrying that user's role and provider scope).
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # provider | staff | user
    name: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"), nullable=True, index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class Customer(Base):
    """A person, identified centrally: points and tier belong here, not to a subscription."""

    __tablename__ = "customers"
    __table_args__ = (Index("ix_customer_tier", "tier"),)  # tier distribution (dashboard)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    tier_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Ho_Chi_Minh")
    birth_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    merged_into: Mapped[int | None] = mapped_column(BigId, nullable=True)  # set while merged into another customer
    language: Mapped[str] = mapped_column(String(5), default="vi", server_default="vi")  # vi | en
    sms_opt_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # TUCHOI / STOP


class CustomerIdentity(Base):
    """A phone (E.164) or national ID (CMND 9 / CCCD 12 digits); unique across all customers."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_identity_kind_value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # phone | national_id
    value: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerBalance(Base):
    """Running totals kept in step with the ledger inside the same database transaction."""

    __tablename__ = "customer_balances"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    lifetime_points: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
    qualifying: Mapped[int] = mapped_column(BigInteger, default=0)
    debt: Mapped[int] = mapped_column(BigInteger, default=0)
    agg_seq: Mapped[int] = mapped_column(BigInteger, default=0)  # moves with customer_daily: Redis copies carry it
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Campaign(Base):
    """A named campaign; its documents live in :class:`CampaignVersion`."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(16), default="earning")
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft|published|archived
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    published_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CampaignVersion(Base):
    __tablename__ = "campaign_versions"
    __table_args__ = (UniqueConstraint("campaign_id", "version", name="uq_campaign_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft|published|archived
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    source: Mapped[str] = mapped_column(Text)
    source_format: Mapped[str] = mapped_column(String(8))
    author: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # review: draft -> in_review -> approved (by someone other than the submitter) -> published
    review_state: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    submitted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # scheduled publication: applied by the workers' periodic thread (or ``campaigns publish-due``)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    scheduled_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class AuditEvent(Base):
    """Who changed what, when: every change to programme configuration lands here."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Counter(Base):
    """Small named counters that must survive a Redis flush (e.g. the publication counter)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Transaction(Base):
    """One accrual transaction as the provider sent it; inserted before the API answers."""

    __tablename__ = "transactions"
    __table_args__ = (
        UniqueConstraint("provider_id", "source", "provider_txn_id", name="uq_txn_provider_source_txn"),
        Index("ix_txn_status_received", "status", "received_at"),
        Index("ix_txn_customer", "customer_id", "id"),
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
    status: Mapped[str] = mapped_column(String(16), default="queued")
    reject_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reversed_amount: Mapped[Decimal] = mapped_column(Numeric(19, 4), default=Decimal(0))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    body_hash: Mapped[str] = mapped_column(String(64))


class Reversal(Base):
    """A full or partial refund of a transaction; applied once the transaction is credited."""

    __tablename__ = "reversals"
    __table_args__ = (UniqueConstraint("transaction_id", "provider_reversal_id", name="uq_reversal_provider_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("transactions.id"), index=True)
    provider_reversal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(19, 4))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | applied
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class LedgerEntry(Base):
    """Append-only points ledger. ``entry_key`` makes every credit idempotent."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_customer", "customer_id", "id"),
        Index("ix_ledger_transaction", "transaction_id"),
        Index("ix_ledger_campaign", "campaign_id", "kind"),  # points issued per campaign (staff UI)
        Index("ix_ledger_created", "created_at"),  # points per day (dashboard)
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_key: Mapped[str] = mapped_column(String(96), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    kind: Mapped[str] = mapped_column(String(24))
    points: Mapped[int] = mapped_column(BigInteger)  # spendable, available now
    pending: Mapped[int] = mapped_column(BigInteger, default=0)  # spendable, held for a return window
    qualifying: Mapped[int] = mapped_column(BigInteger, default=0)  # counts towards tiers only
    debt: Mapped[int] = mapped_column(BigInteger, default=0)  # clawback that found no points to take
    transaction_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    reversal_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    reverses_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    campaign_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    campaign_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rule_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rule_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    redemption_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    note: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointLot(Base):
    """Spendable points of one earning, with their own expiry; spending takes the oldest first.

    Mutable bookkeeping *derived from* the ledger (which stays append-only):
    the sum of available lots always equals the balance, which the checker proves.
    """

    __tablename__ = "point_lots"
    __table_args__ = (Index("ix_lot_customer_status_expiry", "customer_id", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    entry_id: Mapped[int] = mapped_column(BigId, unique=True)
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # pending | available | closed
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LotConsumption(Base):
    """Which lots a debit (redemption, clawback, expiry) took points from: nothing is spent twice."""

    __tablename__ = "lot_consumptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(BigId, index=True)
    entry_id: Mapped[int] = mapped_column(BigId, index=True)
    points: Mapped[int] = mapped_column(BigInteger)


class CustomerDaily(Base):
    """Per customer, local day and provider: the source of every rolling aggregate."""

    __tablename__ = "customer_daily"
    __table_args__ = (Index("ix_customer_daily_day", "day", "provider_id", "customer_id"),)  # active customers

    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    txn_count: Mapped[int] = mapped_column(Integer, default=0)
    spend: Mapped[Decimal] = mapped_column(Numeric(19, 4), default=Decimal(0))
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    qualifying: Mapped[int] = mapped_column(BigInteger, default=0)


class CustomerProvider(Base):
    """First contact of a customer with a provider (for 'first transaction with this provider')."""

    __tablename__ = "customer_providers"

    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime)
    txn_count: Mapped[int] = mapped_column(BigInteger, default=0)


class CustomerTag(Base):
    __tablename__ = "customer_tags"

    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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


class TierChange(Base):
    """Tier history: every change with its reason and time."""

    __tablename__ = "tier_changes"
    __table_args__ = (Index("ix_tier_change_customer", "customer_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    from_tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    to_tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reason: Mapped[str] = mapped_column(String(300))
    transaction_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Setting(Base):
    """Programme settings (expiry policy, negative balances, caps) editable without a deploy."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Reward(Base):
    __tablename__ = "rewards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    cost: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: unlimited
    issued: Mapped[int] = mapped_column(BigInteger, default=0)
    per_customer_limit: Mapped[int | None] = mapped_column(Integer, nullable=True)
    valid_from: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    voucher_days: Mapped[int] = mapped_column(Integer, default=30)
    eligibility: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Redemption(Base):
    __tablename__ = "redemptions"
    __table_args__ = (
        UniqueConstraint("requested_by", "idempotency_key", name="uq_redemption_idempotency"),
        Index("ix_redemption_customer", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    reward_id: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(BigInteger)
    voucher_code: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="issued")  # issued | cancelled
    requested_by: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="redeem")  # redeem | campaign
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


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
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|failed|suppressed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # deferred / back-off
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    recipient: Mapped[str | None] = mapped_column(String(500), nullable=True)  # phone (E.164) or webhook URL
    body: Mapped[str | None] = mapped_column(Text, nullable=True)  # as sent (one-time codes are masked)
    segments: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)


class OtpCode(Base):
    """A one-time sign-in code for the customer portal and the mobile API; only its hash is kept."""

    __tablename__ = "otp_codes"
    __table_args__ = (Index("ix_otp_phone", "phone", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    phone: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int] = mapped_column(BigId)
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerToken(Base):
    """A mobile-app bearer token of one customer (SHA-256 at rest, like API keys)."""

    __tablename__ = "customer_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId, index=True)
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)  # signed in through it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


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
    status: Mapped[str] = mapped_column(String(16), default="open")  # open|assigned|investigating|resolved|rejected
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


class SmsInbound(Base):
    """Every keyword message received, with what it was understood as and the reply."""

    __tablename__ = "sms_inbound"
    __table_args__ = (Index("ix_sms_inbound_phone", "phone", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)  # the gateway's id
    phone: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    text: Mapped[str] = mapped_column(String(1000))
    intent: Mapped[str] = mapped_column(String(32))  # balance|tier|redeem_ask|redeem|help|stop|start|unknown
    argument: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reply: Mapped[str | None] = mapped_column(Text, nullable=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # a confirmed redeem_ask
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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


class CustomerGroup(Base):
    """A family (or team) pooling spendable points for redemptions; tiers stay personal."""

    __tablename__ = "customer_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = mapped_column(BigId, index=True)
    max_members: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dissolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class GroupMember(Base):
    """Membership over time; ``active_customer`` is set only while active, so a person is in one group at a time."""

    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_member_group", "group_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(BigId)
    customer_id: Mapped[int] = mapped_column(BigId, index=True)
    active_customer: Mapped[int | None] = mapped_column(BigId, nullable=True, unique=True)
    status: Mapped[str] = mapped_column(String(16))  # invited | active | left | removed | declined
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class GroupEvent(Base):
    """Joining, leaving, removal and splitting, recorded."""

    __tablename__ = "group_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(BigId, index=True)
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CustomerMerge(Base):
    """Two customers merged into one: exactly what moved, so an admin can reverse it."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    survivor_id: Mapped[int] = mapped_column(BigId, index=True)
    merged_id: Mapped[int] = mapped_column(BigId, index=True)
    reason: Mapped[str] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    moved: Mapped[dict[str, Any]] = mapped_column(JSON)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    undone_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class DailyStat(Base):
    """Dashboard rollup per UTC day and provider (0: none), for days that are over.

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


class Import(Base):
    """One bulk file import (transactions or customer migration): its progress, outcome and resume point.

    ``last_line`` moves in the same database transaction as the rows it covers,
    so a killed import resumes exactly after what was committed; ``owner`` is a
    lease: whoever holds it is the one process allowed to advance the import.
    """

    __tablename__ = "imports"
    __table_args__ = (Index("ix_import_provider", "provider_id", "id"), Index("ix_import_fingerprint", "fingerprint"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # transactions | customers
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"), nullable=True)
    source: Mapped[str] = mapped_column(String(8), default="cli")  # cli | api
    file_name: Mapped[str] = mapped_column(String(255))
    stored_path: Mapped[str | None] = mapped_column(String(1000), nullable=True)  # upload kept for the worker
    format: Mapped[str] = mapped_column(String(8))  # csv | ndjson
    compression: Mapped[str | None] = mapped_column(String(8), nullable=True)  # gzip
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="queued")  # queued | running | done | failed
    rows_read: Mapped[int] = mapped_column(BigInteger, default=0)
    accepted: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    points: Mapped[int] = mapped_column(BigInteger, default=0)  # opening points credited (customers)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)  # file position at the last commit
    last_line: Mapped[int] = mapped_column(BigInteger, default=0)  # first line of the last committed row
    resume_offset: Mapped[int] = mapped_column(BigInteger, default=0)  # (decompressed) offset of the last chunk
    resume_line: Mapped[int] = mapped_column(BigInteger, default=0)  # lines before that offset
    message: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ImportProblem(Base):
    """A rejected row of an import, written with the chunk it belongs to (the error report, exactly once)."""

    __tablename__ = "import_errors"
    __table_args__ = (Index("ix_import_error_line", "import_id", "line"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    import_id: Mapped[int] = mapped_column(BigId)
    line: Mapped[int] = mapped_column(BigInteger)
    ref: Mapped[str | None] = mapped_column(String(100), nullable=True)  # provider_txn_id / customer_ref
    field: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(1000))


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
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | acknowledged | resolved
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
    from_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(String(1000), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class IdentityEvent(Base):
    """A number lifecycle event posted by the phone authority; idempotent by its ``provider_event_id``."""

    __tablename__ = "identity_events"
    __table_args__ = (UniqueConstraint("provider_id", "provider_event_id", name="uq_identity_event_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider_id: Mapped[int] = mapped_column(Integer)
    provider_event_id: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))  # number_released | sim_swapped
    phone: Mapped[str] = mapped_column(String(32), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    customer_id: Mapped[int | None] = mapped_column(BigId, nullable=True)  # the holder at the time
    body_hash: Mapped[str] = mapped_column(String(64))


class IdentityHistory(Base):
    """An identity a customer held and no longer holds (a released number), and whether it came back."""

    __tablename__ = "identity_history"
    __table_args__ = (Index("ix_identity_history_value", "kind", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(32))
    linked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    released_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(32))  # number_released
    event_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    reattached_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reattached_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class PhoneState(Base):
    """Where a number is in its lifecycle: released (quarantined until a date) and/or SIM-swapped (on hold)."""

    __tablename__ = "phone_states"

    phone: Mapped[str] = mapped_column(String(32), primary_key=True)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    released_from: Mapped[int | None] = mapped_column(BigId, nullable=True)  # the customer who held it
    quarantine_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    swapped_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hold_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    swap_event_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    hold_lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    hold_lifted_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
