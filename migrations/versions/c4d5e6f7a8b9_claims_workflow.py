"""claims workflow: states with deadlines, matching, resolution; claim_events

Revision ID: c4d5e6f7a8b9
Revises: b7c1a2d3e4f5
Create Date: 2026-11-29 00:30:00

"""
from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = 'c4d5e6f7a8b9'
down_revision = 'c4d8e1f2a3b6'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('filed_by', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('filed_ref', sa.String(length=96), nullable=True))
        batch_op.add_column(sa.Column('assignee', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('state_since', campaigns.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('due_at', campaigns.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('transaction_id', BigId, nullable=True))
        batch_op.add_column(sa.Column('points', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('adjustment_entry_id', BigId, nullable=True))
        batch_op.add_column(sa.Column('resolution', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('closed_at', campaigns.models.UTCDateTime(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_claims_filed_ref'), ['filed_ref'])
        batch_op.create_index('ix_claim_provider', ['provider_id', 'status'], unique=False)
        batch_op.create_index('ix_claim_due', ['status', 'due_at'], unique=False)
    # claims filed before the workflow existed start their "open" clock when they were filed
    op.execute("UPDATE claims SET state_since = created_at WHERE state_since IS NULL")
    op.create_table('claim_events',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('claim_id', BigId, nullable=False),
    sa.Column('at', campaigns.models.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('from_status', sa.String(length=16), nullable=True),
    sa.Column('to_status', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=1000), nullable=False),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_events'))
    )
    with op.batch_alter_table('claim_events', schema=None) as batch_op:
        batch_op.create_index('ix_claim_event_claim', ['claim_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('claim_events', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_event_claim')
    op.drop_table('claim_events')
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_due')
        batch_op.drop_index('ix_claim_provider')
        batch_op.drop_constraint(batch_op.f('uq_claims_filed_ref'), type_='unique')
        for name in ('closed_at', 'resolution', 'adjustment_entry_id', 'points', 'transaction_id', 'due_at',
                     'state_since', 'assignee', 'filed_ref', 'filed_by'):
            batch_op.drop_column(name)
