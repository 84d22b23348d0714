"""content 2026.12-1: pre-filled context on retakes; open assessments re-find their place

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 23:40:00

Steps now have a review step at position 0 and, in a quick check, every item of a dimension as a
candidate (bot/domain/flow.py), so a cursor saved under the old layout may name another question.
Open assessments get cursor -1: the coach puts them on their first unanswered step the next time
they are read (their answers, stored by item id, are all kept).
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prefilled', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.execute("UPDATE assessments SET cursor = -1 WHERE status = 'open'")


def downgrade() -> None:
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_column('prefilled')
