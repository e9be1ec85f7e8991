"""The outbox under stress: a message that cannot be sent, many workers at once, a worker that dies.

Issue 13, items 4, 10 and 21: one-line fields and subjects (no header injection), a bad message
retried with back-off and given up without blocking the rest, each message sent exactly once by
concurrent workers, and a delivery lost after the commit picked up by `grants send-outbox`.
"""

from __future__ import annotations

import importlib
import pkgutil
import smtplib
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from wtforms import Form

import grants
from grants.db import utcnow
from grants.extensions import db
from grants.formtools import GrantsForm, GrantsSubform
from grants.notifications import services
from grants.notifications.models import OutboxMessage, OutboxStatus
from tests import factories
from tests.race import race


class FakeSMTP:
    """Stands in for smtplib.SMTP: keeps every e-mail handed to it, in ``FakeSMTP.sent``."""

    sent: list = []

    def __init__(self, host, port, timeout=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def starttls(self):
        pass

    def login(self, username, password):
        pass

    def send_message(self, email):
        FakeSMTP.sent.append(email)


@pytest.fixture
def smtp(app, monkeypatch):
    """A configured mail server that records what it is sent."""
    FakeSMTP.sent = []
    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    app.config.update(MAIL_SERVER="smtp.test", MAIL_USE_TLS=False)
    return FakeSMTP


@pytest.fixture
def sends(monkeypatch):
    """Counts calls to the sender by message id (thread-safe); nothing is really sent."""
    calls: list[int] = []
    lock = threading.Lock()

    def record(message):
        time.sleep(0.02)  # a real send takes a while: workers overlap
        with lock:
            calls.append(message.id)

    monkeypatch.setattr(services, "_send", record)
    return calls


def _queue(count: int, to: str = "person{}@example.org") -> list[int]:
    ids = [services.queue_message(to=to.format(n), subject=f"Message {n}", body="Body").id for n in range(count)]
    db.session.commit()
    return ids


def _message(message_id: int) -> OutboxMessage:
    db.session.expire_all()
    return db.session.get(OutboxMessage, message_id)


# Item 4: one-line fields and subjects ------------------------------------------------------------

def test_a_line_break_in_a_single_line_field_is_folded_into_a_space(make_client, applicant):
    fields = factories.organization_fields(legal_name="Acme Responders\r\nBcc: everyone@example.org", county="Cook\n")
    fields = {key: value for key, value in fields.items() if value is not None}
    response = make_client(applicant).post_form("/organizations/new", fields)
    assert response.status_code == 302
    from grants.accounts.models import Organization

    names = set(db.session.scalars(sa.select(Organization.legal_name)))
    assert "Acme Responders Bcc: everyone@example.org" in names
    assert not any("\n" in name or "\r" in name for name in names)


def test_a_text_area_keeps_its_line_breaks_and_a_nested_single_line_field_folds_them(app):
    from grants.applications.forms import BudgetForm
    from grants.reviews.forms import ReasonForm

    data = {"lines-0-category": "personnel", "lines-0-description": "Two\u2028outreach\r\nworkers", "reason": "First line\nsecond line"}
    with app.test_request_context("/", method="POST", data=data):
        assert BudgetForm(meta={"csrf": False}).lines[0].form.description.data == "Two outreach workers"
        assert ReasonForm(meta={"csrf": False}).reason.data == "First line\nsecond line"


def test_every_form_of_the_app_folds_line_breaks_in_its_single_line_fields():
    """A form on wtforms' own base would skip the folding: each one derives from the app's bases."""
    for module in pkgutil.walk_packages(grants.__path__, "grants."):
        if module.name.endswith(".forms"):
            importlib.import_module(module.name)

    def every_subclass(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from every_subclass(sub)

    forms = [cls for cls in every_subclass(Form) if cls.__module__.startswith("grants.")]
    assert len(forms) > 20
    strays = [f"{cls.__module__}.{cls.__qualname__}" for cls in forms if not issubclass(cls, (GrantsForm, GrantsSubform))]
    assert strays == []


def test_a_subject_is_queued_on_one_line(app):
    message = services.queue_message(to="a@example.org", subject="Invitation to join Acme\r\nBcc: x@example.org\u2028 now",
                                     body="Line one\nline two")
    db.session.commit()
    assert _message(message.id).subject == "Invitation to join Acme Bcc: x@example.org now"
    assert _message(message.id).body == "Line one\nline two"


def test_an_invitation_from_an_organization_named_with_a_line_break_is_sent_and_answers_302(app, make_client, smtp):
    member = factories.make_user(email="member@example.org")
    organization = factories.make_organization(members=[member], legal_name="Acme\nBcc: victim@example.org")  # stored before forms folded
    db.session.commit()
    app.config["OUTBOX_SEND_AFTER_REQUEST"] = True
    response = make_client(member).post_form(f"/organizations/{organization.id}/invite", {"email": "new@example.org"})
    assert response.status_code == 302
    (email,) = smtp.sent
    assert email["To"] == "new@example.org"
    assert email["Subject"] == "Invitation to join Acme Bcc: victim@example.org on the grants system"
    assert email["Bcc"] is None


def test_a_message_that_cannot_be_built_is_marked_failed_and_the_rest_are_still_sent(app, smtp):
    bad = services.queue_message(to="someone@example.org\nBcc: victim@example.org", subject="Hello", body="Body")
    user = factories.make_user(email="forgetful@example.org")
    db.session.commit()
    from grants.accounts.services import request_password_reset

    request_password_reset(email=user.email)
    db.session.commit()
    for _run in range(2):  # every run, not only the first
        result = app.test_cli_runner().invoke(args=["grants", "send-outbox"])
        assert result.exit_code == 0, result.output
    assert [email["To"] for email in smtp.sent] == ["forgetful@example.org"]
    assert smtp.sent[0]["Subject"] == "Reset your grants system password"
    message = _message(bad.id)
    assert message.sent_at is None and message.attempts == 1 and message.status == OutboxStatus.RETRYING
    assert "ValueError" in message.last_error
    assert message.next_attempt_at > utcnow() + timedelta(seconds=30)


def test_a_failing_message_is_retried_with_growing_pauses_then_given_up_and_listed_as_failed(app, make_client, admin, monkeypatch):
    app.config.update(OUTBOX_MAX_ATTEMPTS=3, OUTBOX_RETRY_SECONDS=60)
    (bad_id, good_id) = _queue(2)
    tries: list[int] = []

    def send(message):
        tries.append(message.id)
        if message.id == bad_id:
            raise RuntimeError("mail library bug")  # not OSError or SMTPException

    monkeypatch.setattr(services, "_send", send)

    def due_now():  # pretend the pause has passed
        db.session.execute(sa.update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()

    assert services.deliver_pending() == (1, 1)
    first_pause = _message(bad_id).next_attempt_at - utcnow()
    assert timedelta(seconds=50) < first_pause <= timedelta(seconds=60)
    assert services.deliver_pending() == (0, 0)  # not before its time
    waiting_page = make_client(admin).get("/admin/outbox/?status=retrying").get_data(as_text=True)
    assert "person0@example.org" in waiting_page and "Retrying at" in waiting_page and "person1@example.org" not in waiting_page
    due_now()
    assert services.deliver_pending() == (0, 1)
    second_pause = _message(bad_id).next_attempt_at - utcnow()
    assert timedelta(seconds=110) < second_pause <= timedelta(seconds=120)
    due_now()
    assert services.deliver_pending() == (0, 1)
    message = _message(bad_id)
    assert message.status == OutboxStatus.FAILED and message.failed_at is not None and message.attempts == 3
    due_now()
    assert services.deliver_pending(include_retrying=True) == (0, 0)  # given up: not tried again
    assert tries == [bad_id, good_id, bad_id, bad_id]

    browser = make_client(admin)
    page = browser.get("/admin/outbox/").get_data(as_text=True)
    assert "1 message could not be sent" in page
    failed_page = browser.get("/admin/outbox/?status=failed").get_data(as_text=True)
    assert "person0@example.org" in failed_page and "person1@example.org" not in failed_page
    assert "Failed" in failed_page and "RuntimeError: mail library bug" in failed_page and "<td>3</td>" in failed_page
    sent_page = browser.get("/admin/outbox/?status=sent").get_data(as_text=True)
    assert "person1@example.org" in sent_page and "person0@example.org" not in sent_page


# Item 10: claimed before sending, so sent once ----------------------------------------------------

def test_concurrent_deliveries_send_each_message_exactly_once(app, sends):
    ids = _queue(20)
    outcomes, errors = race(app, [services.deliver_pending for _ in range(10)])
    assert errors == [] and outcomes == ["ok"] * 10
    assert sorted(sends) == ids
    assert db.session.scalar(sa.select(sa.func.count()).where(OutboxMessage.sent_at.is_(None))) == 0
    assert set(db.session.scalars(sa.select(OutboxMessage.attempts))) == {1}


def test_request_time_delivery_and_the_scheduled_sweep_at_once_send_a_message_once(app, sends):
    ids = _queue(3)
    runner = app.test_cli_runner()
    attempts = [lambda: services.deliver_pending(ids), lambda: runner.invoke(args=["grants", "send-outbox"]),
                lambda: services.deliver_pending(ids), lambda: runner.invoke(args=["grants", "send-outbox"])]
    outcomes, errors = race(app, attempts)
    assert errors == []
    assert sorted(sends) == ids


def test_a_claim_left_by_a_worker_that_died_runs_out_and_the_message_is_sent(app, sends):
    (message_id,) = _queue(1)
    db.session.execute(sa.update(OutboxMessage).values(claim_token="dead-worker", claimed_until=utcnow() + timedelta(minutes=5), attempts=1))
    db.session.commit()
    assert services.deliver_pending() == (0, 0)  # another worker may still be sending it
    assert _message(message_id).status == OutboxStatus.SENDING
    db.session.execute(sa.update(OutboxMessage).values(claimed_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert services.deliver_pending() == (1, 0)
    assert sends == [message_id]
    message = _message(message_id)
    assert message.sent_at is not None and message.claim_token is None and message.attempts == 2


# Item 21: a delivery lost after the commit is sent by the sweep -----------------------------------

class WorkerKilled(BaseException):
    """The process ending mid-delivery (SIGKILL, a deploy): nothing after it runs."""


def test_a_receipt_lost_when_the_worker_died_after_the_commit_is_sent_once_by_send_outbox(app, make_client, monkeypatch):
    user = factories.make_user(email="forgetful@example.org")
    db.session.commit()
    app.config["OUTBOX_SEND_AFTER_REQUEST"] = True

    def killed(_message):
        raise WorkerKilled

    monkeypatch.setattr(services, "_send", killed)
    with pytest.raises(WorkerKilled):
        make_client().post_form("/password/forgot", {"email": user.email})
    message = db.session.scalars(sa.select(OutboxMessage)).one()  # the request's change was committed
    assert message.sent_at is None

    sent: list[int] = []
    monkeypatch.setattr(services, "_send", lambda m: sent.append(m.id))
    runner = app.test_cli_runner()
    assert "Sent 0 messages" in runner.invoke(args=["grants", "send-outbox"]).output  # its claim has not run out yet
    db.session.execute(sa.update(OutboxMessage).values(claimed_until=utcnow() - timedelta(seconds=1)))  # … and now it has
    db.session.commit()
    assert "Sent 1 message;" in runner.invoke(args=["grants", "send-outbox"]).output
    assert "Sent 0 messages" in runner.invoke(args=["grants", "send-outbox"]).output
    assert sent == [message.id]
    assert _message(message.id).sent_at is not None


def test_a_message_never_handed_to_request_time_delivery_is_sent_by_send_outbox(app, make_client, monkeypatch):
    """The worker died between the commit and the delivery: the sweep alone sends it, once."""
    user = factories.make_user(email="forgetful@example.org")
    db.session.commit()
    app.config["OUTBOX_SEND_AFTER_REQUEST"] = False  # as if after_request never ran
    assert make_client().post_form("/password/forgot", {"email": user.email}).status_code == 302
    sent: list[str] = []
    monkeypatch.setattr(services, "_send", lambda m: sent.append(m.to_address))
    runner = app.test_cli_runner()
    assert "Sent 1 message;" in runner.invoke(args=["grants", "send-outbox"]).output
    assert "Sent 0 messages" in runner.invoke(args=["grants", "send-outbox"]).output
    assert sent == ["forgetful@example.org"]


def test_a_request_whose_delivery_breaks_still_answers_with_its_committed_result(app, make_client, monkeypatch):
    user = factories.make_user(email="forgetful@example.org")
    db.session.commit()
    app.config["OUTBOX_SEND_AFTER_REQUEST"] = True

    def database_gone(**_kwargs):
        raise sa.exc.OperationalError("UPDATE outbox_message", {}, Exception("server closed the connection"))

    monkeypatch.setattr(services, "_claim_next", database_gone)
    assert make_client().post_form("/password/forgot", {"email": user.email}).status_code == 302
    message = db.session.scalars(sa.select(OutboxMessage)).one()
    assert message.to_address == "forgetful@example.org" and message.sent_at is None  # left for `grants send-outbox`
