"""cohort name message: which message gave a cohort its name (an edit of it renames the cohort),
and which typed name was refused last (an edit of it is the name)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 09:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_message_id', sa.BigInteger(), nullable=True))
    with op.batch_alter_table('trainer_prompts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('refused_message_id', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('trainer_prompts', schema=None) as batch_op:
        batch_op.drop_column('refused_message_id')
    with op.batch_alter_table('cohorts', schema=None) as batch_op:
        batch_op.drop_column('name_message_id')
