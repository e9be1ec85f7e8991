"""audit head: the newest event of the chain, so removing the newest events shows

Revision ID: 5c1d2e3f4a5b
Revises: 77abf35a4685
Create Date: 2026-11-29 23:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5c1d2e3f4a5b'
down_revision = '77abf35a4685'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )
    # An existing chain's newest event becomes the head.
    op.execute(
        "INSERT INTO audit_head (id, event_id, hash) "
        "SELECT 1, id, hash FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)"
    )


def downgrade():
    op.drop_table('audit_head')
