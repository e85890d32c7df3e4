"""i18n: staff users' console language (vi | en; null: the programme's default); rewards' names in both
languages and a description (a string or {vi, en}); providers' English display name

Revision ID: 502a4bffd046
Revises: a757e17be616
Create Date: 2026-12-04 17:20:00

"""

from alembic import op
import sqlalchemy as sa


revision = "502a4bffd046"
down_revision = "a757e17be616"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_en", sa.String(length=200), nullable=True))
    with op.batch_alter_table("rewards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("names", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("description", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_column("name_en")
    with op.batch_alter_table("rewards", schema=None) as batch_op:
        batch_op.drop_column("description")
        batch_op.drop_column("names")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("language")
