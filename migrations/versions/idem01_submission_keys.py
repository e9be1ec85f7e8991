"""submission keys: a creating form sent again after a lost answer gets the first result

Revision ID: idem01
Revises: mail01
Create Date: 2026-12-01 04:50:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'idem01'
down_revision = 'mail01'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('submission_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('purpose', sa.String(length=100), nullable=False),
    sa.Column('result_url', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_submission_key_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submission_key')),
    sa.UniqueConstraint('user_id', 'key', name='uq_submission_key_user_id_key')
    )
    with op.batch_alter_table('submission_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_submission_key_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('submission_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_submission_key_created_at'))

    op.drop_table('submission_key')
