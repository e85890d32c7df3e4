"""alerts: the care centre's tiered alerts

Revision ID: b7c1a2d3e4f5
Revises: 05184d79cc01
Create Date: 2026-11-28 23:50:00

"""
from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = 'b7c1a2d3e4f5'
down_revision = '05184d79cc01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('key', sa.String(length=191), nullable=False),
    sa.Column('active_key', sa.String(length=191), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('message', sa.String(length=1000), nullable=False),
    sa.Column('suggested_action', sa.String(length=1000), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.Column('oldest_at', campaigns.models.UTCDateTime(), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('escalation', sa.Integer(), nullable=False),
    sa.Column('times_raised', sa.Integer(), nullable=False),
    sa.Column('raised_at', campaigns.models.UTCDateTime(), nullable=False),
    sa.Column('seen_at', campaigns.models.UTCDateTime(), nullable=False),
    sa.Column('escalated_at', campaigns.models.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_at', campaigns.models.UTCDateTime(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=200), nullable=True),
    sa.Column('resolved_at', campaigns.models.UTCDateTime(), nullable=True),
    sa.Column('resolved_by', sa.String(length=200), nullable=True),
    sa.Column('resolution', sa.String(length=1000), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('active_key', name='uq_alert_active_key')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alert_status', ['status', 'id'], unique=False)
        batch_op.create_index('ix_alert_provider', ['provider_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_provider')
        batch_op.drop_index('ix_alert_status')
    op.drop_table('alerts')
