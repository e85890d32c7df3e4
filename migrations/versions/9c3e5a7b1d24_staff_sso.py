"""staff sign-in through the directory: user origin, external subject, break-glass flag, token role

Revision ID: 9c3e5a7b1d24
Revises: 8c3e5a1f92d7
Create Date: 2026-12-04 17:20:00

"""

from alembic import op
import sqlalchemy as sa


revision = "9c3e5a7b1d24"
down_revision = "8c3e5a1f92d7"  # after consent
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=8), server_default="local", nullable=False))
        batch_op.add_column(sa.Column("external_subject", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("break_glass", sa.Boolean(), server_default="0", nullable=False))
        batch_op.create_unique_constraint("uq_staff_users_subject", ["origin", "external_subject"])
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=16), nullable=True))
    # personal tokens made before this revision carry the role their user has now
    op.execute(
        "UPDATE api_keys SET role = (SELECT staff_users.role FROM staff_users WHERE staff_users.id = api_keys.user_id)"
        " WHERE kind = 'user'"
    )


def downgrade():
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("role")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_constraint("uq_staff_users_subject", type_="unique")
        batch_op.drop_column("break_glass")
        batch_op.drop_column("external_subject")
        batch_op.drop_column("origin")
