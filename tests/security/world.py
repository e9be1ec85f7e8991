"""One grant round with an object in every state the access rules care about.

Built through the services, as the app would, with distinctive strings so a test can tell when a
page shows someone what they must not see: ``never_shown(world)`` lists them for each kind of user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import sqlalchemy as sa

from grants.accounts import services as accounts
from grants.accounts.models import Organization, User
from grants.applications import services as applications
from grants.applications.models import Application, Attachment, Partner
from grants.awards import services as awards
from grants.awards.models import Award, Disbursement, ProgressReport
from grants.extensions import db
from grants.notifications.models import OutboxMessage
from grants.programs.models import Criterion, Program
from grants.reviews import services as reviews
from grants.reviews.models import ReviewAssignment
from tests import factories

# What the owning organization's data looks like; none of it may reach an outsider's screen.
LEGAL_NAME = "Zephyrine Crisis Collective"
EIN = "47-8813520"
SUBMITTED_TITLE = "Quillfeather Transit Outreach Pilot"
DRAFT_TITLE = "Marrowgate Library Draft Plan"
AWARD_TITLE = "Obsidian Lantern Award Project"
PARTNER_NAMES = ("Vantablack Public Library", "Halcyon Transit Authority", "Cobaltine Faith Alliance")
TITLES = (SUBMITTED_TITLE, DRAFT_TITLE, AWARD_TITLE)
# The organization and its partners, which a reviewer must see to declare a conflict.
IDENTITY = (LEGAL_NAME, *PARTNER_NAMES)
SECRETS = (*TITLES, LEGAL_NAME, EIN, *PARTNER_NAMES)
# The other organization, which has a draft of its own.
OTHER_LEGAL_NAME = "Elsewhere Response Team"
OTHER_EIN = "31-0000001"
OTHER_DRAFT_TITLE = "Brackenfold Outsider Draft Idea"
# The owning organization's award and payment, as pages show them: for its members and staff only.
AWARD_CENTS, AWARD_AMOUNT = 4_876_500, "$48,765.00"
PAYMENT_CENTS, PAYMENT_AMOUNT = 512_300, "$5,123.00"
# A submitted review of the submitted application; the program does not share comments with applicants.
REVIEW_REMARK = "Tamarack remark: the staffing plan is thin"

USER_KINDS = (
    "anonymous",    # nobody signed in
    "owner",        # applicant, member of the organization that owns the applications
    "outsider",     # applicant of another organization
    "pending",      # reviewer assigned to the submitted application, conflict not yet declared
    "cleared",      # reviewer assigned to it who declared no conflict
    "unassigned",   # reviewer with no assignment on it
    "conflicted",   # reviewer assigned to it who declared a conflict (recused)
    "finance",
    "officer",      # program officer
    "admin",
)
REVIEWER_KINDS = ("pending", "cleared", "unassigned", "conflicted")
# Beside the table's kinds: a program officer who also reviews and declared a conflict on the
# submitted application (issue 14: the conflict outweighs the officer's role on it).
CONFLICTED_OFFICER = "conflicted_officer"


@dataclass
class World:
    users: dict[str, User | None]
    organization: Organization
    other_organization: Organization
    program: Program
    criteria: list[Criterion]
    submitted: Application      # submitted, screened eligible, under review
    draft: Application          # a complete draft
    awarded: Application        # approved and awarded
    assignments: dict[str, ReviewAssignment]  # pending, cleared, conflicted, scored
    award: Award
    payment: Disbursement       # requested by the grantee, waiting for finance
    report: ProgressReport      # due
    draft_partner: Partner
    draft_attachment: Attachment
    submitted_attachment: Attachment
    reset_token: str
    invitation_token: str
    ids: dict[str, int] = field(default_factory=dict)


def complete_application(*, program, organization, actor, title: str, partners: list[tuple[str, str]],
                         attachment: bool = True) -> Application:
    """A draft with every section filled: project, partners with letters, a budget in range, a file."""
    application = applications.start_application(actor=actor, program=program, organization=organization)
    applications.update_project(actor=actor, application=application, fields={
        "title": title,
        "summary": f"Summary of {title}.",
        "need": "Calls from libraries and stations go to police.",
        "approach": "Co-located responders and staff training.",
        "counties_served": "Cook, Lake",
        "awareness_component": True,
        "awareness_plan": "Posters in stations and branches.",
        "expected_outcomes": "Fewer police dispatches.",
    })
    for partner_type, name in partners:
        applications.add_partner(actor=actor, application=application, fields={
            "partner_type": partner_type, "name": name, "contact_name": "Pat Lee",
            "contact_email": "pat@example.org", "role": "Hosts responders",
        }, letter=factories.pdf_upload())
    requested = program.award_floor_cents * 2
    applications.save_budget(actor=actor, application=application, lines=[
        {"category": "personnel", "description": "Two counselors", "amount_cents": requested - 100_000},
        {"category": "outreach", "description": "Posters", "amount_cents": 100_000},
    ], match_cents=requested * program.match_percent // 100 + 1)
    if attachment:
        applications.add_attachment(actor=actor, application=application, kind="budget_justification",
                                    file=factories.pdf_upload("justification.pdf"))
    db.session.flush()
    return application


def build_world() -> World:
    make = factories.make_user
    officer = make(email="officer@state.gov", name="Olive Officer", roles={"program_officer"})
    users: dict[str, User | None] = {
        "anonymous": None,
        "owner": make(email="owner@zephyrine.org", name="Owen Owner"),
        "outsider": make(email="outsider@elsewhere.org", name="Oscar Outsider"),
        "pending": make(email="pending@review.org", name="Penny Pending", roles={"reviewer"}),
        "cleared": make(email="cleared@review.org", name="Clara Cleared", roles={"reviewer"}),
        "unassigned": make(email="unassigned@review.org", name="Uma Unassigned", roles={"reviewer"}),
        "conflicted": make(email="conflicted@review.org", name="Conrad Conflicted", roles={"reviewer"}),
        "finance": make(email="finance@state.gov", name="Fiona Finance", roles={"finance"}),
        "officer": officer,
        "admin": make(email="admin@state.gov", name="Ada Admin", roles={"admin"}),
    }
    users[CONFLICTED_OFFICER] = make(email="po-reviewer@state.gov", name="Quinn Both", roles={"program_officer", "reviewer"})
    scorer = make(email="scorer@review.org", name="Sam Scorer", roles={"reviewer"})
    remarker = make(email="remarker@review.org", name="Rhea Remarker", roles={"reviewer"})
    owner = users["owner"]
    organization = factories.make_organization(members=[owner], legal_name=LEGAL_NAME, ein=EIN, county="Kendall")
    other_organization = factories.make_organization(members=[users["outsider"]], legal_name=OTHER_LEGAL_NAME, ein=OTHER_EIN)
    # Two reviewers per application, and the submitted one has more (pending, cleared, remarking), so
    # auto-assignment has nothing to do (and leaves the unassigned reviewer unassigned).
    program = factories.make_program(officer=officer, name="Responder Partnerships Round", code="RPR",
                                     slug="responder-round", reviewers_per_application=2,
                                     total_budget_cents=10_000_000_000)
    criteria = list(program.criteria)

    submitted = complete_application(program=program, organization=organization, actor=owner, title=SUBMITTED_TITLE,
                                     partners=[("library", PARTNER_NAMES[0]), ("transit", PARTNER_NAMES[1])])
    applications.submit_application(actor=owner, application_id=submitted.id, certified=True)
    applications.screen_application(actor=officer, application=submitted, eligible=True, reason=None)
    assignments = {
        "pending": reviews.assign_reviewer(actor=officer, application=submitted, reviewer=users["pending"]),
        "cleared": factories.review(officer=officer, application=submitted, reviewer=users["cleared"], points=None),
        "conflicted": factories.review(officer=officer, application=submitted, reviewer=users["conflicted"], points=None, conflicted=True),
        CONFLICTED_OFFICER: factories.review(officer=officer, application=submitted, reviewer=users[CONFLICTED_OFFICER],
                                             points=None, conflicted=True),
    }
    remarked = factories.review(officer=officer, application=submitted, reviewer=remarker, points=None)
    reviews.save_review(actor=remarker, assignment=remarked, points={c.id: c.max_points for c in criteria},
                        comments={c.id: "" for c in criteria}, overall_comment=REVIEW_REMARK, recommendation="fund")
    reviews.submit_review(actor=remarker, assignment_id=remarked.id)

    awarded = complete_application(program=program, organization=organization, actor=owner, title=AWARD_TITLE,
                                   partners=[("faith_based", PARTNER_NAMES[2])])
    applications.submit_application(actor=owner, application_id=awarded.id, certified=True)
    applications.screen_application(actor=officer, application=awarded, eligible=True, reason=None)
    # A submitted review freezes the rubric, so rubric POSTs below are refused rather than applied.
    assignments["scored"] = factories.review(officer=officer, application=awarded, reviewer=scorer, points=[8, 15, 25])
    reviews.decide(actor=officer, application_id=awarded.id, outcome="approved", flags_read=True, approved_cents=None, rationale="Strong")
    award = awards.create_award(actor=officer, application_id=awarded.id, amount_cents=AWARD_CENTS,
                                start_date=date(2027, 1, 1), end_date=date(2027, 12, 31), conditions="")
    awards.activate_award(actor=officer, award_id=award.id, signed_on=date(2026, 11, 1))
    payment = awards.request_payment(actor=owner, award_id=award.id, amount_cents=PAYMENT_CENTS, period_start=None,
                                     period_end=None, description="Counselor salaries", documentation=factories.pdf_upload("invoice.pdf"))

    draft = complete_application(program=program, organization=organization, actor=owner, title=DRAFT_TITLE,
                                 partners=[("library", PARTNER_NAMES[0])])
    complete_application(program=program, organization=other_organization, actor=users["outsider"], title=OTHER_DRAFT_TITLE,
                         partners=[("transit", "Elsewhere Transit")], attachment=False)

    accounts.invite_member(actor=owner, organization=organization, email="invitee@nowhere.org")
    db.session.flush()
    invitation = db.session.scalars(sa.select(OutboxMessage).where(OutboxMessage.to_address == "invitee@nowhere.org")).one()
    invitation_token = re.search(r"/invitations/(\S+)", invitation.body).group(1)

    db.session.commit()
    report = min(award.reports, key=lambda r: r.sequence)
    return World(
        users=users, organization=organization, other_organization=other_organization, program=program,
        criteria=criteria, submitted=submitted, draft=draft, awarded=awarded, assignments=assignments,
        award=award, payment=payment, report=report, draft_partner=draft.partners[0],
        draft_attachment=next(a for a in draft.attachments if a.partner_id is None),
        submitted_attachment=next(a for a in submitted.attachments if a.partner_id is None),
        reset_token=accounts.password_reset_token(owner), invitation_token=invitation_token,
    )


def never_shown(world: World) -> dict[str, tuple[str, ...]]:
    """For each kind of user, the strings that must never appear in any response to them.

    A reviewer's own assignment may show the applicant's identity before the declaration (see the
    matrix's SHOWS_IDENTITY_TO_DECLARE); the cleared reviewer reads the submitted application, so
    its title, organization and partners are theirs to see, but nothing else of the organization.
    """
    other = (OTHER_LEGAL_NAME, OTHER_EIN, OTHER_DRAFT_TITLE)
    award_figures = (world.award.award_number, AWARD_AMOUNT, PAYMENT_AMOUNT)
    reviewer_names = {kind: world.users[kind].name for kind in REVIEWER_KINDS} | {"scorer": "Sam Scorer", "remarker": "Rhea Remarker"}
    # Other reviewers' names and comments (the decision is for staff; comments are not shared here).
    reviews_of_others = {kind: (*(name for who, name in reviewer_names.items() if who != kind), REVIEW_REMARK)
                         for kind in USER_KINDS}
    # No page ever shows a password hash, to anyone.
    hashes = tuple(user.password_hash for user in world.users.values() if user is not None)
    not_for_cleared = (DRAFT_TITLE, AWARD_TITLE, PARTNER_NAMES[2])  # the owner's other applications
    return {
        "anonymous": (*hashes, *SECRETS, *other, *award_figures, *reviews_of_others["anonymous"]),
        "owner": (*hashes, *other, *reviews_of_others["owner"]),
        "outsider": (*hashes, *SECRETS, *award_figures, *reviews_of_others["outsider"]),
        "pending": (*hashes, *SECRETS, *other, *award_figures, *reviews_of_others["pending"]),
        "cleared": (*hashes, *not_for_cleared, *other, *award_figures, *reviews_of_others["cleared"]),
        "unassigned": (*hashes, *SECRETS, *other, *award_figures, *reviews_of_others["unassigned"]),
        "conflicted": (*hashes, *SECRETS, *other, *award_figures, *reviews_of_others["conflicted"]),
        "finance": hashes,
        "officer": hashes,
        "admin": hashes,
        # The submitted application's title, reference and reviews (its own recused page names the reference).
        CONFLICTED_OFFICER: (*hashes, SUBMITTED_TITLE, world.submitted.reference, REVIEW_REMARK),
    }


def fresh_draft_partner(world: World) -> int:
    """A partner made for one request that removes it, so later requests still find the others."""
    partner = applications.add_partner(actor=world.users["owner"], application=world.draft, fields={
        "partner_type": "transit", "name": "Spare Transit Partner", "contact_name": "Pat Lee",
        "contact_email": "pat@example.org", "role": "Spare",
    })
    db.session.commit()
    return partner.id


def fresh_draft_attachment(world: World) -> int:
    attachment = applications.add_attachment(actor=world.users["owner"], application=world.draft, kind="other",
                                             file=factories.pdf_upload("spare.pdf"))
    db.session.commit()
    return attachment.id
