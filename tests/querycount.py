"""How many SQL statements the server runs to answer one page: the measure for 'queries do not
grow with the data' (compare two sizes of the same data: ``scale_round`` builds them)."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from grants.extensions import db


def page_query_count(browser, url: str) -> int:
    """SQL statements executed while answering GET ``url``, which must answer 200."""
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    db.session.commit()  # what the test set up is written before counting starts
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = browser.get(url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, (url, response.status_code)
    return len(statements)


@dataclass
class ScaleRound:
    program: object
    users: dict  # who -> User: officer, finance, reviewer, member


def scale_round(applications: int, *, seed: int = 7) -> ScaleRound:
    """Empty tables, then a whole round of ``applications`` from ``grants/demo_scale.py`` (bulk
    inserts: about a second for 500), with something on every page for every role:

    - a program officer and a finance user who act in it;
    - a member of every applicant organization, so one applicant's home shows the whole round;
    - the declined applications back under review, with a third of their reviews not yet started
      and a third in progress, so assignment pages, open reviews and the funding line have rows;
    - one of the round's reviewers (they all share the test password).
    """
    from grants import demo_scale
    from grants.accounts.models import Membership, Organization, User
    from grants.applications.lifecycle import ApplicationStatus
    from grants.applications.models import Application
    from grants.programs.models import Program
    from grants.reviews.lifecycle import ConflictStatus, ReviewStatus
    from grants.reviews.models import ReviewAssignment
    from tests import factories
    from tests.conftest import wipe_tables

    wipe_tables()
    officer = factories.make_user(email="officer@round.example.gov", roles={"program_officer"})
    finance = factories.make_user(email="finance@round.example.gov", roles={"finance"})
    member = factories.make_user(email="member@round.example.gov", roles={"applicant"})
    demo_scale.load_scale(applications=applications, seed=seed, officer=officer, finance=finance, password=factories.PASSWORD)
    program = db.session.scalars(sa.select(Program).where(Program.code == demo_scale.CODE)).one()
    db.session.execute(sa.insert(Membership), [
        {"user_id": member.id, "organization_id": organization_id}
        for organization_id in db.session.scalars(sa.select(Organization.id).order_by(Organization.id))
    ])
    reopened = sa.select(Application.id).where(Application.program_id == program.id, Application.status == ApplicationStatus.DECLINED)
    in_review = sa.select(ReviewAssignment.id).where(ReviewAssignment.application_id.in_(reopened))
    db.session.execute(sa.update(ReviewAssignment).where(ReviewAssignment.id.in_(in_review), ReviewAssignment.id % 3 == 0)
                       .values(status=ReviewStatus.ASSIGNED.value, coi_status=ConflictStatus.PENDING.value, coi_declared_at=None, total_score=None, submitted_at=None,
                               recommendation=None))
    db.session.execute(sa.update(ReviewAssignment).where(ReviewAssignment.id.in_(in_review), ReviewAssignment.id % 3 == 1)
                       .values(status=ReviewStatus.IN_PROGRESS.value, total_score=None, submitted_at=None))
    db.session.execute(sa.update(Application).where(Application.id.in_(reopened)).values(status=ApplicationStatus.UNDER_REVIEW.value)
                       .execution_options(synchronize_session=False))
    reviewer = db.session.scalars(sa.select(User).where(User.email == "reviewer.01@scale.example.gov")).one()
    db.session.commit()
    return ScaleRound(program=program, users={"officer": officer, "finance": finance, "reviewer": reviewer, "member": member})
