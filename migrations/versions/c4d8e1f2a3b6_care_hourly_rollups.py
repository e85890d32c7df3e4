"""care analytics: hourly rollups of transactions, campaign points and customer velocity; claims by creation time

Revision ID: c4d8e1f2a3b6
Revises: b7c1a2d3e4f5
Create Date: 2026-11-29 09:00:00

"""
from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = 'c4d8e1f2a3b6'
down_revision = 'c5e1a9b7d2f3'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('txn_hourly',
    sa.Column('hour', campaigns.models.UTCDateTime(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('region', sa.String(length=64), nullable=False),
    sa.Column('txn_count', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=21, scale=4), nullable=False),
    sa.Column('breaches', sa.BigInteger(), nullable=False),
    sa.Column('rejected', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('hour', 'provider_id', 'category', 'channel', 'region', name=op.f('pk_txn_hourly'))
    )
    op.create_table('campaign_hourly',
    sa.Column('hour', campaigns.models.UTCDateTime(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('hour', 'campaign_id', name=op.f('pk_campaign_hourly'))
    )
    op.create_table('velocity_hourly',
    sa.Column('hour', campaigns.models.UTCDateTime(), nullable=False),
    sa.Column('customers', sa.BigInteger(), nullable=False),
    sa.Column('p99_txns', sa.BigInteger(), nullable=False),
    sa.Column('p99_amount', sa.Numeric(precision=21, scale=4), nullable=False),
    sa.PrimaryKeyConstraint('hour', name=op.f('pk_velocity_hourly'))
    )
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.create_index('ix_claim_created', ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_created')
    op.drop_table('velocity_hourly')
    op.drop_table('campaign_hourly')
    op.drop_table('txn_hourly')
