"""Day rollups in the programme's time zone: daily_stats and sla_daily were keyed by UTC days and are now keyed by
the programme's local days, so their rows are dropped with their watermarks and the workers' next passes rebuild
them from the first transaction (31 days per pass, as on a fresh install)

Revision ID: b6b7d437b0e1
Revises: 502a4bffd046
Create Date: 2026-12-04 20:40:00

"""

from alembic import op
import sqlalchemy as sa


revision = "b6b7d437b0e1"
down_revision = "502a4bffd046"
branch_labels = None
depends_on = None

COUNTERS = ("daily_stats_through", "sla_daily_through")


def _rebuild():
    op.execute(sa.text("DELETE FROM daily_stats"))
    op.execute(sa.text("DELETE FROM sla_daily"))
    counters = sa.table("counters", sa.column("name", sa.String))
    op.execute(counters.delete().where(counters.c.name.in_(COUNTERS)))


def upgrade():
    _rebuild()


def downgrade():
    _rebuild()
