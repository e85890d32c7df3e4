"""clearing: funders on point lots, provider rates, settlement periods and stored statement lines

Revision ID: d1e2f3a4b5c6
Revises: d7e8f9a0b1c2
Create Date: 2026-12-01 22:10:00

"""

from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = "d1e2f3a4b5c6"
down_revision = "d7e8f9a0b1c2"  # after the order index
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.drop_constraint("uq_point_lots_entry_id", type_="unique")
        batch_op.create_index("ix_point_lots_entry_id", ["entry_id"], unique=False)
        batch_op.add_column(sa.Column("funder_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("recovered", sa.BigInteger(), server_default="0", nullable=False))
        batch_op.create_index("ix_point_lots_funder_id", ["funder_id"], unique=False)
    # lots from before clearing: an earning was paid by its transaction's provider, anything else by the programme
    op.execute(
        "UPDATE point_lots SET funder_id = COALESCE((SELECT CASE WHEN e.kind = 'earn' THEN e.provider_id END"
        " FROM ledger_entries e WHERE e.id = point_lots.entry_id), 0)"
    )
    op.create_table(
        "provider_rates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("issue_cost", sa.BigInteger(), nullable=False),
        sa.Column("redemption_rate", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider_rates")),
    )
    op.create_index("ix_provider_rate_from", "provider_rates", ["provider_id", "effective_from"], unique=False)
    op.create_table(
        "settlement_periods",
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("starts_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("ends_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("closed_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("closed_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("period", name=op.f("pk_settlement_periods")),
    )
    op.create_table(
        "settlement_lines",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.Column("origin", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settlement_lines")),
    )
    op.create_index("ix_settlement_line_period", "settlement_lines", ["period", "party_id"], unique=False)


def downgrade():
    op.drop_index("ix_settlement_line_period", table_name="settlement_lines")
    op.drop_table("settlement_lines")
    op.drop_table("settlement_periods")
    op.drop_index("ix_provider_rate_from", table_name="provider_rates")
    op.drop_table("provider_rates")
    with op.batch_alter_table("point_lots", schema=None) as batch_op:
        batch_op.drop_index("ix_point_lots_funder_id")
        batch_op.drop_column("recovered")
        batch_op.drop_column("funder_id")
        batch_op.drop_index("ix_point_lots_entry_id")
        batch_op.create_unique_constraint("uq_point_lots_entry_id", ["entry_id"])
