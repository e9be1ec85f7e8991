"""Instants are stored in UTC and shown, or typed, in the agency's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app


def agency_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["AGENCY_TIMEZONE"])


def to_local(instant: datetime) -> datetime:
    return instant.astimezone(agency_zone())


def agency_today(now: datetime | None = None) -> date:
    """The agency's calendar day at ``now`` (default: this moment), not UTC's: what due dates and
    paid dates mean."""
    from grants.db import utcnow

    return to_local(now or utcnow()).date()


def local_to_utc(local: datetime) -> datetime:
    """A wall-clock time typed in the agency's zone, as an aware UTC instant."""
    if local.tzinfo is None:
        local = local.replace(tzinfo=agency_zone())
    return local.astimezone(UTC)


def format_instant(instant: datetime | None, fmt: str = "%B %-d, %Y at %-I:%M %p %Z") -> str:
    if instant is None:
        return ""
    return to_local(instant).strftime(fmt)


def format_remaining(until: datetime, now: datetime) -> str:
    """'3 days, 4 hours left' / '25 minutes left' / 'closed'."""
    left = until - now
    if left <= timedelta(0):
        return "closed"
    days, seconds = left.days, left.seconds
    hours, minutes = seconds // 3600, (seconds % 3600) // 60
    if days:
        return f"{days} day{'s' * (days != 1)}, {hours} hour{'s' * (hours != 1)} left"
    if hours:
        return f"{hours} hour{'s' * (hours != 1)}, {minutes} minute{'s' * (minutes != 1)} left"
    return f"{max(minutes, 1)} minute{'s' * (minutes != 1)} left"
