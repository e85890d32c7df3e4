"""customer attributes, member_since (length of service), rule-level limits (rule_usage)

Revision ID: 0b815c157b46
Revises: af511a2ab11a
Create Date: 2026-12-04 17:10:00

"""

from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = "0b815c157b46"
down_revision = "af511a2ab11a"  # after payments and transfers
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("member_since", sa.Date(), nullable=True))
    op.create_table(
        "customer_attributes",
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "name"),
    )
    op.create_table(
        "rule_usage",
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("rule_index", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("awards", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", "campaign_id", "rule_index", "day"),
    )


def downgrade():
    op.drop_table("rule_usage")
    op.drop_table("customer_attributes")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("member_since")
