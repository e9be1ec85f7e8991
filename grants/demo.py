"""Deterministic demo data. The password below is for demo accounts only, never for real ones.

Times are relative to now (an open program closes weeks from today); everything else comes from
the seed, so two runs with the same seed build the same records.
"""

from __future__ import annotations

import io
import random
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from grants.accounts.models import ADMIN, APPLICANT, FINANCE, PROGRAM_OFFICER, REVIEWER, Membership, User
from grants.accounts.services import create_organization, create_staff_user
from grants.applications import services as applications
from grants.clock import agency_today
from grants.db import utcnow
from grants.extensions import db
from grants.programs import services as programs
from grants.programs.lifecycle import ProgramStatus
from grants.programs.models import PARTNER_TYPES
from grants.reviews.models import APPROVED as APPROVE

DEMO_PASSWORD = "demo-password-2026"

USERS = [
    # (email, name, roles)
    ("applicant@example.org", "Alex Rivera", {APPLICANT}),
    ("applicant2@example.org", "Jordan Lee", {APPLICANT}),
    ("applicant3@example.org", "Priya Shah", {APPLICANT}),
    ("reviewer@example.gov", "Riley Chen", {REVIEWER}),
    ("reviewer2@example.gov", "Sam Okafor", {REVIEWER}),
    ("reviewer3@example.gov", "Taylor Brooks", {REVIEWER}),
    ("officer@example.gov", "Morgan Patel", {PROGRAM_OFFICER}),
    ("finance@example.gov", "Casey Nguyen", {FINANCE}),
    ("admin@example.gov", "Drew Alvarez", {ADMIN}),
]
LOGINS = [
    ("applicant", "applicant@example.org"),
    ("reviewer", "reviewer@example.gov"),
    ("program_officer", "officer@example.gov"),
    ("finance", "finance@example.gov"),
    ("admin", "admin@example.gov"),
]

ORGANIZATIONS: list[tuple[str, dict[str, Any]]] = [
    # (owner e-mail, fields)
    ("applicant@example.org", {
        "legal_name": "City of Riverside Community Response", "ein": "36-1234567", "uei": "RVSD12345678",
        "org_type": "city", "county": "Cook", "address_line1": "121 N LaSalle St", "city": "Riverside",
        "postal_code": "60546", "contact_phone": "(312) 555-0100",
    }),
    ("applicant2@example.org", {
        "legal_name": "Prairie Valley Behavioral Health", "ein": "37-7654321", "uei": None,
        "org_type": "behavioral_health", "county": "Champaign", "address_line1": "400 Green St",
        "city": "Urbana", "postal_code": "61801", "contact_phone": None,
    }),
    ("applicant3@example.org", {
        "legal_name": "Lake County Mobile Crisis EMS", "ein": "38-2468135", "uei": "LKEMS2468135",
        "org_type": "ems", "county": "Lake", "address_line1": "18 N County St", "city": "Waukegan",
        "postal_code": "60085", "contact_phone": "(847) 555-0199",
    }),
    ("applicant@example.org", {
        "legal_name": "Sangamon Crisis Alliance", "ein": "39-1357924", "uei": None,
        "org_type": "nonprofit", "county": "Sangamon", "address_line1": "1 Old State Capitol Plaza",
        "city": "Springfield", "postal_code": "62701", "contact_phone": None,
    }),
]

PARTNER_NAMES = {
    "library": ["Riverside Public Library", "Urbana Free Library", "Waukegan Public Library"],
    "transit": ["Metro Regional Transit", "Champaign-Urbana MTD", "Lake County Pace Division"],
    "faith_based": ["St. Mark's Community Church", "Masjid Al-Noor Outreach", "Temple Beth Shalom"],
    "business_improvement_district": ["Downtown Riverside BID", "Campustown BID", "Waukegan Harbor BID"],
    "other_community_anchor": ["Riverside Park District", "Urbana Senior Center", "Lake County Food Bank"],
}

TITLES = [
    "Responders in the stacks: library crisis partnership",
    "Safe rides: transit station crisis response",
    "Faith communities as first contact",
    "Main Street calm: business district crisis outreach",
    "Anchors of care: a county-wide partnership network",
]


def demo_pdf(title: str) -> bytes:
    """A small, valid one-page PDF with a line of text."""
    text = title.replace("\\", "").replace("(", "").replace(")", "")[:90]
    stream = f"BT /F1 14 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def demo_file(title: str, name: str) -> FileStorage:
    return FileStorage(stream=io.BytesIO(demo_pdf(title)), filename=name, content_type="application/pdf")


def database_has_users() -> bool:
    return db.session.execute(sa.select(sa.func.count()).select_from(User)).scalar_one() > 0


def load(*, seed: int) -> list[tuple[str, str]]:
    """Create the demo records and return one (role, e-mail) login per role."""
    rng = random.Random(seed)
    users = {email: create_staff_user(actor=None, email=email, name=name, roles=roles, password=DEMO_PASSWORD)
             for email, name, roles in USERS}
    organizations = []
    for owner_email, fields in ORGANIZATIONS:
        owner = users[owner_email]
        organizations.append(create_organization(actor=owner, fields={
            "address_line2": None, "state": "IL", **fields, "contact_name": owner.name, "contact_email": owner.email,
        }))
    officer = users["officer@example.gov"]
    open_program, closed_program = _programs(officer)
    _applications(rng, users, organizations, open_program, closed_program, officer)
    _reviews(rng, users, open_program, closed_program, officer)
    _awarded_round(rng, users, organizations, officer)
    return LOGINS


def _programs(officer: User):
    now = utcnow().replace(second=0, microsecond=0)
    common = {
        "funding_source_code": "GF-4410-CRP", "total_budget_cents": 250_000_000,
        "award_floor_cents": 2_500_000, "award_ceiling_cents": 30_000_000, "match_percent": 10,
        "reviewers_per_application": 3, "score_spread_threshold": 25, "share_reviewer_comments": True,
    }
    open_program = programs.create_program(actor=officer, fields={
        **common,
        "name": "Community Responder Partnerships 2027", "slug": "crp-2027", "code": "CRP",
        "description": (
            "Grants for community responder programs to build partnerships with public libraries, transit "
            "systems, faith-based organizations and business improvement districts, and to run public "
            "awareness campaigns so residents know who to call."
        ),
        "fiscal_year": 2027, "opens_at": now - timedelta(days=14), "closes_at": now + timedelta(days=35),
        "review_deadline": now + timedelta(days=60),
        "eligible_partner_types": list(PARTNER_TYPES),
    })
    closed_program = programs.create_program(actor=officer, fields={
        **common,
        "name": "Responder Partnership Pilot 2026", "slug": "rpp-2026", "code": "RPP",
        "description": "The pilot round: partnerships between responder teams and libraries or transit systems.",
        "fiscal_year": 2026, "opens_at": now - timedelta(days=120), "closes_at": now - timedelta(days=60),
        "review_deadline": now - timedelta(days=20), "total_budget_cents": 100_000_000,
        "eligible_partner_types": ["library", "transit", "faith_based", "business_improvement_district"],
    })
    rubric = [
        ("Community need", "How clearly the need is shown with local data.", 20, 25),
        ("Partnership strength", "Commitment, roles and history of the partners.", 20, 30),
        ("Approach and feasibility", "Whether the plan can work on the proposed timeline.", 20, 20),
        ("Public awareness", "Reach and quality of the awareness campaign.", 10, 10),
        ("Budget and sustainability", "Reasonable costs and a plan to continue after the grant.", 10, 15),
    ]
    for program in (open_program, closed_program):
        for name, guidance, max_points, weight in rubric:
            programs.add_criterion(actor=officer, program=program, name=name, guidance=guidance, max_points=max_points, weight=weight)
        programs.change_program_status(actor=officer, program=program, status=ProgramStatus.PUBLISHED)
    return open_program, closed_program


def _fill(rng: random.Random, application, actor: User, partner_types: list[str], index: int) -> None:
    program = application.program
    applications.update_project(actor=actor, application=application, fields={
        "title": TITLES[index % len(TITLES)],
        "summary": "Crisis counselors stationed with community anchors, with a shared call protocol.",
        "need": f"Partner sites in {application.organization.county} County call police for behavioral-health crises several times a week.",
        "approach": "Responders work from partner sites on set days; partner staff are trained to call the team directly.",
        "counties_served": application.organization.county,
        "awareness_component": True,
        "awareness_plan": "Posters, transit cards and library displays with the team's number; two community forums.",
        "expected_outcomes": "Fewer police dispatches to partner sites; more referrals to care.",
    })
    for partner_type in partner_types:
        name = rng.choice(PARTNER_NAMES[partner_type])
        applications.add_partner(actor=actor, application=application, fields={
            "partner_type": partner_type, "name": name, "contact_name": "Partner Director",
            "contact_email": "director@example.org", "role": "Hosts responders and trains staff.",
        }, letter=demo_file(f"Commitment letter from {name}", "commitment-letter.pdf"))
    personnel = rng.randrange(program.award_floor_cents, program.award_ceiling_cents - 1_000_000, 50_000)
    outreach = rng.randrange(100_000, 900_000, 10_000)
    applications.save_budget(actor=actor, application=application, lines=[
        {"category": "personnel", "description": "Crisis counselors (2 FTE)", "amount_cents": personnel},
        {"category": "outreach", "description": "Awareness campaign materials", "amount_cents": outreach},
    ], match_cents=(personnel + outreach) * program.match_percent // 100 + rng.randrange(0, 500_000, 10_000))
    applications.add_attachment(actor=actor, application=application, kind="budget_justification",
                                file=demo_file("Budget justification", "budget-justification.pdf"))


def _applications(rng, users, organizations, open_program, closed_program, officer) -> None:
    types = list(PARTNER_TYPES)
    members = {org.id: db.session.execute(sa.select(User).join(Membership).where(Membership.organization_id == org.id).order_by(User.id).limit(1)).scalar_one()
               for org in organizations}
    # The closed pilot: applications submitted while it was open, screened after it closed.
    in_window = closed_program.opens_at + timedelta(days=10)
    for index, organization in enumerate(organizations):
        actor = members[organization.id]
        application = applications.start_application(actor=actor, program=closed_program, organization=organization, now=in_window)
        _fill(rng, application, actor, [types[index % 4], types[(index + 1) % 4]], index)
        applications.submit_application(actor=actor, application_id=application.id, certified=True, now=in_window + timedelta(days=1))
        applications.screen_application(actor=officer, application=application, eligible=index != 3,
                                        reason=None if index != 3 else "The lead applicant is outside the program's service area.")
    programs.change_program_status(actor=officer, program=closed_program, status=ProgramStatus.CLOSED)
    # The open round: a submitted application with partners of every type, and drafts.
    for index, organization in enumerate(organizations[:3]):
        actor = members[organization.id]
        application = applications.start_application(actor=actor, program=open_program, organization=organization)
        if index == 0:
            _fill(rng, application, actor, types, index)
            applications.submit_application(actor=actor, application_id=application.id, certified=True)
        elif index == 1:
            _fill(rng, application, actor, ["faith_based", "other_community_anchor"], index)
        else:
            applications.update_project(actor=actor, application=application, fields={
                "title": TITLES[index], "summary": "", "need": "", "approach": "", "counties_served": organization.county,
                "awareness_component": None, "awareness_plan": "", "expected_outcomes": "",
            })
    # A complete application from the fourth organization, submitted and waiting to be screened.
    actor = members[organizations[3].id]
    waiting = applications.start_application(actor=actor, program=open_program, organization=organizations[3])
    _fill(rng, waiting, actor, ["library", "business_improvement_district"], 4)
    applications.submit_application(actor=actor, application_id=waiting.id, certified=True)


def _reviews(rng, users, open_program, closed_program, officer) -> None:
    """The pilot is fully reviewed (one reviewer recused), ready for the funding line; the open
    round's submitted application waits for its reviewers' conflict declarations."""
    from grants.applications.models import Application
    from grants.reviews import services as reviews

    panel = [users["reviewer@example.gov"], users["reviewer2@example.gov"], users["reviewer3@example.gov"]]
    reviews.set_affiliations(actor=panel[1], reviewer=panel[1], names=["Lake County Food Bank"])
    pilot = db.session.scalars(
        sa.select(Application).where(Application.program_id == closed_program.id, Application.is_under_review)
        .order_by(Application.reference)
    ).all()
    criteria = list(closed_program.criteria)
    for index, application in enumerate(pilot):
        for reviewer in panel:
            assignment = reviews.assign_reviewer(actor=officer, application=application, reviewer=reviewer)
            conflicted = reviewer is panel[2] and index == len(pilot) - 1
            reviews.declare_conflict(actor=reviewer, assignment=assignment, conflicted=conflicted,
                                     reason="I advised this organization's board last year." if conflicted else None)
            if conflicted:
                continue
            strength = 0.55 + 0.15 * (len(pilot) - index) / len(pilot) + rng.uniform(-0.1, 0.1)
            points = {c.id: max(0, min(c.max_points, round(c.max_points * (strength + rng.uniform(-0.1, 0.1))))) for c in criteria}
            reviews.save_review(actor=reviewer, assignment=assignment, points=points,
                                comments={c.id: rng.choice(["Clear and well supported.", "Needs more local data.", "Strong partner commitment.", "Budget is reasonable."]) for c in criteria},
                                overall_comment="A credible partnership plan." if strength > 0.6 else "Promising but thin on detail.",
                                recommendation="fund" if strength > 0.62 else "fund_with_conditions")
            reviews.submit_review(actor=reviewer, assignment_id=assignment.id)
    submitted = db.session.scalars(
        sa.select(Application).where(Application.program_id == open_program.id, Application.is_submitted)
        .order_by(Application.id).limit(1)
    ).all()
    for application in submitted:
        applications.screen_application(actor=officer, application=application, eligible=True, reason=None)
        for reviewer in (panel[0], panel[2]):
            reviews.assign_reviewer(actor=officer, application=application, reviewer=reviewer)


def _awarded_round(rng, users, organizations, officer) -> None:
    """Last year's round, carried through to awards: amendments, payments in every status and
    progress reports in every status, so the ledger, dashboards and finance pages have data."""
    from datetime import date

    from grants.awards import services as awards
    from grants.reviews import services as reviews

    finance = users["finance@example.gov"]
    now = utcnow().replace(second=0, microsecond=0)
    program = programs.create_program(actor=officer, fields={
        "name": "Community Responder Partnerships 2025", "slug": "crp-2025", "code": "CRPX",
        "description": "Last year's round: partnerships with libraries, transit, faith communities and business districts.",
        "fiscal_year": 2025, "funding_source_code": "GF-4410-CRP", "total_budget_cents": 120_000_000,
        "award_floor_cents": 2_500_000, "award_ceiling_cents": 30_000_000, "match_percent": 10,
        "opens_at": now - timedelta(days=540), "closes_at": now - timedelta(days=480), "review_deadline": now - timedelta(days=450),
        "eligible_partner_types": list(PARTNER_TYPES), "reviewers_per_application": 2, "score_spread_threshold": 25,
        "share_reviewer_comments": True,
    })
    for name, max_points, weight in (("Community need", 20, 40), ("Partnership strength", 20, 40), ("Feasibility", 20, 20)):
        programs.add_criterion(actor=officer, program=program, name=name, guidance="", max_points=max_points, weight=weight)
    programs.change_program_status(actor=officer, program=program, status=ProgramStatus.PUBLISHED)
    panel = [users["reviewer@example.gov"], users["reviewer3@example.gov"]]
    members = {org.id: db.session.execute(sa.select(User).join(Membership).where(Membership.organization_id == org.id).order_by(User.id).limit(1)).scalar_one()
               for org in organizations}
    in_window = program.opens_at + timedelta(days=5)
    made = []
    for index, organization in enumerate(organizations[:3]):
        actor = members[organization.id]
        application = applications.start_application(actor=actor, program=program, organization=organization, now=in_window)
        _fill(rng, application, actor, [list(PARTNER_TYPES)[index], list(PARTNER_TYPES)[(index + 2) % 5]], index + 1)
        applications.submit_application(actor=actor, application_id=application.id, certified=True, now=in_window + timedelta(days=1))
        applications.screen_application(actor=officer, application=application, eligible=True, reason=None)
        for reviewer in panel:
            assignment = reviews.assign_reviewer(actor=officer, application=application, reviewer=reviewer)
            reviews.declare_conflict(actor=reviewer, assignment=assignment, conflicted=False, reason=None)
            reviews.save_review(actor=reviewer, assignment=assignment,
                                points={c.id: rng.randint(12, 19) for c in program.criteria},
                                comments={c.id: "Solid." for c in program.criteria}, overall_comment="Fund.", recommendation="fund")
            reviews.submit_review(actor=reviewer, assignment_id=assignment.id)
        reviews.decide(actor=officer, application_id=application.id, outcome=APPROVE, flags_read=True, approved_cents=None, rationale="Strong partnership plan.")
        made.append((application, actor))
    programs.change_program_status(actor=officer, program=program, status=ProgramStatus.CLOSED)

    today = agency_today()
    start = date(today.year - 1, today.month, 1)
    end = date(start.year + 2, start.month, 1) - timedelta(days=1)
    metrics = {"people_served": 140, "calls_answered": 410, "referrals": 55, "awareness_events": 4, "partner_meetings": 9}
    for index, (application, member) in enumerate(made):
        period_end = date(start.year, start.month, 28) + timedelta(days=92) if index == 2 else end
        award = awards.create_award(actor=officer, application_id=application.id, amount_cents=None, start_date=start,
                                    end_date=period_end, conditions="Quarterly partner meetings with minutes.")
        awards.activate_award(actor=officer, award_id=award.id, signed_on=start)
        third = award.amount_cents // 4
        first = awards.request_payment(actor=member, award_id=award.id, amount_cents=third, period_start=start,
                                       period_end=start + timedelta(days=89), description="First quarter: counselor salaries",
                                       documentation=demo_file("Invoice, first quarter", "invoice-q1.pdf"), requested_on=start + timedelta(days=92))
        awards.approve_payment(actor=finance, disbursement_id=first.id, comment="Matches the invoice.")
        awards.mark_paid(actor=finance, disbursement_id=first.id, paid_on=start + timedelta(days=100), payment_reference=f"V-{2025_100 + index}")
        if index == 0:
            awards.amend_award(actor=officer, award_id=award.id, amount_delta_cents=1_000_000, new_end_date=None,
                               reason="Added a second library branch.")
            second = awards.request_payment(actor=member, award_id=award.id, amount_cents=third, period_start=start + timedelta(days=90),
                                            period_end=start + timedelta(days=180), description="Second quarter: salaries and outreach",
                                            requested_on=start + timedelta(days=183))
            awards.approve_payment(actor=finance, disbursement_id=second.id)
            awards.request_payment(actor=member, award_id=award.id, amount_cents=third // 2, period_start=start + timedelta(days=181),
                                   period_end=start + timedelta(days=270), description="Third quarter: outreach materials",
                                   documentation=demo_file("Invoice, third quarter", "invoice-q3.pdf"))
            reports = award.reports
            awards.submit_report(actor=member, report_id=reports[0].id, metrics=metrics, narrative="Two branches live; strong referral flow.")
            awards.review_report(actor=officer, report_id=reports[0].id, accept=True, comment="")
            awards.submit_report(actor=member, report_id=reports[1].id, metrics=metrics, narrative="Transit pilot started.")
            awards.review_report(actor=officer, report_id=reports[1].id, accept=False, comment="Add the number of calls from stations.")
            awards.submit_report(actor=member, report_id=reports[2].id, metrics=metrics, narrative="Awareness campaign launched.")
        elif index == 1:
            awards.record_payment(actor=finance, award_id=award.id, amount_cents=third, paid_on=start + timedelta(days=200),
                                  payment_reference=f"CHK-{4400 + index}", description="Second quarter")
            awards.amend_award(actor=officer, award_id=award.id, amount_delta_cents=0, new_end_date=end + timedelta(days=92),
                               reason="No-cost extension: hiring delays.")
        else:
            for report in award.reports:
                awards.submit_report(actor=member, report_id=report.id, metrics=metrics, narrative="Completed as planned.")
                awards.review_report(actor=officer, report_id=report.id, accept=True, comment="")
            awards.close_out_award(actor=officer, award_id=award.id)
