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
