"""challenges: progress per customer, challenge and period, and the per-transaction count markers

Revision ID: 0aef1f1be9de
Revises: f4a7c2e9b1d3
Create Date: 2026-12-04 17:20:00

"""

from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = "0aef1f1be9de"
down_revision = "f4a7c2e9b1d3"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "challenge_progress",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("completed_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("completed_by", BigId, nullable=True),
        sa.Column("updated_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_progress")),
        sa.UniqueConstraint("customer_id", "campaign_id", "period", name="uq_challenge_progress"),
    )
    op.create_index("ix_challenge_progress_campaign", "challenge_progress", ["campaign_id", "period"], unique=False)
    op.create_table(
        "challenge_counts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("progress_id", BigId, nullable=False),
        sa.Column("transaction_id", BigId, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("created_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_challenge_counts")),
        sa.UniqueConstraint("progress_id", "transaction_id", name="uq_challenge_count"),
    )
    op.create_index(
        op.f("ix_challenge_counts_transaction_id"), "challenge_counts", ["transaction_id"], unique=False
    )


def downgrade():
    op.drop_index(op.f("ix_challenge_counts_transaction_id"), table_name="challenge_counts")
    op.drop_table("challenge_counts")
    op.drop_index("ix_challenge_progress_campaign", table_name="challenge_progress")
    op.drop_table("challenge_progress")
