"""replica safety: assessment versions, one open assessment and one pending check-in per user,
the transactional inbox (replaces processed_updates)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 09:00:00
"""
import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OPEN = sa.text("status = 'open'")
PENDING = sa.text("status = 'pending'")


def upgrade() -> None:
    with op.batch_alter_table('assessments', schema=None) as batch_op:
        # ALTER TABLE ADD COLUMN on SQLite too: no table rebuild (which, with foreign keys on,
        # would cascade-delete the answers).
        batch_op.add_column(sa.Column('version', sa.Integer(), nullable=False,
                                      server_default=sa.text('0')))
        batch_op.add_column(sa.Column('last_update_id', sa.BigInteger(), nullable=True))
    # Two replicas may have left two open assessments (or two pending check-ins) of one user:
    # keep the newest, as the bot itself did when reading.
    op.execute("UPDATE assessments SET status = 'abandoned' WHERE status = 'open' AND id NOT IN "
               "(SELECT max(id) FROM assessments WHERE status = 'open' GROUP BY user_id)")
    op.execute("UPDATE reminders SET status = 'cancelled' WHERE status = 'pending' AND id NOT IN "
               "(SELECT max(id) FROM reminders WHERE status = 'pending' GROUP BY user_id)")
    op.create_index('uq_assessments_open_user', 'assessments', ['user_id'], unique=True,
                    sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index('uq_reminders_pending_user', 'reminders', ['user_id'], unique=True,
                    sqlite_where=PENDING, postgresql_where=PENDING)

    op.create_table('inbox',
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('payload', sa.Text(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('owner', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('received_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('done_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('update_id')
    )
    op.create_index('ix_inbox_status_lease', 'inbox', ['status', 'lease_until'])
    op.create_index('ix_inbox_owner', 'inbox', ['owner'])
    op.create_index('ix_inbox_done_at', 'inbox', ['done_at'])
    # The update ids already taken stay known: a redelivery within the day is still a repeat.
    op.execute("INSERT INTO inbox (update_id, payload, status, owner, lease_until, attempts, "
               "received_at, done_at) SELECT update_id, NULL, 'done', 'migrated', processed_at, "
               "0, processed_at, processed_at FROM processed_updates")
    op.drop_index('ix_processed_updates_processed_at', table_name='processed_updates')
    op.drop_table('processed_updates')


def downgrade() -> None:
    op.create_table('processed_updates',
    sa.Column('update_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('processed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('update_id')
    )
    op.create_index('ix_processed_updates_processed_at', 'processed_updates', ['processed_at'])
    op.execute("INSERT INTO processed_updates (update_id, processed_at) "
               "SELECT update_id, received_at FROM inbox")
    op.drop_index('ix_inbox_done_at', table_name='inbox')
    op.drop_index('ix_inbox_owner', table_name='inbox')
    op.drop_index('ix_inbox_status_lease', table_name='inbox')
    op.drop_table('inbox')
    op.drop_index('uq_reminders_pending_user', table_name='reminders')
    op.drop_index('uq_assessments_open_user', table_name='assessments')
    op.drop_column('assessments', 'last_update_id')  # native on SQLite >= 3.35: no rebuild
    op.drop_column('assessments', 'version')
