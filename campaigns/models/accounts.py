"""The points books (``campaigns.accounts``): balances, ledger, point lots, tier history, rewards, groups."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from campaigns.clock import utcnow
from campaigns.i18n import localized
from campaigns.models.base import Base, BigId, UTCDateTime


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


LotStatus = Literal["pending", "available", "closed"]  # a point lot: held (return window), spendable, used up


class PointLot(Base):
    """Spendable points of one earning, with their own expiry; spending takes the oldest first.

    Mutable bookkeeping *derived from* the ledger (which stays append-only):
    the sum of available lots always equals the balance, which the checker proves.
    """

    __tablename__ = "point_lots"
    __table_args__ = (Index("ix_lot_customer_status_expiry", "customer_id", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    customer_id: Mapped[int] = mapped_column(BigId)
    entry_id: Mapped[int] = mapped_column(BigId, index=True)  # a split-funded earning has one lot per funder
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[LotStatus] = mapped_column(String(16))
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # who pays for these points (campaigns.clearing): a provider id, 0 for the programme; NULL is a bug the
    # checker reports. ``recovered``: points taken at creation to repay debt (clawed back from this funder).
    funder_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    recovered: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # a lot a point transfer moved here from another member's lot (same funder, expiry and issue time): its
    # points were issued once, by the original lot, so clearing never counts them as issued again
    moved_from_lot_id: Mapped[int | None] = mapped_column(BigId, nullable=True)


class LotConsumption(Base):
    """Which lots a debit (redemption, clawback, expiry) took points from: nothing is spent twice."""

    __tablename__ = "lot_consumptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    lot_id: Mapped[int] = mapped_column(BigId, index=True)
    entry_id: Mapped[int] = mapped_column(BigId, index=True)
    points: Mapped[int] = mapped_column(BigInteger)


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


class Reward(Base):
    __tablename__ = "rewards"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))  # in the programme's default language (staff pages, exports)
    names: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)  # {vi, en} when given in both
    description: Mapped[str | dict[str, str] | None] = mapped_column(JSON, nullable=True)  # plain or {vi, en}
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

    def name_in(self, language: str) -> str:
        """The customer-facing name in ``language`` (SMS, USSD, portal)."""
        return localized(self.names or self.name, language)

    def description_in(self, language: str) -> str:
        return localized(self.description, language)


RedemptionStatus = Literal["issued", "cancelled"]  # a redeemed reward


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
    status: Mapped[RedemptionStatus] = mapped_column(String(16), default="issued")
    requested_by: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="redeem")  # redeem | pooled | campaign | expiry_offer
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class CustomerGroup(Base):
    """A family (or team) pooling spendable points for redemptions; tiers stay personal."""

    __tablename__ = "customer_groups"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    owner_id: Mapped[int] = mapped_column(BigId, index=True)
    max_members: Mapped[int] = mapped_column(Integer, default=5)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dissolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


MemberStatus = Literal["invited", "active", "left", "removed", "declined"]  # a customer's membership of a group


class GroupMember(Base):
    """Membership over time; ``active_customer`` is set only while active, so a person is in one group at a time."""

    __tablename__ = "group_members"
    __table_args__ = (Index("ix_group_member_group", "group_id", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(BigId)
    customer_id: Mapped[int] = mapped_column(BigId, index=True)
    active_customer: Mapped[int | None] = mapped_column(BigId, nullable=True, unique=True)
    status: Mapped[MemberStatus] = mapped_column(String(16))
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


PaymentStatus = Literal["paid", "partly_refunded", "refunded"]  # points spent as money at a provider's checkout


class PointPayment(Base):
    """Points spent as money at a provider's checkout; the provider is reimbursed by clearing.

    ``entry_id`` is the ``payment`` ledger entry; ``balance_after`` keeps the answer of the first request so a
    replay answers exactly the same.
    """

    __tablename__ = "point_payments"
    __table_args__ = (
        UniqueConstraint("provider_id", "provider_payment_id", name="uq_point_payment_ref"),
        Index("ix_point_payment_customer", "customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider_id: Mapped[int] = mapped_column(Integer)
    provider_payment_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int] = mapped_column(BigId)
    points: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)  # VND the points paid (points x point_value)
    refunded_points: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[PaymentStatus] = mapped_column(String(16), default="paid")
    balance_after: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PointPaymentRefund(Base):
    """A partial or whole refund of a points payment: the points go back, the reimbursement is reversed."""

    __tablename__ = "point_payment_refunds"
    __table_args__ = (UniqueConstraint("provider_id", "provider_refund_id", name="uq_point_refund_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payment_id: Mapped[int] = mapped_column(BigId, index=True)
    provider_id: Mapped[int] = mapped_column(Integer)
    provider_refund_id: Mapped[str] = mapped_column(String(64))
    points: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


TransferStatus = Literal["done", "reversed"]  # a point transfer between members


class PointTransfer(Base):
    """Points moved from one member to another (their lots move with their funder); reversible by staff.

    ``requested_by`` is the idempotency namespace (``provider:<id>``, ``app:<customer>``, ``portal:<customer>``,
    ``ussd:<customer>``, ``staff``); the ledger entries are ``transfer_out`` / ``transfer_in`` / ``transfer_fee``.
    """

    __tablename__ = "point_transfers"
    __table_args__ = (
        UniqueConstraint("requested_by", "idempotency_key", name="uq_point_transfer_idempotency"),
        Index("ix_point_transfer_from", "from_customer_id", "created_at"),
        Index("ix_point_transfer_to", "to_customer_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    requested_by: Mapped[str] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    channel: Mapped[str] = mapped_column(String(16))  # api | app | portal | ussd
    from_customer_id: Mapped[int] = mapped_column(BigId)
    to_customer_id: Mapped[int] = mapped_column(BigId)
    points: Mapped[int] = mapped_column(BigInteger)
    fee_points: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[TransferStatus] = mapped_column(String(16), default="done")
    balance_after: Mapped[int] = mapped_column(BigInteger)  # the sender's
    out_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    in_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    fee_entry_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reversed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
