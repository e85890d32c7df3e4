"""experiment exposures: the customers a holdout campaign evaluated, per group

Revision ID: a757e17be616
Revises: 0b815c157b46
Create Date: 2026-12-04 17:20:00

"""

from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = "a757e17be616"
down_revision = "0b815c157b46"  # after attributes
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "experiment_exposures",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("cohort", sa.String(length=8), nullable=False),
        sa.Column("first_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("evaluations", sa.Integer(), nullable=False),
        sa.Column("awarded_points", sa.BigInteger(), nullable=False),
        sa.Column("withheld_points", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("campaign_id", "customer_id"),
    )
    op.create_index("ix_exposure_campaign_cohort", "experiment_exposures", ["campaign_id", "cohort"], unique=False)


def downgrade():
    op.drop_index("ix_exposure_campaign_cohort", table_name="experiment_exposures")
    op.drop_table("experiment_exposures")
