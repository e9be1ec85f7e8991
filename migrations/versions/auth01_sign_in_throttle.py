"""sign-in throttle per address and client instead of an account-wide lock

A stranger who knew an address could lock its owner out with five wrong passwords; failures are
now counted per (e-mail, client) in sign_in_throttle and user.locked_until is gone.

Revision ID: auth01
Revises: idem01
Create Date: 2026-12-01 05:00:00

"""
from alembic import op
import sqlalchemy as sa

import grants.db


# revision identifiers, used by Alembic.
revision = 'auth01'
down_revision = 'idem01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('sign_in_throttle',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('client', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('paused_until', grants.db.UTCDateTime(), nullable=True),
    sa.Column('last_failure_at', grants.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_throttle')),
    sa.UniqueConstraint('email', 'client', name=op.f('uq_sign_in_throttle_email'))
    )
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sign_in_throttle_last_failure_at'), ['last_failure_at'], unique=False)
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('locked_until')


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('locked_until', grants.db.UTCDateTime(), nullable=True))
    with op.batch_alter_table('sign_in_throttle', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sign_in_throttle_last_failure_at'))
    op.drop_table('sign_in_throttle')
