"""Small helpers that make domain objects through the services, as the app would."""

from __future__ import annotations

import itertools

from grants.accounts import services as accounts
from grants.extensions import db

PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)


def make_user(*, email: str | None = None, name: str | None = None, roles=("applicant",), password: str = PASSWORD):
    n = next(_counter)
    user = accounts.create_staff_user(
        actor=None,
        email=email or f"user{n}@example.org",
        name=name or f"Test User {n}",
        roles=set(roles),
        password=password,
    )
    db.session.flush()
    return user


def organization_fields(**overrides) -> dict:
    n = next(_counter)
    fields = {
        "legal_name": f"Test Responders {n}",
        "ein": f"{10 + n % 89:02d}-{n:07d}",
        "uei": None,
        "org_type": "nonprofit",
        "county": "Cook",
        "address_line1": "1 Main St",
        "address_line2": None,
        "city": "Springfield",
        "state": "IL",
        "postal_code": "62701",
        "contact_name": "Pat Contact",
        "contact_email": "contact@example.org",
        "contact_phone": None,
    }
    fields.update(overrides)
    return fields


def make_organization(*, members, **overrides):
    first, *others = members
    organization = accounts.create_organization(actor=first, fields=organization_fields(**overrides))
    for member in others:
        from grants.accounts.models import Membership

        db.session.add(Membership(user=member, organization=organization))
    db.session.flush()
    return organization


# Programs and applications ----------------------------------------------------------------------

import io  # noqa: E402
from datetime import timedelta  # noqa: E402

from grants.db import utcnow  # noqa: E402

# Smallest files that pass the content sniffing: a PDF with a header and %%EOF, a 1×1 PNG.
PDF_BYTES = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


def pdf_upload(name: str = "letter.pdf"):
    from werkzeug.datastructures import FileStorage

    return FileStorage(stream=io.BytesIO(PDF_BYTES), filename=name, content_type="application/pdf")


def program_fields(**overrides) -> dict:
    n = next(_counter)
    now = utcnow()
    fields = {
        "name": f"Community Responder Partnerships {n}",
        "slug": f"crp-{n}",
        "code": f"CRP{n}",
        "description": "Grants for community responder programs to partner with community anchors.",
        "fiscal_year": 2027,
        "funding_source_code": "GF-4410",
        "total_budget_cents": 100_000_000,
        "award_floor_cents": 2_500_000,
        "award_ceiling_cents": 25_000_000,
        "match_percent": 10,
        "opens_at": now - timedelta(days=1),
        "closes_at": now + timedelta(days=30),
        "eligible_partner_types": ["library", "transit", "faith_based", "business_improvement_district"],
        "reviewers_per_application": 3,
        "score_spread_threshold": 25,
        "review_deadline": None,
        "share_reviewer_comments": False,
    }
    fields.update(overrides)
    return fields


def make_program(*, officer=None, status="published", criteria=3, **overrides):
    """A program with ``criteria`` rubric lines, published and open unless told otherwise."""
    from grants.programs import services as programs

    officer = officer or make_user(roles={"program_officer"})
    program = programs.create_program(actor=officer, fields=program_fields(**overrides))
    for i in range(criteria):
        programs.add_criterion(actor=officer, program=program, name=f"Criterion {i + 1}", guidance="", max_points=10 * (i + 1), weight=(i + 1))
    if status in ("published", "closed", "archived"):
        programs.change_program_status(actor=officer, program=program, status="published")
    if status in ("closed", "archived"):
        programs.change_program_status(actor=officer, program=program, status="closed")
    if status == "archived":
        programs.change_program_status(actor=officer, program=program, status="archived")
    db.session.flush()
    return program


def make_application(*, program, organization, actor, complete=True, partners=("library", "transit"), requested_cents=None):
    """A draft; with ``complete``, every section filled so it can be submitted."""
    from grants.applications import services as applications

    application = applications.start_application(actor=actor, program=program, organization=organization)
    if complete:
        applications.update_project(actor=actor, application=application, fields={
            "title": "Library and transit crisis partnership",
            "summary": "Crisis counselors at libraries and transit hubs.",
            "need": "Calls from libraries and stations go to police.",
            "approach": "Co-located responders and staff training.",
            "counties_served": "Cook, Lake",
            "awareness_component": True,
            "awareness_plan": "Posters in stations and branches.",
            "expected_outcomes": "Fewer police dispatches.",
        })
        for partner_type in partners:
            applications.add_partner(actor=actor, application=application, fields={
                "partner_type": partner_type, "name": f"{partner_type.title()} Partner", "contact_name": "Pat",
                "contact_email": "pat@example.org", "role": "Hosts responders",
            }, letter=pdf_upload())
        requested = requested_cents or program.award_floor_cents * 2
        applications.save_budget(actor=actor, application=application, lines=[
            {"category": "personnel", "description": "Two counselors", "amount_cents": requested - 100_000},
            {"category": "outreach", "description": "Posters", "amount_cents": 100_000},
        ], match_cents=requested * program.match_percent // 100 + 1)
    db.session.flush()
    return application


def make_eligible_application(*, program, organization, actor, officer, **kwargs):
    """A complete application, submitted and screened eligible (under review)."""
    from grants.applications import services as applications

    application = make_application(program=program, organization=organization, actor=actor, **kwargs)
    applications.submit_application(actor=actor, application_id=application.id, certified=True)
    applications.screen_application(actor=officer, application=application, eligible=True, reason=None)
    db.session.flush()
    return application


def make_review_world(*, reviewers_per_application: int = 2, with_reviewer: bool = True) -> dict:
    """An officer's program with one application under review (from Lakeside Responders) and, unless
    ``with_reviewer`` is False, Rita One assigned to review it; committed."""
    from grants.reviews import services as reviews

    officer = make_user(email="po@state.gov", roles={"program_officer"})
    member = make_user(email="member@example.org")
    organization = make_organization(members=[member], legal_name="Lakeside Responders")
    program = make_program(officer=officer, reviewers_per_application=reviewers_per_application)
    application = make_eligible_application(program=program, organization=organization, actor=member, officer=officer)
    world = {"officer": officer, "member": member, "program": program, "application": application}
    if with_reviewer:
        world["reviewer"] = make_user(email="r1@state.gov", name="Rita One", roles={"reviewer"})
        world["assignment"] = reviews.assign_reviewer(actor=officer, application=application, reviewer=world["reviewer"])
    db.session.commit()
    return world


def review(*, officer, application, reviewer, points: list[int] | None, recommendation="fund", conflicted=False):
    """Assign ``reviewer``, declare, and (with points) score and submit."""
    from grants.reviews import services as reviews

    assignment = reviews.assign_reviewer(actor=officer, application=application, reviewer=reviewer)
    reviews.declare_conflict(actor=reviewer, assignment=assignment, conflicted=conflicted, reason="Board member" if conflicted else None)
    if points is not None and not conflicted:
        criteria = application.program.criteria
        reviews.save_review(actor=reviewer, assignment=assignment, points={c.id: p for c, p in zip(criteria, points, strict=False)},
                            comments={c.id: f"Comment on {c.name}" for c in criteria}, overall_comment="Overall view", recommendation=recommendation)
        reviews.submit_review(actor=reviewer, assignment_id=assignment.id)
    db.session.flush()
    return assignment


def make_award(*, officer=None, program=None, amount_cents=None, active=True, **kwargs):
    """An approved application turned into an award (active unless told otherwise)."""
    from datetime import date

    from grants.awards import services as awards
    from grants.reviews import services as reviews

    officer = officer or make_user(roles={"program_officer"})
    program = program or make_program(officer=officer)
    member = kwargs.pop("member", None) or make_user()
    organization = kwargs.pop("organization", None) or make_organization(members=[member])
    application = make_eligible_application(program=program, organization=organization, actor=member, officer=officer,
                                            requested_cents=amount_cents)
    reviews.decide(actor=officer, application_id=application.id, outcome="approved", flags_read=True, approved_cents=amount_cents, rationale="Strong")
    award = awards.create_award(actor=officer, application_id=application.id, amount_cents=None,
                                start_date=kwargs.pop("start_date", date(2027, 1, 1)), end_date=kwargs.pop("end_date", date(2027, 12, 31)), conditions="")
    if active:
        awards.activate_award(actor=officer, award_id=award.id, signed_on=date(2026, 11, 1))
    db.session.flush()
    return award
