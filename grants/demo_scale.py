"""Demo data at scale: ``flask grants demo-data --scale N`` (issue 10).

N applications in a closed program of their own (code ``SCL``), carried all the way through:
partners, budgets, three submitted reviews each over a six-line rubric, decisions, awards for the
approved ones, amendments, payments and quarterly progress reports.

Rows go in with bulk ``INSERT … VALUES`` batches (``session.execute(insert(Model), rows)``), not
one ORM flush per row, so 5,000 applications load in seconds. Everything is planned in memory
first from one seeded ``random.Random``, so a seed always gives the same references and amounts;
dates are relative to today, like the ordinary demo data. The program, its rubric and status
changes go through the services (audited), and one ``demo.scale_loaded`` event records the counts:
the audit chain stays intact without a made-up row in it.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa

from grants.accounts.models import (
    APPLICANT,
    ORGANIZATION_TYPES,
    REVIEWER,
    Membership,
    Organization,
    User,
    UserRole,
    new_session_token,
)
from grants.accounts.services import hash_password
from grants.applications.lifecycle import ApplicationStatus
from grants.applications.models import Application, BudgetLine, Partner
from grants.audit.services import record_event
from grants.awards.models import (
    ACCEPTED,
    ACTIVE,
    APPROVED,
    CLOSED,
    DUE,
    PAID,
    REQUESTED,
    REVISION_REQUESTED,
    SUBMITTED,
    VOID,
    Amendment,
    Award,
    Disbursement,
    ProgressReport,
)
from grants.awards.services import REPORT_GRACE_DAYS, _add_months, report_periods
from grants.clock import to_local
from grants.db import utcnow
from grants.extensions import db
from grants.programs import services as programs
from grants.programs.lifecycle import ProgramStatus
from grants.programs.models import PARTNER_TYPES, Criterion, Program
from grants.reviews.lifecycle import ConflictStatus, ReviewStatus
from grants.reviews.models import APPROVED as APPROVE
from grants.reviews.models import DECLINED as DECLINE
from grants.reviews.models import WAITLISTED as WAITLIST
from grants.reviews.models import Decision, ReviewAssignment, Score
from grants.reviews.services import review_total

CODE = "SCL"
SLUG = "responder-partnerships-at-scale-2026"
FISCAL_YEAR = 2026
APPROVED_SHARE = 0.40
WAITLISTED_SHARE = 0.15
MAX_REVIEWERS = 60
REVIEWS_PER_APPLICATION = 3
DOLLARS_100 = 10_000  # amounts are whole hundreds of dollars, in cents
FLOOR_CENTS, CEILING_CENTS = 2_500_000, 30_000_000

RUBRIC = [
    # (name, guidance, max points, weight)
    ("Community need", "How clearly the need is shown with local call and dispatch data.", 20, 20),
    ("Partnership strength", "Commitment letters, defined roles and history of the partners.", 20, 25),
    ("Approach and feasibility", "Whether the staffing and protocol can work on the timeline.", 20, 20),
    ("Public awareness", "Reach and quality of the awareness campaign.", 10, 10),
    ("Budget and sustainability", "Reasonable costs and a plan to continue after the grant.", 10, 15),
    ("Evaluation and data", "Outcome measures, data sharing and a plan to report them.", 10, 10),
]

COUNTIES = [
    # (county, city, postal code)
    ("Cook", "Chicago", "60602"), ("DuPage", "Wheaton", "60187"), ("Lake", "Waukegan", "60085"),
    ("Will", "Joliet", "60432"), ("Kane", "Aurora", "60505"), ("McHenry", "Woodstock", "60098"),
    ("Winnebago", "Rockford", "61101"), ("Madison", "Edwardsville", "62025"), ("St. Clair", "Belleville", "62220"),
    ("Champaign", "Urbana", "61801"), ("Sangamon", "Springfield", "62701"), ("Peoria", "Peoria", "61602"),
    ("McLean", "Bloomington", "61701"), ("Rock Island", "Rock Island", "61201"), ("Tazewell", "Pekin", "61554"),
    ("Kankakee", "Kankakee", "60901"), ("Macon", "Decatur", "62523"), ("DeKalb", "DeKalb", "60115"),
    ("Jackson", "Carbondale", "62901"), ("Adams", "Quincy", "62301"),
]
# IRS campus prefixes not used by grants/demo.py (which uses 36–39).
EIN_PREFIXES = ["20", "26", "27", "33", "41", "45", "46", "47", "80", "81", "82", "83", "84", "85", "86", "87", "88"]
ORG_PATTERNS = {
    "city": "City of {city} Community Response",
    "county": "{county} County Crisis Response Unit",
    "nonprofit": "{flavor} Crisis Alliance of {city}",
    "ems": "{county} County Mobile Crisis EMS",
    "behavioral_health": "{flavor} Behavioral Health of {city}",
    "tribal": "{flavor} Nations Wellness Council",
    "other_public": "{county} County Public Health Department",
}
FLAVORS = ["Prairie", "Riverfront", "Lakeshore", "Heartland", "Crossroads", "Unity", "Harbor", "Valley", "Northside", "Southside"]
FIRST_NAMES = ["Alex", "Jordan", "Priya", "Riley", "Sam", "Taylor", "Morgan", "Casey", "Drew", "Jamie", "Avery", "Quinn",
               "Rosa", "Malik", "Mei", "Tomás", "Aisha", "Noah", "Grace", "Omar", "Lena", "Diego", "Hana", "Kofi"]
LAST_NAMES = ["Rivera", "Lee", "Shah", "Chen", "Okafor", "Brooks", "Patel", "Nguyen", "Alvarez", "Kowalski", "Johnson",
              "García", "Kim", "Williams", "Haddad", "Novak", "Mensah", "O'Brien", "Singh", "Moreno", "Fischer", "Ito"]
PARTNER_PATTERNS = {
    "library": ["{city} Public Library", "{county} County Library District", "{city} Township Library"],
    "transit": ["{county} Area Transit", "{city} Transit Authority", "{city} Metra Station Partners"],
    "faith_based": ["First Baptist Church of {city}", "St. Joseph Parish, {city}", "{city} Islamic Center", "Temple Beth El of {city}"],
    "business_improvement_district": ["Downtown {city} BID", "{city} Main Street Alliance", "{city} Riverfront Business District"],
    "other_community_anchor": ["{city} Park District", "{county} County Food Pantry", "{city} Senior Center", "{city} YMCA"],
}
PARTNER_ROLES = {
    "library": "Hosts responders at the reference desk two days a week; trains staff to call the team directly.",
    "transit": "Stations responders at the busiest stops; drivers radio the team instead of police.",
    "faith_based": "Opens its hall for drop-in hours and refers congregants in crisis.",
    "business_improvement_district": "Funds ambassadors who walk with responders and call them for people in distress.",
    "other_community_anchor": "Shares space and refers visitors; co-hosts awareness events.",
}
TITLES = [
    "Responders in the stacks: {city} library crisis partnership",
    "Safe rides: {county} County transit crisis response",
    "Faith communities as first contact in {city}",
    "Main Street calm: {city} business district outreach",
    "Anchors of care: a {county} County partnership network",
    "Call us first: {city} community responder expansion",
]
BUDGET_EXTRAS = [
    ("training", "Crisis intervention training for partner staff"),
    ("outreach", "Awareness campaign: posters, transit cards, forums"),
    ("equipment", "Radios and tablets for the response team"),
    ("partner_subawards", "Subawards to partner sites for hosting costs"),
    ("other", "Evaluation and data sharing"),
]
SCORE_COMMENTS = ["Clear and well supported.", "Needs more local data.", "Strong partner commitment.", "Budget is reasonable.",
                  "Timeline looks tight.", "Good use of dispatch data.", "Roles of partners are vague.", ""]
CONDITIONS = ["Submit signed data-sharing agreements with each partner within 90 days.",
              "Hire the second crisis counselor before the first payment request.", ""]


@dataclass
class ScaleCounts:
    organizations: int = 0
    users: int = 0
    reviewers: int = 0
    applications: int = 0
    partners: int = 0
    budget_lines: int = 0
    reviews: int = 0
    scores: int = 0
    decisions: int = 0
    awards: int = 0
    amendments: int = 0
    disbursements: int = 0
    progress_reports: int = 0
    statuses: dict[str, int] = field(default_factory=dict)


class ScaleError(Exception):
    """The scale data cannot be loaded into this database (the message says why)."""


def scale_program_exists() -> bool:
    return db.session.scalar(sa.select(Program.id).where(sa.or_(Program.code == CODE, Program.slug == SLUG))) is not None


@dataclass(frozen=True)
class _RubricLine:
    """Enough of a Criterion for ``review_total``: ``id`` is the line's position until the rows exist."""

    id: int
    max_points: int
    weight: int


def _insert(model, rows: list[dict], *, ids: bool = False) -> list[int]:
    """One bulk INSERT (executemany / multi-VALUES batches); with ``ids``, the new ids in row order."""
    if not rows:
        return []
    if ids:
        stmt = sa.insert(model).returning(model.id, sort_by_parameter_order=True)
        return list(db.session.scalars(stmt, rows, execution_options={"render_nulls": True}))
    db.session.execute(sa.insert(model), rows, execution_options={"render_nulls": True})
    return []


def _rng(seed: int, phase: str) -> random.Random:
    return random.Random(f"scale:{seed}:{phase}")  # a str seed is hashed with SHA-512: stable across runs


def _at(day: date, hour: int = 15) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=UTC)


def _hundreds(cents: float) -> int:
    return max(DOLLARS_100, int(round(cents / DOLLARS_100)) * DOLLARS_100)


def load_scale(*, applications: int, seed: int, officer: User, finance: User | None = None,
               password: str) -> ScaleCounts:
    """Create the scale program and its N applications, carried through to awards and payments.

    Needs a program officer to act (and, optionally, a finance user who approves payments).
    Raises ScaleError when the scale program already exists. Flushes; the caller commits.
    """
    if applications < 1:
        raise ScaleError("--scale needs at least one application.")
    if scale_program_exists():
        raise ScaleError(f"The scale program (code {CODE}) is already in this database; --scale loads it once.")
    finance = finance or officer
    now = utcnow().replace(minute=0, second=0, microsecond=0)
    today = to_local(now).date()  # the agency's date, as the services judge 'today'
    counts = ScaleCounts()

    # Plan everything in memory from the seed, then write it in bulk. ---------------------------
    # Each phase has its own generator, so changing one phase leaves the others' data as it was.
    orgs = _plan_organizations(_rng(seed, "organizations"), max(3, math.ceil(applications / 3)), _existing_eins())
    pool = _plan_people(_rng(seed, "reviewers"), min(MAX_REVIEWERS, max(6, applications // 4)))
    opens_at = now - timedelta(days=620)
    closes_at = opens_at + timedelta(days=60)
    apps = _plan_applications(_rng(seed, "applications"), applications, orgs, opens_at, closes_at)
    rubric = [_RubricLine(position, max_points, weight) for position, (_, _, max_points, weight) in enumerate(RUBRIC)]
    reviews = _plan_reviews(_rng(seed, "reviews"), apps, len(pool), rubric, closes_at)
    decided_at = closes_at + timedelta(days=55)
    _plan_decisions(_rng(seed, "decisions"), apps)
    awards = _plan_awards(seed, apps, decided_at, today)
    budget = _hundreds(sum(a["amount"] for a in awards) * 1.08 + 50_000_000)
    budget = max(budget, CEILING_CENTS)
    grantee_rows = [{"email": o["email"], "name": o["contact_name"]} for o in orgs]
    reviewer_rows = [{"email": f"reviewer.{k + 1:02d}@scale.example.gov", "name": name} for k, name in enumerate(pool)]
    taken = set(db.session.scalars(sa.select(User.email).where(User.email.in_([r["email"] for r in grantee_rows + reviewer_rows]))))
    if taken:
        raise ScaleError(f"Scale demo accounts already exist (e.g. {sorted(taken)[0]}); load --scale into a database without them.")

    # The program and rubric, through the services (audited). -----------------------------------
    program = programs.create_program(actor=officer, fields={
        "name": "Community Responder Partnerships at Scale 2026", "slug": SLUG, "code": CODE,
        "description": ("A statewide round for community responder programs: partnerships with public libraries, transit "
                        "systems, faith-based organizations and business improvement districts, with awareness campaigns. "
                        f"Generated demo data ({applications:,} applications, seed {seed})."),
        "fiscal_year": FISCAL_YEAR, "funding_source_code": "GF-4410-CRP", "total_budget_cents": budget,
        "award_floor_cents": FLOOR_CENTS, "award_ceiling_cents": CEILING_CENTS, "match_percent": 10,
        "opens_at": opens_at, "closes_at": closes_at, "review_deadline": closes_at + timedelta(days=40),
        "eligible_partner_types": list(PARTNER_TYPES), "reviewers_per_application": REVIEWS_PER_APPLICATION,
        "score_spread_threshold": 25, "share_reviewer_comments": True,
    })
    for name, guidance, max_points, weight in RUBRIC:
        programs.add_criterion(actor=officer, program=program, name=name, guidance=guidance, max_points=max_points, weight=weight)
    programs.change_program_status(actor=officer, program=program, status=ProgramStatus.PUBLISHED)
    programs.change_program_status(actor=officer, program=program, status=ProgramStatus.CLOSED)
    criterion_ids = list(db.session.scalars(
        sa.select(Criterion.id).where(Criterion.program_id == program.id).order_by(Criterion.position, Criterion.id)))

    # People. -----------------------------------------------------------------------------------
    password_hash = hash_password(password)
    org_ids = _insert(Organization, [{**o["row"], "created_at": opens_at - timedelta(days=30)} for o in orgs], ids=True)
    user_ids = _insert(User, [{
        **row, "password_hash": password_hash, "active": True, "failed_logins": 0,
        "session_token": new_session_token(), "created_at": opens_at - timedelta(days=30), "last_login_at": None,
    } for row in grantee_rows + reviewer_rows], ids=True)
    grantee_ids, reviewer_ids = user_ids[:len(orgs)], user_ids[len(orgs):]
    _insert(UserRole, [{"user_id": uid, "role": APPLICANT} for uid in grantee_ids]
            + [{"user_id": uid, "role": REVIEWER} for uid in reviewer_ids])
    _insert(Membership, [{"user_id": uid, "organization_id": oid, "created_at": opens_at - timedelta(days=30)}
                         for uid, oid in zip(grantee_ids, org_ids, strict=False)])
    counts.organizations, counts.users, counts.reviewers = len(orgs), len(user_ids), len(reviewer_ids)

    # Applications, partners, budgets. -----------------------------------------------------------
    app_ids = _insert(Application, [{
        **a["row"], "program_id": program.id, "organization_id": org_ids[a["org"]],
        "created_by_id": grantee_ids[a["org"]], "submitted_by_id": grantee_ids[a["org"]],
        "updated_at": decided_at, "status": a["status"], "approved_cents": a["approved"],
    } for a in apps], ids=True)
    partner_rows, line_rows = [], []
    for app_id, a in zip(app_ids, apps, strict=False):
        partner_rows += [{**p, "application_id": app_id} for p in a["partners"]]
        line_rows += [{**line, "application_id": app_id} for line in a["lines"]]
    _insert(Partner, partner_rows)
    _insert(BudgetLine, line_rows)
    counts.applications, counts.partners, counts.budget_lines = len(app_ids), len(partner_rows), len(line_rows)

    # Reviews and scores. ------------------------------------------------------------------------
    assignment_ids = _insert(ReviewAssignment, [{
        **r["row"], "application_id": app_ids[r["app"]], "reviewer_id": reviewer_ids[r["reviewer"]],
        "assigned_by_id": officer.id,
    } for r in reviews], ids=True)
    score_rows = [
        {"assignment_id": assignment_id, "criterion_id": criterion_ids[position], "points": points, "comment": comment}
        for assignment_id, r in zip(assignment_ids, reviews, strict=False)
        for position, (points, comment) in enumerate(zip(r["points"], r["comments"], strict=False))
    ]
    _insert(Score, score_rows)
    counts.reviews, counts.scores = len(assignment_ids), len(score_rows)

    # Decisions. ---------------------------------------------------------------------------------
    _insert(Decision, [{
        "application_id": app_id, "outcome": a["outcome"], "approved_cents": a["approved"], "rationale": a["rationale"],
        "decided_by_id": officer.id, "decided_at": decided_at + timedelta(minutes=index % 600),
    } for index, (app_id, a) in enumerate(zip(app_ids, apps, strict=False))])
    counts.decisions = len(apps)

    # Awards and everything after them. ----------------------------------------------------------
    award_ids = _insert(Award, [{
        **w["row"], "application_id": app_ids[w["app"]], "program_id": program.id, "created_by_id": officer.id,
    } for w in awards], ids=True)
    amendment_rows, payment_rows, report_rows = [], [], []
    for award_id, w in zip(award_ids, awards, strict=False):
        grantee = grantee_ids[apps[w["app"]]["org"]]
        amendment_rows += [{**m, "award_id": award_id, "created_by_id": officer.id} for m in w["amendments"]]
        payment_rows += [{
            **d, "award_id": award_id, "requested_by_id": grantee if d["from_grantee_request"] else finance.id,
            "approved_by_id": finance.id if d["approved_at"] else None,
        } for d in w["payments"]]
        report_rows += [{
            **r, "award_id": award_id, "submitted_by_id": grantee if r["submitted_at"] else None,
            "reviewed_by_id": officer.id if r["reviewed_at"] else None,
        } for r in w["reports"]]
    _insert(Amendment, amendment_rows)
    _insert(Disbursement, payment_rows)
    _insert(ProgressReport, report_rows)
    counts.awards, counts.amendments = len(award_ids), len(amendment_rows)
    counts.disbursements, counts.progress_reports = len(payment_rows), len(report_rows)
    counts.statuses = dict(sorted(Counter(a["status"] for a in apps).items()))

    program.last_application_number = applications
    program.last_award_number = len(awards)
    program.rubric_frozen_at = min(r["row"]["submitted_at"] for r in reviews)
    summary = asdict(counts)
    summary.update(seed=seed, total_budget_cents=budget,
                   awarded_cents=sum(w["row"]["amount_cents"] for w in awards),
                   payment_statuses=dict(sorted(Counter(d["status"] for d in payment_rows).items())),
                   report_statuses=dict(sorted(Counter(r["status"] for r in report_rows).items())))
    record_event(officer, "demo.scale_loaded", program, summary)
    db.session.flush()
    if db.session.get_bind().dialect.name == "postgresql":
        # Fresh statistics for the planner: until autovacuum's next pass, PostgreSQL plans with the
        # sizes of the empty tables (the awards list took 1.5 s instead of 15 ms with a nested loop).
        quote = db.session.get_bind().dialect.identifier_preparer.quote
        tables = (Organization, User, UserRole, Membership, Application, Partner, BudgetLine, ReviewAssignment, Score,
                  Decision, Award, Amendment, Disbursement, ProgressReport)
        db.session.execute(sa.text("ANALYZE " + ", ".join(quote(model.__tablename__) for model in tables)))
    return counts


# Planning (pure Python, from the seed) -----------------------------------------------------------


def _existing_eins() -> set[str]:
    return set(db.session.scalars(sa.select(Organization.ein)))


def _person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def _plan_people(rng: random.Random, count: int) -> list[str]:
    return [_person(rng) for _ in range(count)]


def _plan_organizations(rng: random.Random, count: int, existing_eins: set[str]) -> list[dict]:
    org_types = list(ORGANIZATION_TYPES)
    names: Counter[str] = Counter()
    orgs = []
    for index in range(count):
        county, city, postal = COUNTIES[index % len(COUNTIES)] if index < len(COUNTIES) else rng.choice(COUNTIES)
        org_type = rng.choices(org_types, weights=[5, 3, 6, 3, 5, 1, 2])[0]
        base = ORG_PATTERNS[org_type].format(city=city, county=county, flavor=rng.choice(FLAVORS))
        names[base] += 1
        legal_name = base if names[base] == 1 else f"{base} ({names[base]})"
        ein = None
        while ein is None or ein in existing_eins:
            ein = f"{rng.choice(EIN_PREFIXES)}-{rng.randrange(1_000_000, 10_000_000):07d}"
        existing_eins.add(ein)
        contact = _person(rng)
        email = f"grantee.{index + 1:05d}@scale.example.org"
        uei = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(12)) if rng.random() < 0.7 else None
        orgs.append({"county": county, "city": city, "contact_name": contact, "email": email, "row": {
            "legal_name": legal_name, "ein": ein, "uei": uei, "org_type": org_type, "county": county,
            "address_line1": f"{rng.randint(10, 9999)} {rng.choice(['Main', 'State', 'Oak', 'Washington', 'Lincoln', 'Park'])} St",
            "address_line2": None, "city": city, "state": "IL", "postal_code": postal, "contact_name": contact,
            "contact_email": email, "contact_phone": f"(217) 555-{rng.randint(0, 9999):04d}" if rng.random() < 0.6 else None,
        }})
    return orgs


def _plan_applications(rng: random.Random, count: int, orgs: list[dict], opens_at: datetime, closes_at: datetime) -> list[dict]:
    types = list(PARTNER_TYPES)
    window = int((closes_at - opens_at).total_seconds())
    apps = []
    for index in range(count):
        org_index = index % len(orgs)
        org = orgs[org_index]
        city, county = org["city"], org["county"]
        # Every partner type appears: the first partner cycles through them, 0–2 more are random.
        first = types[index % len(types)]
        partner_types = [first] + rng.sample([t for t in types if t != first], rng.choice([0, 1, 1, 2]))
        partners: list[dict] = []
        for partner_type in partner_types:
            name = rng.choice(PARTNER_PATTERNS[partner_type]).format(city=city, county=county)
            partners.append({"partner_type": partner_type, "name": name, "contact_name": _person(rng),
                             "contact_email": f"partner.{index + 1}.{len(partners) + 1}@scale.example.org",
                             "role": PARTNER_ROLES[partner_type]})
        requested = rng.randrange(FLOOR_CENTS, CEILING_CENTS - 2_000_000, DOLLARS_100)
        personnel = int(requested * rng.uniform(0.5, 0.7)) // DOLLARS_100 * DOLLARS_100
        lines = [{"category": "personnel", "description": "Crisis counselors and peer specialists", "amount_cents": personnel, "position": 0}]
        extras = rng.sample(BUDGET_EXTRAS, rng.randint(1, 3))
        left = requested - personnel
        for position, (category, description) in enumerate(extras, start=1):
            amount = left if position == len(extras) else (left // (len(extras) - position + 1)) // DOLLARS_100 * DOLLARS_100
            lines.append({"category": category, "description": description, "amount_cents": amount, "position": position})
            left -= amount
        submitted_at = opens_at + timedelta(seconds=rng.randrange(window // 4, window - 3600))
        apps.append({
            "org": org_index, "partners": partners, "lines": lines, "requested": requested,
            "row": {
                "reference": f"{CODE}-{FISCAL_YEAR}-{index + 1:04d}",
                "title": rng.choice(TITLES).format(city=city, county=county),
                "summary": "Crisis counselors stationed with community anchors, with a shared call protocol and a direct line.",
                "need": f"Partner sites in {county} County call police for behavioral-health crises several times a week.",
                "approach": "Responders work from partner sites on set days; partner staff are trained to call the team directly.",
                "counties_served": county, "awareness_component": True,
                "awareness_plan": "Posters, transit cards and library displays with the team's number; two community forums.",
                "expected_outcomes": "Fewer police dispatches to partner sites; more referrals to care.",
                "requested_cents": requested,
                "match_cents": requested // 10 + rng.randrange(0, 500_000, DOLLARS_100),
                "created_at": submitted_at - timedelta(days=rng.randint(2, 20)), "submitted_at": submitted_at,
                "screened_at": closes_at + timedelta(days=3), "extension_until": None, "extension_reason": None,
                "ineligible_reason": None, "withdrawn_at": None, "withdrawn_reason": None,
            },
        })
    return apps


def _plan_reviews(rng: random.Random, apps: list[dict], pool_size: int, rubric: list[_RubricLine], closes_at: datetime) -> list[dict]:
    """Three reviewers each, load spread evenly; each reviewer has a bias, so normalization matters."""
    bias = [rng.gauss(0, 0.07) for _ in range(pool_size)]
    stretch = [rng.uniform(0.7, 1.3) for _ in range(pool_size)]
    load = [0] * pool_size
    reviews = []
    assigned_at = closes_at + timedelta(days=5)
    for app_index, a in enumerate(apps):
        quality = rng.uniform(0.3, 0.95)
        a["quality"] = quality
        # The least-loaded reviewers, ties broken at random (as auto-assign spreads the load).
        chosen = sorted(range(pool_size), key=lambda r: (load[r], rng.random()))[:REVIEWS_PER_APPLICATION]
        for reviewer in chosen:
            load[reviewer] += 1
        totals = []
        for reviewer in chosen:
            level = 0.62 + (quality - 0.62) * stretch[reviewer] + bias[reviewer]
            points = [max(0, min(line.max_points, round(line.max_points * (level + rng.gauss(0, 0.08))))) for line in rubric]
            total = review_total({line.id: p for line, p in zip(rubric, points, strict=False)}, rubric)
            totals.append(total)
            if total >= 70:
                recommendation = "fund"
            elif total >= 50:
                recommendation = "fund_with_conditions"
            else:
                recommendation = "do_not_fund"
            if rng.random() < 0.03:  # a few contradict their own score, for the ranking's flag
                recommendation = "fund" if total < 50 else "do_not_fund" if total >= 70 else recommendation
            submitted = assigned_at + timedelta(days=rng.randint(2, 30), minutes=rng.randint(0, 600))
            reviews.append({"app": app_index, "reviewer": reviewer, "points": points,
                            "comments": [rng.choice(SCORE_COMMENTS) for _ in rubric], "row": {
                "assigned_at": assigned_at, "coi_status": ConflictStatus.NONE.value, "coi_reason": None,
                "coi_declared_at": assigned_at + timedelta(days=1), "status": ReviewStatus.SUBMITTED.value,
                "overall_comment": "A credible partnership plan." if total >= 60 else "Promising but thin on detail.",
                "recommendation": recommendation, "total_score": total, "submitted_at": submitted,
            }})
        a["mean"] = sum(totals) / len(totals)
    return reviews


def _plan_decisions(rng: random.Random, apps: list[dict]) -> None:
    """The best ~40% by mean score are approved; the next ~15% waitlisted; the rest declined."""
    ranked = sorted(range(len(apps)), key=lambda i: (-apps[i]["mean"], apps[i]["row"]["reference"]))
    approve = max(1, round(len(apps) * APPROVED_SHARE))
    waitlist = round(len(apps) * WAITLISTED_SHARE)
    for rank, index in enumerate(ranked):
        a = apps[index]
        if rank < approve:
            full = rng.random() < 0.75
            a["approved"] = a["requested"] if full else _hundreds(a["requested"] * rng.uniform(0.85, 0.95))
            a["outcome"], a["status"] = APPROVE, ApplicationStatus.AWARDED.value
            a["rationale"] = "Above the funding line." if full else "Above the funding line; equipment costs reduced."
        elif rank < approve + waitlist:
            a["approved"], a["outcome"], a["status"] = None, WAITLIST, ApplicationStatus.WAITLISTED.value
            a["rationale"] = "Just below the funding line; funded if money is released."
        else:
            a["approved"], a["outcome"], a["status"] = None, DECLINE, ApplicationStatus.DECLINED.value
            a["rationale"] = "Below the funding line."


def _deck(rng: random.Random, weights: dict[str, int]):
    """Statuses in the given proportions, dealt from shuffled decks: every status turns up even in
    a small round, whatever day it is generated on."""
    while True:
        cards = [status for status, count in weights.items() for _ in range(count)]
        rng.shuffle(cards)
        yield from cards


def _plan_awards(seed: int, apps: list[dict], decided_at: datetime, today: date) -> list[dict]:
    """Awards with amendments, payments and reports. Each award draws from its own generator: how
    many payments fall before today varies with the day, and must not move the next award's amounts."""
    last_payment = _deck(_rng(seed, "last payments"), {PAID: 2, APPROVED: 1, REQUESTED: 1})
    overdue_report = _deck(_rng(seed, "overdue reports"), {ACCEPTED: 15, SUBMITTED: 2, REVISION_REQUESTED: 2, DUE: 1})
    awards = []
    created = decided_at + timedelta(days=10)
    start = _add_months(date(created.year, created.month, 1), 1)
    approved = [i for i, a in enumerate(apps) if a["outcome"] == APPROVE]
    for number, app_index in enumerate(approved, start=1):
        rng = _rng(seed, f"award {number}")
        a = apps[app_index]
        amount = original = a["approved"]
        end = _add_months(start, rng.choices([12, 18, 24, 36], weights=[35, 25, 25, 15])[0]) - timedelta(days=1)
        signed = start - timedelta(days=rng.randint(1, 15))
        amendments = []
        if rng.random() < 0.2:
            when = _at(start + timedelta(days=rng.randint(90, 200)))
            if rng.random() < 0.5:
                end = _add_months(end + timedelta(days=1), 6) - timedelta(days=1)
                amendments.append({"amount_delta_cents": 0, "new_end_date": end, "is_closeout": False, "created_at": when,
                                   "reason": "No-cost extension: a partner site opened late."})
            else:
                delta = _hundreds(original * rng.uniform(0.03, 0.08))
                amount += delta
                amendments.append({"amount_delta_cents": delta, "new_end_date": None, "is_closeout": False, "created_at": when,
                                   "reason": "Added a transit partner's second station."})
        closing = end + timedelta(days=60) < today and rng.random() < 0.85
        payments = _plan_payments(rng, amount, start, end, today, closing, last_payment)
        status, closed_at = ACTIVE, None
        if closing:
            status, closed_at = CLOSED, _at(end + timedelta(days=rng.randint(40, 58)))
            paid = sum(d["amount_cents"] for d in payments)
            if paid != amount:
                amendments.append({"amount_delta_cents": paid - amount, "new_end_date": None, "is_closeout": True,
                                   "created_at": closed_at, "reason": f"Closeout: unspent balance of ${(amount - paid) / 100:,.2f} released to the program budget."})
                amount = paid
        for position, amendment in enumerate(amendments, start=1):
            amendment["number"] = position
        awards.append({
            "app": app_index, "amount": amount, "amendments": amendments, "payments": payments,
            "reports": _plan_reports(rng, start, end, today, closing, overdue_report),
            "row": {
                "award_number": f"{CODE}-{FISCAL_YEAR}-A{number:04d}", "amount_cents": amount, "original_cents": original,
                "start_date": start, "end_date": end, "status": status, "agreement_signed_on": signed,
                "conditions": rng.choice(CONDITIONS), "termination_reason": None, "closed_at": closed_at,
                "created_at": created + timedelta(minutes=number % 600),
            },
        })
    return awards


def _plan_payments(rng: random.Random, amount: int, start: date, end: date, today: date, closing: bool, last_status) -> list[dict]:
    """About three payments per award, never more than its amount; a closed award's are all paid."""
    latest = min(end + timedelta(days=30), today - timedelta(days=3))
    due = [start + timedelta(days=45 + 91 * k) for k in range(8)]
    due = [d for d in due if d <= latest][: rng.choice([2, 3, 3, 3, 4])] or [min(start + timedelta(days=20), latest)]
    spend = amount if not closing else _hundreds(amount * rng.uniform(0.88, 1.0))
    spend = min(spend, amount)
    payments: list[dict] = []
    total = 0
    for k, requested_on in enumerate(due):
        last = k == len(due) - 1
        share = (spend - total) if (closing and last) else _hundreds(amount * rng.uniform(0.2, 0.32))
        share = min(share, amount - total)
        if share <= 0:
            break
        if closing or not last:
            status = PAID
        else:
            status = next(last_status)
        payments.append(_payment(rng, share, requested_on, status, today, len(payments) + 1))
        total += share
    if rng.random() < 0.04 and not closing:  # a voided request, which counts nowhere
        payments.append(_payment(rng, _hundreds(amount * 0.1), due[0] + timedelta(days=5), VOID, today, len(payments) + 1))
    return payments


def _payment(rng: random.Random, amount: int, requested_on: date, status: str, today: date, sequence: int) -> dict:
    grantee = rng.random() < 0.7
    approved_at = _at(min(requested_on + timedelta(days=3), today)) if status in (APPROVED, PAID) else None
    paid_on = min(requested_on + timedelta(days=rng.randint(7, 20)), today) if status == PAID else None
    return {
        "amount_cents": amount, "status": status, "requested_on": requested_on,
        "period_start": requested_on - timedelta(days=90), "period_end": requested_on - timedelta(days=1),
        "description": f"Quarterly reimbursement {sequence}: personnel and partner costs",
        "from_grantee_request": grantee, "approved_at": approved_at, "finance_comment": "",
        "paid_on": paid_on, "payment_reference": f"EFT-{paid_on:%Y%m%d}-{rng.randint(10000, 99999)}" if paid_on else None,
        "void_reason": "Duplicate request." if status == VOID else None,
        "voided_at": _at(requested_on + timedelta(days=2)) if status == VOID else None,
        "created_at": _at(requested_on, 14),
    }


def _plan_reports(rng: random.Random, start: date, end: date, today: date, closing: bool, past_due_status) -> list[dict]:
    """The quarterly schedule of ``report_periods``, with statuses that fit today's date."""
    periods = report_periods(start, end)
    reports = []
    for sequence, (period_start, period_end) in enumerate(periods, start=1):
        due_on = period_end + timedelta(days=REPORT_GRACE_DAYS)
        if closing:
            status = ACCEPTED
        elif period_end >= today:
            status = DUE
        elif due_on >= today:
            status = rng.choice([DUE, SUBMITTED])
        else:
            status = next(past_due_status)
        filed = status in (SUBMITTED, ACCEPTED, REVISION_REQUESTED)
        submitted_at = _at(min(period_end + timedelta(days=rng.randint(5, 28)), today - timedelta(days=1))) if filed else None
        reviewed_at = _at(min(submitted_at.date() + timedelta(days=rng.randint(2, 14)), today)) if submitted_at and status in (ACCEPTED, REVISION_REQUESTED) else None
        metrics = {key: (rng.randint(*bounds) if filed else None) for key, bounds in (
            ("people_served", (20, 400)), ("calls_answered", (40, 900)), ("referrals", (5, 150)),
            ("awareness_events", (0, 12)), ("partner_meetings", (1, 10)))}
        reports.append({
            "sequence": sequence, "period_start": period_start, "period_end": period_end, "due_on": due_on,
            "is_final": sequence == len(periods), "status": status, **metrics,
            "narrative": "Responders worked from partner sites on schedule; partner staff called the team directly." if filed else "",
            "submitted_at": submitted_at, "reviewed_at": reviewed_at,
            "review_comment": "Add the referral numbers by partner site." if status == REVISION_REQUESTED else "",
        })
    return reports
