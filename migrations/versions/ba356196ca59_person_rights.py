"""the person's rights: erasure requests (the care case with its deadline) and the USSD session log

Revision ID: ba356196ca59
Revises: 0aef1f1be9de
Create Date: 2026-12-04 17:10:00

"""

from alembic import op
import sqlalchemy as sa

import campaigns.models


revision = "ba356196ca59"
down_revision = "0aef1f1be9de"  # after challenges
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.create_table(
        "erasure_requests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("due_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", campaigns.models.UTCDateTime(), nullable=True),
        sa.Column("decision", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_erasure_requests_customer_id", "erasure_requests", ["customer_id"], unique=False)
    op.create_index("ix_erasure_status_due", "erasure_requests", ["status", "due_at"], unique=False)
    op.create_table(
        "ussd_sessions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=False),
        sa.Column("customer_id", BigId, nullable=True),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.Column("created_at", campaigns.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ussd_sessions_session_id", "ussd_sessions", ["session_id"], unique=False)
    op.create_index("ix_ussd_sessions_customer_id", "ussd_sessions", ["customer_id"], unique=False)
    op.create_index("ix_ussd_sessions_created", "ussd_sessions", ["created_at"], unique=False)


def downgrade():
    op.drop_table("ussd_sessions")
    op.drop_table("erasure_requests")
