"""Every model, imported in one place so Alembic and ``db.create_all`` see the whole schema."""

from grants.accounts.models import Membership, Organization, SignInThrottle, User, UserRole  # noqa: F401
from grants.applications.models import Application, Attachment, BudgetLine, Partner  # noqa: F401
from grants.audit.models import AuditEvent, AuditHead  # noqa: F401
from grants.awards.models import Amendment, Award, Disbursement, ProgressReport  # noqa: F401
from grants.notifications.models import OutboxMessage  # noqa: F401
from grants.programs.models import Criterion, Program  # noqa: F401
from grants.reviews.models import Decision, ReviewAssignment, ReviewerAffiliation, Score  # noqa: F401
from grants.submissions import SubmissionKey  # noqa: F401
