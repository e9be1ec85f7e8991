"""The audit trail: events in the same transaction, a hash chain that shows tampering."""

import re
from types import SimpleNamespace

import sqlalchemy as sa

from grants.audit.models import AuditEvent
from grants.audit.services import record_event, verify_chain
from grants.db import utcnow
from grants.extensions import db
from tests import factories


def _events(n=3):
    user = factories.make_user()
    for i in range(n):
        record_event(user, "test.happened", user, {"step": {"before": i, "after": i + 1}})
    db.session.commit()
    return db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)).all()


def _audit_verify(app, *args):
    return app.test_cli_runner().invoke(args=["grants", "audit-verify", *args])


def _printed_anchor(result) -> str:
    return result.output.split("Head (record it as the next --anchor): ")[1].split()[0]


def test_intact_chain_verifies_with_its_count(app):
    events = _events()
    result = _audit_verify(app)
    assert result.exit_code == 0, result.output
    assert f"{len(events)} events verified" in result.output


def test_editing_an_audit_row_is_detected_and_named(app):
    events = _events()
    target = events[2]
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == target.id).values(action="test.innocent"))
    db.session.commit()
    result = _audit_verify(app)
    assert result.exit_code != 0
    assert f"event {target.id}" in result.output


def test_deleting_an_audit_row_is_detected(app):
    events = _events()
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == events[1].id))
    db.session.commit()
    report = verify_chain()
    assert not report.intact and report.first_bad_id == events[2].id


def test_removing_the_newest_events_is_detected(app):
    events = _events()
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id.in_([events[-1].id, events[-2].id])))
    db.session.commit()
    result = _audit_verify(app)
    assert result.exit_code == 1
    assert f"it ends at event {events[-3].id} but its newest event was {events[-1].id}" in result.output


def test_deleting_the_head_record_too_is_detected_and_the_next_event_does_not_hide_it(app):
    from grants.audit.models import AuditHead

    events = _events()
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == events[-1].id))
    db.session.execute(sa.delete(AuditHead))
    db.session.commit()
    assert "record of its newest event is missing" in _audit_verify(app).output
    record_event(None, "test.after_tampering")  # the app carries on; the gap stays visible
    db.session.commit()
    report = verify_chain()
    assert not report.intact and report.first_bad_id > events[-2].id


def test_a_chain_rewritten_with_fresh_hashes_is_caught_by_an_anchor_kept_outside(app):
    from grants.audit.models import AuditHead
    from grants.audit.services import event_hash

    events = _events()
    earlier = _audit_verify(app)
    anchor = _printed_anchor(earlier)
    assert anchor == f"{events[-1].id}:{events[-1].hash}"
    assert _audit_verify(app, "--anchor", anchor).exit_code == 0
    # Someone with full database access rewrites the newest event, its hash and the head record.
    newest = db.session.get(AuditEvent, events[-1].id)
    newest.action = "test.innocent"
    newest.hash = event_hash(newest)
    db.session.get(AuditHead, 1).hash = newest.hash
    db.session.commit()
    assert _audit_verify(app).exit_code == 0  # self-consistent again
    result = _audit_verify(app, "--anchor", anchor)
    assert result.exit_code == 1 and f"event {newest.id}" in result.output and "differs from the anchor" in result.output
    # Deleting events back to before the anchor (and moving the head) is caught by the anchor too.
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == newest.id))
    head = db.session.get(AuditHead, 1)
    head.event_id, head.hash = events[-2].id, events[-2].hash
    db.session.commit()
    assert _audit_verify(app).exit_code == 0
    assert f"anchor event {events[-1].id} is no longer in the chain" in _audit_verify(app, "--anchor", anchor).output


def test_a_malformed_anchor_is_a_clear_usage_error(app):
    _events(1)
    result = _audit_verify(app, "--anchor", "12:not-a-hash")
    assert result.exit_code == 2
    assert "ID:HASH" in result.output and "Traceback" not in result.output


def test_reordering_audit_rows_is_detected(app):
    events = _events()
    a, b = events[1], events[2]
    # Swap the contents of two rows, keeping their hashes valid in isolation.
    cols = ["occurred_at", "actor_id", "actor_label", "action", "entity_type", "entity_id", "changes", "ip_address", "prev_hash", "hash"]
    va = {c: getattr(a, c) for c in cols}
    vb = {c: getattr(b, c) for c in cols}
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == a.id).values(hash="tmp" + "0" * 61))
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == b.id).values(**va))
    db.session.execute(sa.update(AuditEvent).where(AuditEvent.id == a.id).values(**vb))
    db.session.commit()
    report = verify_chain()
    assert not report.intact and report.first_bad_id == a.id


def test_a_failed_change_leaves_no_audit_event(app):
    factories.make_user()
    db.session.commit()
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    user = factories.make_user()
    record_event(user, "test.doomed", user)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == before


def test_admin_reads_and_filters_the_audit_log(make_client, admin, applicant):
    browser = make_client(admin)
    everything = browser.get("/admin/audit/")
    assert everything.status_code == 200
    assert b"user.registered" in everything.data or b"user.created" in everything.data
    only_orgs = browser.get("/admin/audit/?entity_type=organization")
    assert b"organization.created" in only_orgs.data
    assert b"user.login</code>" not in only_orgs.data
    by_actor = browser.get("/admin/audit/?actor=applicant@")
    assert b"applicant@example.org" in by_actor.data
    assert b"admin@example.gov</td>" not in by_actor.data
    assert browser.get("/admin/audit/?from=not-a-date&page=999").status_code == 200


def _insert_raw_event(**overrides):
    """A row written straight into the table, as someone with database access would."""
    values = {"occurred_at": utcnow(), "actor_label": "system", "action": "test.planted", "entity_type": "system",
              "changes": {}, "prev_hash": "f" * 64, "hash": "e" * 64, **overrides}
    db.session.execute(sa.insert(AuditEvent).values(**values))
    db.session.commit()
    return db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))


def test_a_row_added_after_the_newest_event_is_not_on_the_chain(app, make_client, admin):
    events = _events()
    browser = make_client(admin)
    planted = _insert_raw_event()
    assert planted > events[-1].id
    result = _audit_verify(app)
    assert result.exit_code == 1, result.output
    assert f"at event {planted}: is not on the chain" in result.output
    # The log still lists it newest first, marked as outside the chain; the events on it are not marked.
    page = browser.get("/admin/audit/").get_data(as_text=True)
    rows = re.findall(r"<tr>\s*<td>(\d+)( <span[^>]*>Not on the chain</span>)?</td>", page)
    assert rows[0] == (str(planted), " <span class=\"usa-tag bg-secondary-dark\">Not on the chain</span>")
    assert all(mark == "" for _, mark in rows[1:]) and len(rows) > 1


def test_a_row_after_the_head_that_follows_the_chain_is_still_not_on_it(app):
    # Well formed: chained to the newest event with a correct hash, but the head never moved to it.
    from grants.audit.services import event_hash

    events = _events()
    forged = AuditEvent(occurred_at=utcnow(), actor_label="system", action="test.forged", entity_type="system",
                        changes={}, prev_hash=events[-1].hash)
    forged.hash = event_hash(forged)
    forged_id = _insert_raw_event(**{c: getattr(forged, c) for c in ("occurred_at", "action", "prev_hash", "hash")})
    report = verify_chain()
    assert not report.intact and report.first_bad_id == forged_id and "is not on the chain" in report.problem


def test_events_appended_while_the_check_runs_are_on_the_chain(app, monkeypatch):
    # The check read the head before the last event was appended (and committed with its head).
    from grants.audit import services

    events = _events()
    real_read_head = services._read_head
    reads = []

    def head_as_it_was_before_the_last_append():
        reads.append(1)
        head = real_read_head()
        return SimpleNamespace(event_id=events[-2].id, hash=events[-2].hash) if len(reads) == 1 else head

    monkeypatch.setattr(services, "_read_head", head_as_it_was_before_the_last_append)
    report = verify_chain(batch_size=1)
    assert report.intact, report.problem
    assert report.count == len(events) and report.anchor == f"{events[-1].id}:{events[-1].hash}"
