"""cohort mode: the assessment a cohort's participants take right after joining (full | quick)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mode', sa.String(length=8), nullable=False,
                                      server_default='quick'))


def downgrade() -> None:
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_column('mode')
