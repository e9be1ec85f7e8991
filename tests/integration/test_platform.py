import pytest
import sqlalchemy as sa

from grants import create_app
from grants.extensions import db


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_is_down(tmp_path):
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="postgresql+psycopg://nobody:x@127.0.0.1:1/none", UPLOAD_FOLDER=str(tmp_path))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] != "ok"


def test_pages_carry_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"]
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_refuses_to_start_without_a_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    import config

    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(SystemExit, match="SECRET_KEY"):
        create_app("production")


def test_post_without_csrf_token_is_refused(client, applicant):
    response = client.post("/login", data={"email": applicant.email, "password": "correct horse battery staple"})
    assert response.status_code == 400
    assert b"security token" in response.data


def test_unknown_page_gets_the_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert b"Page not found" in response.data
    assert b"usa-header" in response.data  # the site layout, not a bare error


def test_sqlite_runs_with_foreign_keys_and_wal(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_home_page_requires_sign_in_and_shows_the_agency(app, client):
    response = client.get("/")
    assert response.status_code == 200
    assert app.config["AGENCY_NAME"].encode() in response.data
    assert client.get("/home").status_code == 302


def test_times_come_back_as_utc_instants(app, applicant):
    db.session.expire_all()
    reloaded = db.session.scalar(sa.select(type(applicant)).where(type(applicant).id == applicant.id))
    assert reloaded.created_at.tzinfo is not None
    assert reloaded.created_at.utcoffset().total_seconds() == 0


def test_nul_characters_are_refused_before_any_query(client, applicant):
    from tests.conftest import login

    login(client, applicant.email)
    assert client.get("/admin/audit/?actor=a%00b").status_code in (400, 403)
    response = client.post_form("/organizations/new", {"legal_name": "Bad\x00Name"})
    assert response.status_code == 400


def test_huge_ids_and_page_numbers_are_not_errors(client, applicant, admin):
    from tests.conftest import login

    login(client, admin.email)
    assert client.get("/organizations/99999999999999999999").status_code == 404
    assert client.get("/admin/users?page=99999999999999999999").status_code == 200
    assert client.get("/admin/audit/?page=-5").status_code == 200
