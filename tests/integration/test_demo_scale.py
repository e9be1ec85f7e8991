"""`flask grants demo-data --scale N`: a whole round at scale, consistent with the domain's invariants."""

import hashlib

import sqlalchemy as sa

from grants import demo_scale
from grants.accounts.models import Organization, User
from grants.applications.lifecycle import ApplicationStatus
from grants.applications.models import Application, Partner
from grants.audit.models import AuditEvent
from grants.audit.services import verify_chain
from grants.awards.models import NON_VOID, Award, Disbursement, ProgressReport
from grants.awards.services import report_periods
from grants.extensions import db
from grants.programs.models import PARTNER_TYPES, Program
from grants.reviews.models import APPROVED, Decision, ReviewAssignment, Score
from grants.reviews.services import ranking, review_total
from tests.conftest import wipe_tables


def _scale(app, *args):
    result = app.test_cli_runner().invoke(args=["grants", "demo-data", *args])
    assert result.exit_code == 0, result.output
    return result


def _program() -> Program:
    return db.session.scalar(sa.select(Program).where(Program.code == demo_scale.CODE))


def _fingerprint(program: Program) -> str:
    rows = db.session.execute(
        sa.select(Application.reference, Application.requested_cents, Application.approved_cents)
        .where(Application.program_id == program.id).order_by(Application.reference)
    ).all()
    awards = db.session.execute(
        sa.select(Award.award_number, Award.amount_cents).where(Award.program_id == program.id).order_by(Award.award_number)
    ).all()
    return hashlib.sha256(repr([tuple(r) for r in rows] + [tuple(a) for a in awards]).encode()).hexdigest()


def test_scale_builds_a_closed_round_through_review_awards_and_payments(app):
    result = _scale(app, "--scale", "30", "--seed", "11")
    assert "Demo data loaded." in result.output and "30 applications" in result.output
    program = _program()
    assert program.status == "closed" and program.fiscal_year == 2026 and program.rubric_frozen_at is not None
    criteria = list(program.criteria)
    assert len(criteria) == 6

    applications = db.session.scalars(sa.select(Application).where(Application.program_id == program.id)).all()
    assert len(applications) == 30
    assert all(a.reference.startswith("SCL-2026-") for a in applications)
    assert all(sum(line.amount_cents for line in a.budget_lines) == a.requested_cents > 0 for a in applications)
    assert all(1 <= len(a.partners) <= 3 for a in applications)
    partner_types = set(db.session.scalars(sa.select(Partner.partner_type).join(Application).where(Application.program_id == program.id)))
    assert partner_types == set(PARTNER_TYPES)

    # Three submitted reviews each, whose totals follow the rubric.
    per_application = dict(db.session.execute(
        sa.select(ReviewAssignment.application_id, sa.func.count()).join(Application)
        .where(Application.program_id == program.id, ReviewAssignment.is_submitted)
        .group_by(ReviewAssignment.application_id)
    ).all())
    assert sorted(per_application) == sorted(a.id for a in applications) and set(per_application.values()) == {3}
    assignment = db.session.scalar(sa.select(ReviewAssignment).join(Application)
                                   .where(Application.program_id == program.id).order_by(ReviewAssignment.id).limit(1))
    points = dict(db.session.execute(sa.select(Score.criterion_id, Score.points).where(Score.assignment_id == assignment.id)).all())
    assert len(points) == 6 and abs(assignment.total_score - review_total(points, criteria)) < 1e-9
    ranked = ranking(program)
    assert len(ranked) == 30 and all(r.reviews == 3 for r in ranked)

    # About 40% approved, each approval awarded; no award without an approval.
    decisions = dict(db.session.execute(sa.select(Decision.application_id, Decision.outcome).join(Application)
                                        .where(Application.program_id == program.id)).all())
    assert set(decisions.values()) == {"approved", "declined", "waitlisted"}
    approved = {app_id for app_id, outcome in decisions.items() if outcome == APPROVED}
    assert len(approved) == 12
    awards = db.session.scalars(sa.select(Award).where(Award.program_id == program.id).order_by(Award.award_number)).all()
    assert {award.application_id for award in awards} == approved
    assert all(award.application.status == ApplicationStatus.AWARDED for award in awards)
    assert [award.award_number for award in awards][:2] == ["SCL-2026-A0001", "SCL-2026-A0002"]
    assert {award.status for award in awards} <= {"active", "closed"} and "active" in {award.status for award in awards}

    # Invariants 1 and 2: within the program's budget; payments within each award.
    assert sum(award.amount_cents for award in awards) <= program.total_budget_cents
    for award in awards:
        non_void = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(Disbursement.amount_cents), 0))
                                     .where(Disbursement.award_id == award.id, Disbursement.status.in_(NON_VOID)))
        assert 0 < non_void <= award.amount_cents
        assert award.amount_cents == award.original_cents + sum(m.amount_delta_cents for m in award.amendments)
        periods = report_periods(award.start_date, award.end_date)
        assert [(r.period_start, r.period_end) for r in award.reports] == periods
        assert [r.is_final for r in award.reports] == [False] * (len(periods) - 1) + [True]
        if award.status == "closed":
            assert {d.status for d in award.disbursements} <= {"paid"} and non_void == award.amount_cents
    statuses = set(db.session.scalars(sa.select(Disbursement.status).join(Award).where(Award.program_id == program.id)))
    assert {"paid", "approved", "requested"} <= statuses
    report_statuses = set(db.session.scalars(sa.select(ProgressReport.status).join(Award).where(Award.program_id == program.id)))
    assert report_statuses == {"due", "submitted", "accepted", "revision_requested"}

    # Organizations: unique, well-formed EINs; the audit chain is intact with one summary event.
    eins = db.session.scalars(sa.select(Organization.ein)).all()
    assert len(eins) == len(set(eins)) and all(len(e) == 10 and e[2] == "-" and (e[:2] + e[3:]).isdigit() for e in eins)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "demo.scale_loaded")) == 1
    assert verify_chain().intact
    verified = app.test_cli_runner().invoke(args=["grants", "audit-verify"])
    assert verified.exit_code == 0, verified.output


def test_scale_users_sign_in_and_the_officer_sees_the_ranking(app, make_client):
    from grants import demo
    from tests.conftest import login

    _scale(app, "--scale", "12", "--seed", "3")
    program = _program()
    officer = make_client()
    login(officer, "officer@example.gov", demo.DEMO_PASSWORD)
    page = officer.get(f"/programs/{program.id}/ranking")
    assert page.status_code == 200 and b"SCL-2026-" in page.data
    reviewer = db.session.scalar(sa.select(User).where(User.email == "reviewer.01@scale.example.gov"))
    assert reviewer is not None and reviewer.roles == {"reviewer"}
    login(make_client(), reviewer.email, demo.DEMO_PASSWORD)


def test_scale_is_deterministic_for_a_seed(app):
    _scale(app, "--scale", "30", "--seed", "42")
    first = _fingerprint(_program())
    wipe_tables()
    _scale(app, "--scale", "30", "--seed", "42")
    assert _fingerprint(_program()) == first
    wipe_tables()
    _scale(app, "--scale", "30", "--seed", "43")
    assert _fingerprint(_program()) != first


def test_scale_adds_to_existing_demo_data_once(app):
    _scale(app, "--seed", "2")
    demo_events = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    result = _scale(app, "--scale", "9")
    assert "Demo data loaded." not in result.output and "9 applications" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) > demo_events
    again = app.test_cli_runner().invoke(args=["grants", "demo-data", "--scale", "9"])
    assert again.exit_code != 0 and "already" in again.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Application).join(Program)
                             .where(Program.code == demo_scale.CODE)) == 9
    assert verify_chain().intact


def test_scale_needs_the_demo_officer_in_a_database_with_other_users(app, officer):
    db.session.execute(sa.update(User).where(User.id == officer.id).values(email="someone@example.gov"))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["grants", "demo-data", "--scale", "5"])
    assert result.exit_code != 0 and "officer@example.gov" in result.output
    assert _program() is None
