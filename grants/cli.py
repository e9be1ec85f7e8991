"""`flask --app wsgi grants …`: the commands operators and scheduled jobs use. Each commits explicitly."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from grants.accounts.models import ALL_ROLES
from grants.errors import DomainError
from grants.extensions import db

grants_cli = AppGroup("grants", help="Grants system administration.")


@grants_cli.command("create-user")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ALL_ROLES), help="Repeat for several roles.")
@click.option("--name", default=None, help="Full name (defaults to the part of the e-mail before @).")
def create_user(email: str, roles: tuple[str, ...], name: str | None):
    """Create an account; the password comes from a prompt or one line of standard input."""
    from grants.accounts.services import create_staff_user

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")
    try:
        user = create_staff_user(actor=None, email=email, name=name or email.split("@")[0], roles=set(roles), password=password)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message)
    db.session.commit()
    click.echo(f"Created {user.email} with roles: {', '.join(sorted(user.roles))}")


@grants_cli.command("audit-verify")
def audit_verify():
    """Check the audit chain; exit 1 naming the first altered, removed or reordered event."""
    from grants.audit.services import verify_chain

    report = verify_chain()
    if report.intact:
        click.echo(f"Audit chain intact: {report.count} events verified.")
        return
    click.echo(f"Audit chain broken at event {report.first_bad_id}: {report.problem} "
               f"({report.count} events before it verified).", err=True)
    sys.exit(1)


@grants_cli.command("send-outbox")
def send_outbox():
    """Deliver queued notification e-mails (SMTP when MAIL_SERVER is set, else the log)."""
    from grants.notifications.services import deliver_pending

    total_sent = total_failed = 0
    while True:
        sent, failed = deliver_pending()
        db.session.commit()
        total_sent += sent
        total_failed += failed
        if sent == 0:
            break
    click.echo(f"Sent {total_sent} message(s); {total_failed} failed and stay queued.")


@grants_cli.command("demo-data")
@click.option("--seed", default=2026, show_default=True, help="Seed for the random parts, so runs repeat.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
def demo_data(seed: int, if_empty: bool):
    """Load deterministic demo data: one user per role, organizations, programs, applications."""
    from grants import demo

    if current_app.config["CONFIG_NAME"] == "production":
        raise click.ClickException("Demo data has well-known passwords and is refused in production.")
    if demo.database_has_users():
        if not if_empty:
            raise click.ClickException("The database already has users; demo data goes into an empty database.")
        click.echo("Database already has data; demo data not loaded.")
    else:
        demo.load(seed=seed)
        db.session.commit()
        click.echo("Demo data loaded.")
    click.echo("Demo logins (sign in at http://127.0.0.1:5000/login):")
    for role, email in demo.LOGINS:
        click.echo(f"  {role:<16} {email:<28} password: {demo.DEMO_PASSWORD}")
