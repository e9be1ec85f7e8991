"""review assignments: the database refuses a status or conflict-of-interest status it does not know

Revision ID: split01
Revises: auth01
Create Date: 2026-12-01 05:30:00

The allowed values are the ones grants/reviews/lifecycle.py defines (ReviewStatus, ConflictStatus),
written out here so the migration keeps meaning what it meant when the code changes.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'split01'
down_revision = 'auth01'
branch_labels = None
depends_on = None

STATUSES = ("assigned", "in_progress", "submitted", "recused")
COI_STATUSES = ("pending", "none", "conflicted")


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade():
    with op.batch_alter_table('review_assignment', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_review_assignment_status'), _in('status', STATUSES))
        batch_op.create_check_constraint(op.f('ck_review_assignment_coi_status'), _in('coi_status', COI_STATUSES))


def downgrade():
    with op.batch_alter_table('review_assignment', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_review_assignment_coi_status'), type_='check')
        batch_op.drop_constraint(op.f('ck_review_assignment_status'), type_='check')
