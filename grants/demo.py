"""Deterministic demo data. The password below is for demo accounts only, never for real ones."""

from __future__ import annotations

import random

import sqlalchemy as sa

from grants.accounts.models import ADMIN, APPLICANT, FINANCE, PROGRAM_OFFICER, REVIEWER, User
from grants.accounts.services import create_organization, create_staff_user
from grants.extensions import db

DEMO_PASSWORD = "demo-password-2026"

USERS = [
    # (email, name, roles)
    ("applicant@example.org", "Alex Rivera", {APPLICANT}),
    ("applicant2@example.org", "Jordan Lee", {APPLICANT}),
    ("reviewer@example.gov", "Riley Chen", {REVIEWER}),
    ("reviewer2@example.gov", "Sam Okafor", {REVIEWER}),
    ("reviewer3@example.gov", "Taylor Brooks", {REVIEWER}),
    ("officer@example.gov", "Morgan Patel", {PROGRAM_OFFICER}),
    ("finance@example.gov", "Casey Nguyen", {FINANCE}),
    ("admin@example.gov", "Drew Alvarez", {ADMIN}),
]

ORGANIZATIONS = [
    {
        "legal_name": "City of Riverside Community Response",
        "ein": "36-1234567", "uei": "RVSD12345678", "org_type": "city", "county": "Cook",
        "address_line1": "121 N LaSalle St", "address_line2": None, "city": "Riverside", "state": "IL",
        "postal_code": "60546", "contact_phone": "(312) 555-0100",
    },
    {
        "legal_name": "Prairie Valley Behavioral Health",
        "ein": "37-7654321", "uei": None, "org_type": "behavioral_health", "county": "Champaign",
        "address_line1": "400 Green St", "address_line2": "Suite 2", "city": "Urbana", "state": "IL",
        "postal_code": "61801", "contact_phone": None,
    },
]


def database_has_users() -> bool:
    return db.session.scalar(sa.select(sa.func.count()).select_from(User)) > 0


def load(*, seed: int) -> list[tuple[str, str]]:
    """Create the demo records and return one (role, e-mail) login per role."""
    rng = random.Random(seed)
    users = {}
    for email, name, roles in USERS:
        users[email] = create_staff_user(actor=None, email=email, name=name, roles=roles, password=DEMO_PASSWORD)
    for fields, email in zip(ORGANIZATIONS, ["applicant@example.org", "applicant2@example.org"]):
        owner = users[email]
        create_organization(actor=owner, fields={**fields, "contact_name": owner.name, "contact_email": owner.email})
    return [
        ("applicant", "applicant@example.org"),
        ("reviewer", "reviewer@example.gov"),
        ("program_officer", "officer@example.gov"),
        ("finance", "finance@example.gov"),
        ("admin", "admin@example.gov"),
    ]
