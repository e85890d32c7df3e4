"""Customers, their identities and merges, and the per-customer aggregates (``campaigns.customers``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.models.base import Base, BigId, UTCDateTime


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
    # the earliest membership date a provider's migration file gave: months_of_service counts from it
    member_since: Mapped[date | None] = mapped_column(Date, nullable=True)


class CustomerIdentity(Base):
    """A phone (E.164) or national ID (CMND 9 / CCCD 12 digits); unique across all customers."""

    __tablename__ = "customer_identities"
    __table_args__ = (UniqueConstraint("kind", "value", name="uq_identity_kind_value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # phone | national_id
    value: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
    """First contact of a customer with a provider ('first transaction with this provider', months_with_provider).

    ``first_at`` only ever moves earlier (an upsert with LEAST): a late-arriving older transaction or a migrated
    ``member_since`` wins over the first row written.
    """

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


class CustomerAttribute(Base):
    """A customer-level attribute (``customer.<name>`` in rules), typed by the programme's ``customer_attributes``.

    Programme-wide: one value per customer and name, whichever provider set it last (``provider_id``, null for
    staff or an import without one); every change is audited.
    """

    __tablename__ = "customer_attributes"

    customer_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


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
