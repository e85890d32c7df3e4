"""consent by purpose: consent_records (every grant and withdrawal, with channel, actor and text version)

Revision ID: 8c3e5a1f92d7
Revises: ba356196ca59
Create Date: 2026-12-04 17:10:00

"""

from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = "8c3e5a1f92d7"
down_revision = "ba356196ca59"  # after the rights
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "consent_records",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("text_version", sa.String(length=32), nullable=False),
        sa.Column("recorded_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("signed_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("form_reference", sa.String(length=64), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("request_ref", sa.String(length=96), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_consent_records_customer", "consent_records", ["customer_id", "purpose", "id"], unique=False)


def downgrade():
    op.drop_index("ix_consent_records_customer", table_name="consent_records")
    op.drop_table("consent_records")
