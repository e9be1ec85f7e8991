"""A backup, restored, gives back the same rows."""

import sqlalchemy as sa

from grants.accounts.models import Organization, User
from grants.audit.models import AuditEvent
from grants.backup import restore_database
from grants.extensions import db
from tests import factories


def _fingerprint():
    return (
        sorted(db.session.scalars(sa.select(User.email))),
        sorted(db.session.scalars(sa.select(Organization.ein))),
        db.session.scalars(sa.select(AuditEvent.hash).order_by(AuditEvent.id)).all(),
    )


def test_backup_then_restore_finds_the_same_rows(app, tmp_path):
    member = factories.make_user(email="kept@example.org")
    factories.make_organization(members=[member], ein="44-4444444")
    db.session.commit()
    before = _fingerprint()
    path = tmp_path / "backup.dump"
    result = app.test_cli_runner().invoke(args=["grants", "backup", str(path)])
    assert result.exit_code == 0, result.output
    assert path.stat().st_size > 0
    # Changes after the backup are undone by the restore.
    factories.make_user(email="after@example.org")
    db.session.execute(sa.delete(AuditEvent).where(AuditEvent.id == db.session.scalar(sa.select(sa.func.min(AuditEvent.id)))))
    db.session.commit()
    assert _fingerprint() != before
    db.session.remove()
    restore_database(db.engine, path)
    assert _fingerprint() == before
    assert app.test_cli_runner().invoke(args=["grants", "audit-verify"]).exit_code == 0
