"""the 360° check: team and customer links, customers' pulse answers, staff assessments

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 00:10:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'feedback_links',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('business_name', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('closed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('released', sa.JSON(), nullable=True),
        sa.Column('released_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('deleted', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('feedback_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feedback_links_code'), ['code'], unique=True)
        batch_op.create_index(batch_op.f('ix_feedback_links_owner_id'), ['owner_id'],
                              unique=False)
    op.create_table(
        'pulse_responses',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('link_id', sa.Integer(), nullable=False),
        sa.Column('respondent', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column('period', sa.Integer(), nullable=False),
        sa.Column('answers', sa.JSON(), nullable=True),
        sa.Column('nps', sa.Integer(), nullable=True),
        sa.Column('draft', sa.JSON(), nullable=True),
        sa.Column('draft_nps', sa.Integer(), nullable=True),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('finished_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['link_id'], ['feedback_links.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('link_id', 'respondent', 'period'),
    )
    with op.batch_alter_table('pulse_responses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pulse_responses_link_id'), ['link_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pulse_responses_respondent'), ['respondent'],
                              unique=False)
    op.create_table(
        'app_secrets',
        sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.PrimaryKeyConstraint('name'),
    )
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('link_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_assessments_link_id'), ['link_id'], unique=False)
        batch_op.create_foreign_key('fk_assessments_link_id_feedback_links', 'feedback_links',
                                    ['link_id'], ['id'], ondelete='CASCADE')


def downgrade() -> None:
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        batch_op.drop_constraint('fk_assessments_link_id_feedback_links', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_assessments_link_id'))
        batch_op.drop_column('link_id')
    op.drop_table('app_secrets')
    op.drop_table('pulse_responses')
    op.drop_table('feedback_links')
