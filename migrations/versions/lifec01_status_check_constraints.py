"""status check constraints: the database refuses an award, payment or report status the lifecycle does not know

Revision ID: lifec01
Revises: split01
Create Date: 2026-12-01 05:35:00

The values are written out here (not imported from grants.awards.lifecycle) so that this
migration keeps meaning what it meant when it was written.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'lifec01'
down_revision = 'split01'
branch_labels = None
depends_on = None

STATUSES = {
    'award': ('pending_agreement', 'active', 'closed', 'terminated'),
    'disbursement': ('requested', 'approved', 'paid', 'void'),
    'progress_report': ('due', 'submitted', 'accepted', 'revision_requested'),
}


def upgrade():
    for table, statuses in STATUSES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(
                op.f(f'ck_{table}_status'), 'status IN (' + ', '.join(f"'{status}'" for status in statuses) + ')')


def downgrade():
    for table in reversed(list(STATUSES)):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f'ck_{table}_status'), type_='check')
