"""E-mail texts: a service names the event that happened, a template says it in words.

A service hands over the event and the objects it concerns, never wording::

    notify("payment_approved", to=recipients, award=award, disbursement=disbursement)

``templates/email/payment_approved.txt`` holds the words, in two blocks::

    {% block subject %}Payment approved on award {{ award.award_number }}{% endblock %}
    {% block body %}
    Your payment request of {{ disbursement.amount_cents|money }} has been approved and will be paid.
    {% endblock %}

- The subject block is rendered on its own and folded onto one line by ``queue_message``, so a
  name typed with a line break cannot start a new header; the body is the body block, without the
  blank lines around it.
- Money and dates are formatted here, with the app's filters: ``money`` (cents), ``day`` (a date;
  ``day("%B %-d")`` for another format), ``instant`` (a UTC datetime, in the agency's zone).
- Links come from ``external_url(endpoint, **values)``, always on PUBLIC_BASE_URL; the agency's
  name is ``agency_name``.
- Plain text: Flask autoescapes only .html/.htm/.xml/.xhtml templates, so a ``&`` or a quote in a
  value stays as typed. Block tags take the newline after them (``trim_blocks``), so an
  ``{% if %}`` on a line of its own adds no blank line. A name the template uses but the service
  did not pass raises (``StrictUndefined``) instead of leaving a gap in the message.
- Languages: ``templates/email/<locale>/<event>.txt`` is used when it exists, else the English
  ``templates/email/<event>.txt``.

The templates are rendered outside Flask's ``render_template``: its context processors need a
request (the signed-in user), and reminders are queued by a CLI job.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from jinja2 import Environment, StrictUndefined, Template

from grants.notifications.models import OutboxMessage
from grants.notifications.services import external_url, queue_message

DEFAULT_LOCALE = "en"
TEMPLATE_FOLDER = "email"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str


def _environment() -> Environment:
    """The app's Jinja environment (its loader, filters and globals) set up for plain-text mail."""
    extensions = current_app.extensions
    if "grants.email_environment" not in extensions:
        extensions["grants.email_environment"] = current_app.jinja_env.overlay(
            trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)
    return extensions["grants.email_environment"]


def email_template(event: str, locale: str = DEFAULT_LOCALE) -> Template:
    """The template for ``event`` in ``locale``, or the English one when that language has none.
    Refuses nothing (Jinja's TemplateNotFound for an event with no template: a programming error).
    """
    return _environment().select_template([f"{TEMPLATE_FOLDER}/{locale}/{event}.txt", f"{TEMPLATE_FOLDER}/{event}.txt"])


def render_email(event: str, *, locale: str = DEFAULT_LOCALE, **context: Any) -> RenderedEmail:
    """Render the subject and body of ``event``'s message from the objects in ``context``. Refuses
    nothing (a variable the template needs and ``context`` lacks raises Jinja's UndefinedError).
    """
    template = email_template(event, locale)
    variables = template.new_context({"agency_name": current_app.config["AGENCY_NAME"], "external_url": external_url, **context})
    subject = "".join(template.blocks["subject"](variables)).strip()
    body = "".join(template.blocks["body"](variables)).strip()
    return RenderedEmail(subject=subject, body=body)


def notify(
    event: str, *, to: str | Iterable[str], dedupe_key: str | None = None, locale: str = DEFAULT_LOCALE, **context: Any
) -> list[OutboxMessage]:
    """Queue ``event``'s message to each address in ``to``, in the caller's transaction.

    Returns the messages queued: none for an address whose ``dedupe_key`` was already used. A
    dedupe key names one message, so it takes one address. Refuses nothing a user did: ValueError
    (a programming error, not a DomainError) for a dedupe key with more than one address.
    """
    recipients = [to] if isinstance(to, str) else list(to)
    if dedupe_key is not None and len(recipients) != 1:
        raise ValueError("A dedupe key names one message: give one address with it.")
    message = render_email(event, locale=locale, **context)
    queued = [queue_message(to=address, subject=message.subject, body=message.body, dedupe_key=dedupe_key) for address in recipients]
    return [row for row in queued if row is not None]
