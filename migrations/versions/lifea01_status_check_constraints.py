"""status check constraints: the database refuses a program or application status the lifecycles do not know

Revision ID: lifea01
Revises: lifec01
Create Date: 2026-12-01 05:50:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'lifea01'
down_revision = 'lifec01'
branch_labels = None
depends_on = None

# The stored values of grants.programs.lifecycle.ProgramStatus and
# grants.applications.lifecycle.ApplicationStatus, spelled out: a migration must not change when
# the code does.
PROGRAM_STATUSES = ('draft', 'published', 'closed', 'archived')
APPLICATION_STATUSES = ('draft', 'submitted', 'ineligible', 'under_review', 'approved', 'declined', 'waitlisted',
                        'awarded', 'withdrawn')


def _in(values):
    return "status IN (" + ", ".join(f"'{value}'" for value in values) + ")"


def upgrade():
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_program_status'), _in(PROGRAM_STATUSES))
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.create_check_constraint(op.f('ck_application_status'), _in(APPLICATION_STATUSES))


def downgrade():
    with op.batch_alter_table('application', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_application_status'), type_='check')
    with op.batch_alter_table('program', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_program_status'), type_='check')
