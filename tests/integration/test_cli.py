"""The shell commands operators rely on."""

import sqlalchemy as sa

from grants.accounts.models import User
from grants.extensions import db
from tests.conftest import login


def test_create_user_reads_the_password_from_standard_input(app, make_client):
    result = app.test_cli_runner().invoke(
        args=["grants", "create-user", "Chief@State.gov", "--role", "admin", "--role", "finance", "--name", "Chief"],
        input="a very long password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.email == "chief@state.gov"))
    assert user.roles == {"admin", "finance"}
    login(make_client(), "chief@state.gov", "a very long password")


def test_create_user_refuses_a_short_password_and_a_duplicate(app):
    runner = app.test_cli_runner()
    short = runner.invoke(args=["grants", "create-user", "x@state.gov", "--role", "admin"], input="short\n")
    assert short.exit_code != 0 and "12 characters" in short.output
    runner.invoke(args=["grants", "create-user", "x@state.gov", "--role", "admin"], input="a very long password\n")
    again = runner.invoke(args=["grants", "create-user", "X@state.gov", "--role", "admin"], input="a very long password\n")
    assert again.exit_code != 0 and "already exists" in again.output


def test_demo_data_gives_each_role_a_working_login_and_home_page(app, make_client):
    from grants import demo

    result = app.test_cli_runner().invoke(args=["grants", "demo-data", "--seed", "7"])
    assert result.exit_code == 0, result.output
    for role in ("applicant", "reviewer", "program_officer", "finance", "admin"):
        assert role in result.output
    for email in ("applicant@example.org", "reviewer@example.gov", "officer@example.gov", "finance@example.gov", "admin@example.gov"):
        browser = make_client()
        login(browser, email, demo.DEMO_PASSWORD)
        assert browser.get("/home").status_code == 200
    again = app.test_cli_runner().invoke(args=["grants", "demo-data", "--if-empty"])
    assert again.exit_code == 0 and "not loaded" in again.output
