"""Every endpoint against every kind of user: the status each gets, and nothing shown that the user must not see.

``MATRIX`` is the access policy in one table: for each endpoint of ``app.url_map`` and each method
its rule allows, the status every kind of user gets, in the column order of ``USER_KINDS``:

    anon  nobody signed in (302 = sent to the sign-in page)
    own   applicant, member of the organization that owns the applications
    oth   applicant of another organization
    pend  reviewer assigned to the submitted application, conflict not yet declared
    clr   reviewer assigned to it who declared no conflict
    unas  reviewer without an assignment on it
    conf  reviewer assigned to it who declared a conflict (recused)
    fin   finance;  po  program officer;  adm  administrator

Every response body (and redirect target) is searched for the strings ``never_shown`` lists for
that kind of user: another organization's names and titles, the owning organization's drafts and
award figures for reviewers, other reviewers' names and comments, password hashes.

The objects behind the URLs are in ``tests/security/world.py``; which object fills which URL, and
what each POST sends, is in ``tests/security/matrix_requests.py``. POSTs by allowed users are
refused by validation or are no-ops, so no row changes what a later row sees. A new endpoint
fails ``test_every_endpoint_is_in_the_matrix`` until it has a row here.
"""

from __future__ import annotations

import pytest

from tests.security.matrix_requests import payload_for, url_for_rule
from tests.security.world import CONFLICTED_OFFICER, IDENTITY, USER_KINDS, build_world, never_shown

GET, POST = "GET", "POST"

MATRIX = {
    # accounts ------------------------------------  anon   own   oth  pend   clr  unas  conf   fin    po   adm
    ("accounts.accept_invitation", GET):            ( 302,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("accounts.accept_invitation", POST):           ( 302,  302,  302,  302,  302,  302,  302,  302,  302,  302),
    ("accounts.admin_edit_user", GET):              ( 302,  403,  403,  403,  403,  403,  403,  403,  403,  200),
    ("accounts.admin_edit_user", POST):             ( 302,  403,  403,  403,  403,  403,  403,  403,  403,  200),
    ("accounts.admin_new_user", GET):               ( 302,  403,  403,  403,  403,  403,  403,  403,  403,  200),
    ("accounts.admin_new_user", POST):              ( 302,  403,  403,  403,  403,  403,  403,  403,  403,  200),
    ("accounts.admin_users", GET):                  ( 302,  403,  403,  403,  403,  403,  403,  403,  403,  200),
    ("accounts.change_password", GET):              ( 302,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("accounts.change_password", POST):             ( 302,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("accounts.edit_organization", GET):            ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("accounts.edit_organization", POST):           ( 302,  302,  404,  404,  404,  404,  404,  403,  403,  403),
    ("accounts.forgot_password", GET):              ( 200,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("accounts.forgot_password", POST):             ( 200,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("accounts.invite_member", POST):               ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("accounts.login", GET):                        ( 200,  302,  302,  302,  302,  302,  302,  302,  302,  302),
    ("accounts.login", POST):                       ( 200,  302,  302,  302,  302,  302,  302,  302,  302,  302),
    ("accounts.logout", POST):                      ( 302,  302,  302,  302,  302,  302,  302,  302,  302,  302),
    ("accounts.new_organization", GET):             ( 302,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("accounts.new_organization", POST):            ( 302,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("accounts.organization", GET):                 ( 302,  200,  404,  404,  404,  404,  404,  200,  200,  200),
    ("accounts.organizations", GET):                ( 302,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("accounts.register", GET):                     ( 200,  302,  302,  302,  302,  302,  302,  302,  302,  302),
    ("accounts.register", POST):                    ( 200,  302,  302,  302,  302,  302,  302,  302,  302,  302),
    ("accounts.reset_password", GET):               ( 200,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("accounts.reset_password", POST):              ( 200,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    # applications --------------------------------  anon   own   oth  pend   clr  unas  conf   fin    po   adm
    ("applications.attachments", GET):              ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.attachments", POST):             ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.budget", GET):                   ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.budget", POST):                  ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.confirmation", GET):             ( 302,  200,  404,  404,  200,  404,  404,  200,  200,  200),
    ("applications.download_attachment", GET):      ( 302,  200,  404,  404,  200,  404,  404,  200,  200,  200),
    ("applications.edit_partner", GET):             ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.edit_partner", POST):            ( 302,  302,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.extension", GET):                ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("applications.extension", POST):               ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("applications.partners", GET):                 ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.partners", POST):                ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.project", GET):                  ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.project", POST):                 ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.remove_attachment", POST):       ( 302,  302,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.remove_partner", POST):          ( 302,  302,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.review_submit", GET):            ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.review_submit", POST):           ( 302,  200,  404,  404,  404,  404,  404,  403,  403,  403),
    ("applications.screen", POST):                  ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("applications.start", GET):                    ( 302,  200,  200,  403,  403,  403,  403,  403,  403,  403),
    ("applications.start", POST):                   ( 302,  200,  200,  403,  403,  403,  403,  403,  403,  403),
    ("applications.view", GET):                     ( 302,  200,  404,  404,  200,  404,  404,  200,  200,  200),
    ("applications.withdraw", GET):                 ( 302,  200,  404,  404,  403,  404,  404,  403,  403,  403),
    ("applications.withdraw", POST):                ( 302,  200,  404,  404,  403,  404,  404,  403,  403,  403),
    # audit ---------------------------------------  anon   own   oth  pend   clr  unas  conf   fin    po   adm
    ("audit.log", GET):                             ( 302,  403,  403,  403,  403,  403,  403,  403,  403,  200),
    # awards --------------------------------------  anon   own   oth  pend   clr  unas  conf   fin    po   adm
    ("awards.activate", POST):                      ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("awards.amend", GET):                          ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("awards.amend", POST):                         ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("awards.approve_payment", POST):               ( 302,  403,  403,  403,  403,  403,  403,  302,  403,  403),
    ("awards.award_detail", GET):                   ( 302,  200,  404,  404,  404,  404,  404,  200,  200,  200),
    ("awards.award_list", GET):                     ( 302,  403,  403,  403,  403,  403,  403,  200,  200,  200),
    ("awards.close_out", POST):                     ( 302,  403,  403,  403,  403,  403,  403,  403,  302,  403),
    ("awards.create_award", GET):                   ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("awards.create_award", POST):                  ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("awards.finance_summary", GET):                ( 302,  403,  403,  403,  403,  403,  403,  200,  200,  200),
    ("awards.mark_paid", POST):                     ( 302,  403,  403,  403,  403,  403,  403,  302,  403,  403),
    ("awards.overdue_reports", GET):                ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    ("awards.payment_queue", GET):                  ( 302,  403,  403,  403,  403,  403,  403,  200,  403,  200),
    ("awards.record_payment", GET):                 ( 302,  403,  403,  403,  403,  403,  403,  200,  403,  403),
    ("awards.record_payment", POST):                ( 302,  403,  403,  403,  403,  403,  403,  200,  403,  403),
    ("awards.reject_payment", POST):                ( 302,  403,  403,  403,  403,  403,  403,  302,  403,  403),
    ("awards.report", GET):                         ( 302,  200,  404,  404,  404,  404,  404,  404,  200,  404),
    ("awards.report", POST):                        ( 302,  200,  404,  404,  404,  404,  404,  404,  403,  404),
    ("awards.request_payment", GET):                ( 302,  200,  404,  403,  403,  403,  403,  403,  403,  403),
    ("awards.request_payment", POST):               ( 302,  200,  404,  403,  403,  403,  403,  403,  403,  403),
    ("awards.review_report", POST):                 ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("awards.terminate", POST):                     ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("awards.void_payment", POST):                  ( 302,  403,  403,  403,  403,  403,  403,  302,  403,  403),
    # dashboard -----------------------------------  anon   own   oth  pend   clr  unas  conf   fin    po   adm
    ("dashboard.finance_home", GET):                ( 302,  403,  403,  403,  403,  403,  403,  200,  403,  200),
    ("dashboard.healthz", GET):                     ( 200,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("dashboard.home", GET):                        ( 302,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("dashboard.index", GET):                       ( 200,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("dashboard.program_dashboard", GET):           ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    ("dashboard.programs_dashboard", GET):          ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    # exports -------------------------------------  anon   own   oth  pend   clr  unas  conf   fin    po   adm
    ("exports.applications_scores", GET):           ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    ("exports.award_ledger", GET):                  ( 302,  403,  403,  403,  403,  403,  403,  200,  200,  200),
    ("exports.giving360", GET):                     ( 302,  403,  403,  403,  403,  403,  403,  200,  200,  200),
    ("exports.index", GET):                         ( 302,  403,  403,  403,  403,  403,  403,  200,  200,  200),
    # notifications -------------------------------  anon   own   oth  pend   clr  unas  conf   fin    po   adm
    ("notifications.outbox", GET):                  ( 302,  403,  403,  403,  403,  403,  403,  403,  403,  200),
    ("notifications.send_now", POST):               ( 302,  403,  403,  403,  403,  403,  403,  403,  403,  302),
    # programs ------------------------------------  anon   own   oth  pend   clr  unas  conf   fin    po   adm
    ("programs.change_status", POST):               ( 302,  403,  403,  403,  403,  403,  403,  403,  302,  403),
    ("programs.edit_criterion", GET):               ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("programs.edit_criterion", POST):              ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("programs.edit_program", GET):                 ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("programs.edit_program", POST):                ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("programs.move_criterion", POST):              ( 302,  403,  403,  403,  403,  403,  403,  403,  302,  403),
    ("programs.new_program", GET):                  ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("programs.new_program", POST):                 ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("programs.opportunities", GET):                ( 200,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("programs.opportunity", GET):                  ( 200,  200,  200,  200,  200,  200,  200,  200,  200,  200),
    ("applications.program_applications", GET):         ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    ("programs.program_detail", GET):               ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    ("programs.program_list", GET):                 ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    ("programs.remove_criterion", POST):            ( 302,  403,  403,  403,  403,  403,  403,  403,  302,  403),
    ("programs.rubric", GET):                       ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    ("programs.rubric", POST):                      ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    # reviews -------------------------------------  anon   own   oth  pend   clr  unas  conf   fin    po   adm
    ("reviews.affiliations", GET):                  ( 302,  403,  403,  200,  200,  200,  200,  403,  403,  403),
    ("reviews.affiliations", POST):                 ( 302,  403,  403,  200,  200,  200,  200,  403,  403,  403),
    ("reviews.approve_above_line", POST):           ( 302,  403,  403,  403,  403,  403,  403,  403,  302,  403),
    ("reviews.assign", POST):                       ( 302,  403,  403,  403,  403,  403,  403,  403,  302,  403),
    ("reviews.assignment", GET):                    ( 302,  403,  403,  200,  200,  404,  200,  403,  403,  403),
    ("reviews.assignment", POST):                   ( 302,  403,  403,  200,  200,  404,  200,  403,  403,  403),
    ("reviews.auto_assign", POST):                  ( 302,  403,  403,  403,  403,  403,  403,  403,  302,  403),
    ("reviews.decide", POST):                       ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("reviews.declare", POST):                      ( 302,  403,  403,  200,  302,  404,  302,  403,  403,  403),
    ("reviews.funding_line", GET):                  ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    ("reviews.manage", GET):                        ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    ("reviews.my_assignments", GET):                ( 302,  403,  403,  200,  200,  200,  200,  403,  403,  403),
    ("reviews.ranking", GET):                       ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  200),
    ("reviews.reopen", GET):                        ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("reviews.reopen", POST):                       ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("reviews.replace", GET):                       ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("reviews.replace", POST):                      ( 302,  403,  403,  403,  403,  403,  403,  403,  200,  403),
    ("reviews.summary", GET):                       ( 302,  404,  404,  404,  404,  404,  404,  404,  200,  200),
    ("reviews.unassign", POST):                     ( 302,  403,  403,  403,  403,  403,  403,  403,  302,  403),
}

# Where the application today differs from the table, and why that is a defect; the test checks
# the cell still behaves as recorded here, so a fix fails it until the entry is removed.
#   (endpoint, method, kind): (status today, leaks today, explanation)
_ORG_PAGE = ("/organizations/<id> lets every staff role in (User.is_staff includes reviewers), so any reviewer "
             "reads any organization's legal name, EIN, address and members")
_DECLARE = ("POST /reviews/<id>/declare after the declaration re-renders the declaration form, with the "
            "applicant's and partners' names, instead of sending the reviewer back to the assignment")
KNOWN_DEFECTS: dict = {}  # (endpoint, method, kind) -> (status today, leaks today, why); none open

# By design a reviewer must see whom an application is from, and its partners, to declare a
# conflict: the declaration page shows those names (never the content) before the declaration.
SHOWS_IDENTITY_TO_DECLARE = {
    ("reviews.assignment", GET, "pending"),
    ("reviews.assignment", POST, "pending"),
    ("reviews.declare", POST, "pending"),
}


# A program officer who also reviews and declared a conflict on the submitted application (issue 14)
# gets the officer's column everywhere, the conflicted reviewer's on a reviewer's own pages, and 404
# from every page and POST whose URL names that application, one of its files or one of its reviews.
CONFLICT_OUTWEIGHS_OFFICER = {
    ("applications.view", GET), ("applications.confirmation", GET), ("applications.download_attachment", GET),
    ("applications.withdraw", GET), ("applications.withdraw", POST), ("applications.screen", POST),
    ("reviews.summary", GET), ("reviews.decide", POST), ("reviews.replace", GET), ("reviews.replace", POST),
    ("awards.create_award", GET), ("awards.create_award", POST),
}
REVIEWERS_OWN_PAGES = {"reviews.assignment", "reviews.declare", "reviews.affiliations", "reviews.my_assignments"}
# Its own assignments list and recused assignment name the application it declared on (never its content).
SHOWS_REFERENCE_TO_RECUSED = {("reviews.my_assignments", GET), ("reviews.assignment", GET), ("reviews.assignment", POST),
                              ("reviews.declare", POST)}


def _conflicted_officer_expects(key) -> int:
    if key in CONFLICT_OUTWEIGHS_OFFICER:
        return 404
    column = "conflicted" if key[0] in REVIEWERS_OWN_PAGES else "officer"
    return MATRIX[key][USER_KINDS.index(column)]


def _rules(app):
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def _methods(rule) -> list[str]:
    return [method for method in (GET, POST) if method in rule.methods]


def test_every_endpoint_is_in_the_matrix(app):
    served = {(rule.endpoint, method) for rule in _rules(app) for method in _methods(rule)}
    missing = sorted(served - set(MATRIX))
    stale = sorted(set(MATRIX) - served)
    assert not missing, f"add these endpoints to MATRIX in {__name__}: {missing}"
    assert not stale, f"MATRIX names endpoints or methods the app no longer serves: {stale}"
    for key, row in MATRIX.items():
        assert len(row) == len(USER_KINDS), key
    for key in KNOWN_DEFECTS:
        assert key[:2] in MATRIX and key[2] in USER_KINDS, key


def _leaks(body: bytes, markers: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    return [text for text in markers if text not in allowed and text.encode() in body]


@pytest.mark.parametrize("kind", USER_KINDS)
def test_each_user_gets_what_the_matrix_says_and_sees_nothing_kept_from_them(app, make_client, kind):
    world = build_world()
    browser = make_client(world.users[kind])
    markers = never_shown(world)[kind]
    problems = []
    # Signing out ends every session of the user, so it is requested last.
    for rule in sorted(_rules(app), key=lambda r: (r.endpoint == "accounts.logout", r.endpoint)):
        for method in _methods(rule):
            key = (rule.endpoint, method)
            if key not in MATRIX:
                continue  # reported by test_every_endpoint_is_in_the_matrix
            url = url_for_rule(rule, world, kind)
            client = browser
            if method == GET:
                response = client.get(url)
            else:
                response = client.post_form(url, payload_for(rule.endpoint, world))
            body = response.get_data() + response.headers.get("Location", "").encode()

            expected = MATRIX[key][USER_KINDS.index(kind)]
            defect = KNOWN_DEFECTS.get((*key, kind))
            allowed = IDENTITY if (*key, kind) in SHOWS_IDENTITY_TO_DECLARE else ()
            leaks = _leaks(body, markers, allowed)
            where = f"{method} {url} ({rule.endpoint}) as {kind}"
            if defect is not None:
                status_today, leaks_today, why = defect
                if response.status_code != status_today or bool(leaks) != leaks_today:
                    problems.append(f"{where}: known defect changed (now {response.status_code}, leaks {leaks}); if it is "
                                    f"fixed, remove it from KNOWN_DEFECTS (table says {expected}): {why}")
                continue
            if response.status_code != expected:
                problems.append(f"{where}: expected {expected}, got {response.status_code}")
            if leaks:
                problems.append(f"{where}: the page shows {leaks}")
            if kind == "anonymous" and response.status_code == 302 and getattr(app.view_functions[rule.endpoint], "access_rule", "") != "public":
                if "/login" not in response.headers["Location"]:
                    problems.append(f"{where}: sent to {response.headers['Location']}, not to sign in")
    assert not problems, "\n".join(problems)


def test_a_declared_conflict_outweighs_the_officers_role_on_every_endpoint(app, make_client):
    world = build_world()
    browser = make_client(world.users[CONFLICTED_OFFICER])
    markers = never_shown(world)[CONFLICTED_OFFICER]
    problems = []
    for rule in sorted(_rules(app), key=lambda r: (r.endpoint == "accounts.logout", r.endpoint)):
        for method in _methods(rule):
            key = (rule.endpoint, method)
            if key not in MATRIX:
                continue
            url = url_for_rule(rule, world, CONFLICTED_OFFICER)
            if method == GET:
                response = browser.get(url)
            else:
                response = browser.post_form(url, payload_for(rule.endpoint, world))
            body = response.get_data() + response.headers.get("Location", "").encode()
            allowed = (world.submitted.reference,) if key in SHOWS_REFERENCE_TO_RECUSED else ()
            leaks = _leaks(body, markers, allowed)
            expected = _conflicted_officer_expects(key)
            if response.status_code != expected:
                problems.append(f"{method} {url} ({rule.endpoint}): expected {expected}, got {response.status_code}")
            if leaks:
                problems.append(f"{method} {url} ({rule.endpoint}): the page shows {leaks}")
    assert not problems, "\n".join(problems)
