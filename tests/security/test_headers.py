"""Security headers on every kind of response, and the session cookie's flags.

``create_app`` sets them through Flask-Talisman: a Content-Security-Policy without inline script,
no framing (X-Frame-Options and frame-ancestors), no MIME sniffing, a strict Referrer-Policy. They
must be on error pages and file downloads too, where a missing header hurts most: an uploaded
file sniffed as HTML, or an error page framed by another site.
"""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest

from grants import create_app
from grants.applications import services as applications
from grants.extensions import db, talisman
from tests import factories

CSP_DIRECTIVES = {
    "default-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def _csp(response) -> dict[str, str]:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = (part.strip().split(None, 1) for part in policy.split(";") if part.strip())
    return {name: (value[0] if value else "") for name, *value in directives}


def _header_problems(response) -> list[str]:
    problems = []
    csp = _csp(response)
    for name, value in CSP_DIRECTIVES.items():
        if csp.get(name) != value:
            problems.append(f"Content-Security-Policy {name} is {csp.get(name)!r}, not {value!r}")
    if "unsafe-inline" in str(csp) or "unsafe-eval" in str(csp):
        problems.append(f"Content-Security-Policy allows inline or eval'd script: {csp}")
    expected = {
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
    }
    for name, value in expected.items():
        if response.headers.get(name) != value:
            problems.append(f"{name} is {response.headers.get(name)!r}, not {value!r}")
    return problems


def test_every_kind_of_response_carries_the_security_headers(app, make_client):
    owner = factories.make_user(email="owner@example.org")
    organization = factories.make_organization(members=[owner])
    officer = factories.make_user(email="po@state.gov", roles={"program_officer"})
    finance = factories.make_user(email="fin@state.gov", roles={"finance"})
    program = factories.make_program(officer=officer)
    application = factories.make_application(program=program, organization=organization, actor=owner)
    attachment = applications.add_attachment(actor=owner, application=application, kind="other",
                                             file=factories.pdf_upload("plan.pdf"))
    db.session.commit()
    anonymous, grantee, accountant = make_client(None), make_client(owner), make_client(finance)

    responses = {  # what it is: (response, the status that shows it is that)
        "public page": (anonymous.get("/"), 200),
        "sign-in form": (anonymous.get("/login"), 200),
        "redirect to sign in": (anonymous.get("/home"), 302),
        "signed-in page": (grantee.get("/home"), 200),
        "application form": (grantee.get(f"/applications/{application.id}/project"), 200),
        "page not found": (grantee.get("/no-such-page"), 404),
        "no access": (grantee.get("/admin/users"), 403),
        "expired form": (anonymous.post("/login", data={"email": owner.email, "password": "x"}), 400),  # no CSRF token
        "wrong method": (anonymous.get("/logout"), 405),
        "file download": (grantee.get(f"/attachments/{attachment.id}"), 200),
        "spreadsheet export": (accountant.get("/exports/award-ledger.xlsx"), 200),
        "health check": (anonymous.get("/healthz"), 200),
        "static file": (anonymous.get("/static/css/app.css"), 200),
    }
    problems = []
    for what, (response, status) in responses.items():
        assert response.status_code == status, f"{what}: {response.status_code}, not {status}"
        problems += [f"{what}: {problem}" for problem in _header_problems(response)]
    assert problems == []
    # A download is saved, never shown in the browser, so an uploaded file cannot run as a page.
    for what in ("file download", "spreadsheet export"):
        assert responses[what][0].headers["Content-Disposition"].startswith("attachment"), what


def _session_cookie(response):
    jar = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        jar.load(header)
    assert "session" in jar, f"no session cookie set: {response.headers.getlist('Set-Cookie')}"
    return jar["session"]


def test_the_session_cookie_is_http_only_and_same_site_lax(app, make_client):
    user = factories.make_user(email="cookie@example.org")
    db.session.commit()
    response = make_client(None).post_form("/login", {"email": user.email, "password": factories.PASSWORD})
    assert response.status_code == 302
    cookie = _session_cookie(response)
    assert cookie["httponly"], "scripts on the page can read the session cookie"
    assert cookie["samesite"] == "Lax", cookie["samesite"]


@pytest.fixture
def production_app(tmp_path):
    # Flask-Talisman keeps its settings (and the app) on the one shared extension object, so
    # creating a second app would leave production settings behind for the apps of other tests.
    saved = dict(vars(talisman))
    production = create_app("production", SECRET_KEY="production-test-" + "x" * 32,
                            SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'production.db'}",
                            UPLOAD_FOLDER=str(tmp_path / "uploads"), FORCE_HTTPS=False,
                            PUBLIC_BASE_URL="https://grants.example.gov")
    yield production
    with production.app_context():
        db.engine.dispose()
    vars(talisman).clear()
    vars(talisman).update(saved)


def test_in_production_the_session_cookie_is_also_secure(production_app):
    response = production_app.test_client().get("/login", base_url="https://grants.example.gov")
    assert response.status_code == 200
    cookie = _session_cookie(response)  # the sign-in form's CSRF token starts the session
    assert cookie["secure"], "the session cookie would also travel over plain HTTP"
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert _header_problems(response) == []
    assert "max-age=" in response.headers.get("Strict-Transport-Security", ""), "no HSTS over HTTPS"
