"""sla_daily: accrual SLA per day and provider (share within SLA, latency percentiles)

Revision ID: c5e1a9b7d2f3
Revises: b7c1a2d3e4f5
Create Date: 2026-11-29 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'c5e1a9b7d2f3'
down_revision = 'b7c1a2d3e4f5'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sla_daily',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('sla_seconds', sa.Integer(), nullable=False),
    sa.Column('credited', sa.BigInteger(), nullable=False),
    sa.Column('within_sla', sa.BigInteger(), nullable=False),
    sa.Column('late', sa.BigInteger(), nullable=False),
    sa.Column('p50_seconds', sa.Double(), nullable=True),
    sa.Column('p90_seconds', sa.Double(), nullable=True),
    sa.Column('p99_seconds', sa.Double(), nullable=True),
    sa.Column('max_seconds', sa.Double(), nullable=True),
    sa.PrimaryKeyConstraint('day', 'provider_id', name=op.f('pk_sla_daily'))
    )


def downgrade():
    op.drop_table('sla_daily')
