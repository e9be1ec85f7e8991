"""`flask --app wsgi grants …`: the commands operators and scheduled jobs use. Each commits explicitly."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from grants.accounts.models import ALL_ROLES
from grants.errors import DomainError
from grants.extensions import db
from grants.text import ngettext

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
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Created {user.email} with roles: {', '.join(sorted(user.roles))}")


@grants_cli.command("audit-verify")
@click.option("--anchor", metavar="ID:HASH",
              help="A head printed by an earlier run and kept outside the database: that event must still be in the chain.")
def audit_verify(anchor):
    """Check the audit chain; exit 1 naming the first altered, removed or reordered event.

    On success it prints the head as ID:HASH. Keep that line somewhere the database's
    administrators cannot edit (a ticket, an e-mail, the backup log) and pass it to --anchor
    later: removal of the newest events, which the chain alone cannot show, is then caught.
    """
    from grants.audit.services import parse_anchor, verify_chain

    try:
        expected = parse_anchor(anchor) if anchor else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--anchor") from None
    report = verify_chain(anchor=expected)
    if report.intact:
        click.echo(f"Audit chain intact: {report.count} events verified.")
        if report.anchor:
            click.echo(f"Head (record it as the next --anchor): {report.anchor}")
        return
    where = f"at event {report.first_bad_id}" if report.first_bad_id else "at its end"
    click.echo(f"Audit chain broken {where}: {report.problem} ({report.count} events before it verified).", err=True)
    sys.exit(1)


@grants_cli.command("send-outbox")
def send_outbox():
    """Deliver queued notification e-mails that are due (SMTP when MAIL_SERVER is set, else the log).

    Safe beside request-time delivery and on several hosts at once: each message is claimed
    before it is sent. Schedule it every few minutes in every deployment; it also sends what a
    worker that died after its commit never delivered, and retries failed messages.
    """
    from grants.notifications.services import deliver_pending

    batch = 500
    total_sent = total_failed = 0
    while True:
        sent, failed = deliver_pending(limit=batch)
        total_sent += sent
        total_failed += failed
        if sent + failed < batch:  # every due message tried once; failed ones wait for their retry time
            break
    click.echo(ngettext("Sent %(num)d message; %(failed)d failed (tried again later, shown as failed on the outbox page after %(max)d attempts).",
                        "Sent %(num)d messages; %(failed)d failed (tried again later, shown as failed on the outbox page after %(max)d attempts).",
                        total_sent, failed=total_failed, max=current_app.config["OUTBOX_MAX_ATTEMPTS"]))


def _program_by_slug(slug: str | None):
    import sqlalchemy as sa

    from grants.programs.models import Program

    if not slug:
        return None
    program = db.session.scalar(sa.select(Program).where(Program.slug == slug))
    if program is None:
        raise click.ClickException(f"No program with the slug {slug!r}.")
    return program


@grants_cli.command("export-ledger")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--program", "slug", default=None, help="Program slug (default: all programs).")
@click.option("--fiscal-year", type=int, default=None, help="Only this fiscal year.")
def export_ledger(path: str, slug: str | None, fiscal_year: int | None):
    """Write the award ledger workbook to PATH (progress on standard error)."""
    from grants.exports.services import LedgerFilters, award_ledger_workbook, count_ledger_rows

    filters = LedgerFilters(program=_program_by_slug(slug), fiscal_year=fiscal_year)
    total = count_ledger_rows(filters)  # awards, disbursements and amendments: the bar ends when the last is written
    with click.progressbar(length=total, label="Rows", file=sys.stderr) as bar:
        counts = award_ledger_workbook(path, filters=filters, generated_by="flask grants export-ledger", progress=bar.update)
    click.echo(f"Wrote {path}: {counts.awards} awards, {counts.disbursements} disbursements, {counts.amendments} amendments.")


@grants_cli.command("export-360giving")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@click.option("--program", "slug", default=None, help="Program slug (default: all programs).")
def export_360giving(path: str, slug: str | None):
    """Write the grants in the 360Giving spreadsheet layout to PATH."""
    from grants.exports.services import LedgerFilters, count_awards, giving360_workbook

    program = _program_by_slug(slug)
    total = count_awards(LedgerFilters(program=program))
    with click.progressbar(length=total, label="Grants", file=sys.stderr) as bar:
        count = giving360_workbook(path, program=program, progress=bar.update)
    click.echo(f"Wrote {path}: {count} grants.")


@grants_cli.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
def backup(path: str):
    """Write a consistent copy of the database to PATH (SQLite file, or a pg_dump archive)."""
    from grants.backup import backup_database

    try:
        written = backup_database(db.engine, path)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    click.echo(f"Backup written to {written} ({written.stat().st_size:,} bytes).")


@grants_cli.command("send-reminders")
def send_reminders():
    """Queue reminders for progress reports due within 14 days and overdue ones (once per stage)."""
    from grants.awards.services import queue_report_reminders
    from grants.clock import agency_today

    queued = queue_report_reminders(agency_today())
    db.session.commit()
    click.echo(ngettext("Queued %(num)d reminder.", "Queued %(num)d reminders.", queued))


@grants_cli.command("prune-submission-keys")
@click.option("--days", type=click.IntRange(min=1), default=7, show_default=True, help="Keep keys this many days.")
def prune_submission_keys(days: int):
    """Forget the one-time keys of forms sent more than DAYS ago (a resend after that is a new submission)."""
    from grants.submissions import prune_submission_keys as prune

    removed = prune(older_than_days=days)
    db.session.commit()
    click.echo(f"Removed {removed} submission key(s) older than {days} days.")


@grants_cli.command("demo-data")
@click.option("--seed", default=2026, show_default=True, help="Seed for the random parts, so runs repeat.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@click.option("--scale", type=click.IntRange(min=1, max=200_000), default=None, metavar="N",
              help="Also add N applications in a closed program of their own (code SCL), carried through review, "
                   "awards and payments. Loads the ordinary demo data first when the database is empty.")
def demo_data(seed: int, if_empty: bool, scale: int | None):
    """Load deterministic demo data: one user per role, organizations, programs, applications."""
    from grants import demo

    if current_app.config["CONFIG_NAME"] == "production":
        raise click.ClickException("Demo data has well-known passwords and is refused in production.")
    if demo.database_has_users():
        if if_empty:
            click.echo("Database already has data; demo data not loaded.")
            scale = None
        elif scale is None:
            raise click.ClickException("The database already has users; demo data goes into an empty database "
                                       "(--scale N adds the scale program to an existing demo database).")
    else:
        demo.load(seed=seed)
        db.session.commit()
        click.echo("Demo data loaded.")
    if scale is not None:
        _load_scale(scale, seed)
    click.echo("Demo logins (sign in at http://127.0.0.1:5000/login):")
    for role, email in demo.LOGINS:
        click.echo(f"  {role:<16} {email:<28} password: {demo.DEMO_PASSWORD}")


def _load_scale(applications: int, seed: int) -> None:
    """``demo-data --scale N``: the scale program on top of the ordinary demo data (its officer acts)."""
    import time

    import sqlalchemy as sa

    from grants import demo, demo_scale
    from grants.accounts.models import User

    def user(email: str):
        return db.session.scalar(sa.select(User).where(User.email == email))

    officer = user("officer@example.gov")
    if officer is None:
        raise click.ClickException("--scale adds to the demo data and needs its program officer (officer@example.gov): "
                                   "run it on an empty database, or on one loaded with `grants demo-data`.")
    started = time.perf_counter()
    try:
        counts = demo_scale.load_scale(applications=applications, seed=seed, officer=officer, finance=user("finance@example.gov"),
                                       password=demo.DEMO_PASSWORD)
    except demo_scale.ScaleError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    click.echo(
        f"Scale data loaded in {time.perf_counter() - started:.1f} s: program {demo_scale.CODE} ({demo_scale.SLUG}), "
        f"{counts.applications:,} applications from {counts.organizations:,} organizations, {counts.reviews:,} reviews by "
        f"{counts.reviewers} reviewers, {counts.awards:,} awards, {counts.amendments:,} amendments, "
        f"{counts.disbursements:,} payments, {counts.progress_reports:,} progress reports."
    )
    click.echo("  Scale accounts share the demo password: grantee.00001@scale.example.org, reviewer.01@scale.example.gov, …")
