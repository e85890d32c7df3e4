"""number lifecycle: phone authority providers, identity events, identity history, phone states

Revision ID: f4a7c2e9b1d3
Revises: d1e2f3a4b5c6
Create Date: 2026-12-01 23:10:00

"""

from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = "f4a7c2e9b1d3"
down_revision = "d1e2f3a4b5c6"  # after clearing
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_authority", sa.Boolean(), server_default="0", nullable=False))
    with op.batch_alter_table("customer_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch_op.create_index("ix_customer_tokens_phone", ["phone"], unique=False)
    op.create_table(
        "identity_events",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("provider_event_id", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("received_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("customer_id", BigId, nullable=True),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider_id", "provider_event_id", name="uq_identity_event_ref"),
    )
    op.create_index("ix_identity_events_phone", "identity_events", ["phone"], unique=False)
    op.create_table(
        "identity_history",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=32), nullable=False),
        sa.Column("linked_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("released_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("event_id", BigId, nullable=True),
        sa.Column("reattached_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("reattached_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_identity_history_customer_id", "identity_history", ["customer_id"], unique=False)
    op.create_index("ix_identity_history_value", "identity_history", ["kind", "value"], unique=False)
    op.create_table(
        "phone_states",
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("released_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("released_from", BigId, nullable=True),
        sa.Column("quarantine_until", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("swapped_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("hold_until", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("swap_event_id", BigId, nullable=True),
        sa.Column("hold_lifted_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("hold_lifted_by", sa.String(length=200), nullable=True),
        sa.Column("updated_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("phone"),
    )


def downgrade():
    op.drop_table("phone_states")
    op.drop_index("ix_identity_history_value", table_name="identity_history")
    op.drop_index("ix_identity_history_customer_id", table_name="identity_history")
    op.drop_table("identity_history")
    op.drop_index("ix_identity_events_phone", table_name="identity_events")
    op.drop_table("identity_events")
    with op.batch_alter_table("customer_tokens", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_tokens_phone")
        batch_op.drop_column("phone")
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("phone_authority")
