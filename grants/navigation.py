"""The header navigation: what each role sees, in order. Endpoints not yet registered are skipped."""

from flask import current_app, request, url_for

from grants.accounts.models import ADMIN, APPLICANT, FINANCE, PROGRAM_OFFICER, REVIEWER

# (label, endpoint, roles that see it; None = every signed-in user)
NAV_ITEMS = [
    ("Home", "dashboard.home", None),
    ("Funding opportunities", "programs.opportunities", {APPLICANT}),
    ("My organizations", "accounts.organizations", {APPLICANT}),
    ("My reviews", "reviews.my_assignments", {REVIEWER}),
    ("Programs", "programs.program_list", {PROGRAM_OFFICER, ADMIN}),
    ("Dashboard", "dashboard.programs_dashboard", {PROGRAM_OFFICER, ADMIN}),
    ("Awards", "awards.award_list", {PROGRAM_OFFICER, FINANCE, ADMIN}),
    ("Payments", "awards.payment_queue", {FINANCE}),
    ("Exports", "exports.index", {FINANCE, PROGRAM_OFFICER, ADMIN}),
    ("Users", "accounts.admin_users", {ADMIN}),
    ("Audit log", "audit.log", {ADMIN}),
    ("Outbox", "notifications.outbox", {ADMIN}),
]


def nav_items(user) -> list[dict]:
    if not user.is_authenticated:
        return []
    items = []
    for label, endpoint, roles in NAV_ITEMS:
        if endpoint not in current_app.view_functions:
            continue
        if roles is not None and not user.has_role(*roles):
            continue
        items.append({
            "label": label,
            "url": url_for(endpoint),
            "current": request.endpoint == endpoint,
        })
    return items
