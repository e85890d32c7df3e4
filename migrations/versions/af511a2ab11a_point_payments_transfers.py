"""points as money at a provider's checkout, point transfers between members, moved point lots

Revision ID: af511a2ab11a
Revises: 9c3e5a7b1d24
Create Date: 2026-12-04 17:10:00

"""

from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = "af511a2ab11a"
down_revision = "9c3e5a7b1d24"  # after sso
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("moved_from_lot_id", BigId, nullable=True))
    op.create_table(
        "point_payments",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("provider_payment_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("refunded_points", sa.BigInteger(), nullable=False),
        sa.Column("refunded_amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", BigId, nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id", "provider_payment_id", name="uq_point_payment_ref"),
    )
    op.create_index("ix_point_payment_customer", "point_payments", ["customer_id", "id"], unique=False)
    op.create_table(
        "point_payment_refunds",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("payment_id", BigId, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("provider_refund_id", sa.String(length=64), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", BigId, nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id", "provider_refund_id", name="uq_point_refund_ref"),
    )
    op.create_index(
        "ix_point_payment_refunds_payment_id", "point_payment_refunds", ["payment_id"], unique=False
    )
    op.create_table(
        "point_transfers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("from_customer_id", BigId, nullable=False),
        sa.Column("to_customer_id", BigId, nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("fee_points", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("balance_after", sa.BigInteger(), nullable=False),
        sa.Column("out_entry_id", BigId, nullable=True),
        sa.Column("in_entry_id", BigId, nullable=True),
        sa.Column("fee_entry_id", BigId, nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("reversed_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("reversed_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("requested_by", "idempotency_key", name="uq_point_transfer_idempotency"),
    )
    op.create_index("ix_point_transfer_from", "point_transfers", ["from_customer_id", "created_at"], unique=False)
    op.create_index("ix_point_transfer_to", "point_transfers", ["to_customer_id", "id"], unique=False)


def downgrade():
    op.drop_index("ix_point_transfer_to", table_name="point_transfers")
    op.drop_index("ix_point_transfer_from", table_name="point_transfers")
    op.drop_table("point_transfers")
    op.drop_index("ix_point_payment_refunds_payment_id", table_name="point_payment_refunds")
    op.drop_table("point_payment_refunds")
    op.drop_index("ix_point_payment_customer", table_name="point_payments")
    op.drop_table("point_payments")
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.drop_column("moved_from_lot_id")
