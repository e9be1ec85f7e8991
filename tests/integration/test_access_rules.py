"""Every endpoint declares who may use it; anonymous visitors are sent to sign in."""

import re

PUBLIC_ENDPOINTS_EXPECTED = {"static"}  # Flask's own static files, served to anyone


def test_every_endpoint_declares_an_access_rule(app):
    missing = [
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in PUBLIC_ENDPOINTS_EXPECTED
        and not getattr(app.view_functions[rule.endpoint], "access_rule", None)
    ]
    assert missing == [], f"endpoints without an access rule: {missing}"


def _fill(rule) -> str:
    # Real-looking values for every URL parameter.
    return re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "1" if (m.group(1) or "") == "int" else "x", rule.rule)


def test_anonymous_requests_to_private_pages_redirect_to_sign_in(app, client):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if rule.endpoint == "static" or view.access_rule == "public":
            continue
        url = _fill(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post_form(url, {})
            assert response.status_code == 302, (rule.endpoint, method, response.status_code)
            assert "/login" in response.headers["Location"], rule.endpoint


def test_staff_only_pages_refuse_applicants(app, make_client, applicant):
    browser = make_client(applicant)
    for url in ("/admin/users", "/admin/users/new", "/admin/audit/", "/admin/outbox/"):
        assert browser.get(url).status_code == 403, url
