"""Uploaded files: accepted by their content, size-limited, stored under random names.

Files live in ``UPLOAD_FOLDER`` (outside ``static/``) and are only ever served through a view that
checks the reader may see the record they belong to.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import filetype
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from grants.errors import DomainError
from grants.extensions import db

# What we accept, by the type sniffed from the bytes (never the name or the browser's claim).
ACCEPTED_TYPES = {
    "application/pdf": "pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "image/png": "png",
    "image/jpeg": "jpg",
}
ACCEPTED_DESCRIPTION = "PDF, Word (.docx), Excel (.xlsx), PNG or JPEG"
_CHUNK = 1024 * 1024
# The folder cannot be written (full disk, lost network share, wrong permissions): the person can
# only try again, so the form comes back with what they typed and this message beside the file.
STORAGE_FAILED = ("We could not store your file just now, so nothing was saved. Please try again in a moment: "
                  "choose the file once more (your other answers are kept below).")

log = logging.getLogger("grants.uploads")


@dataclass(frozen=True)
class StoredFile:
    original_name: str
    stored_name: str
    size: int
    content_type: str
    sha256: str


def upload_folder() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"])


def _sniff(head: bytes, tail: bytes) -> str | None:
    kind = filetype.guess(head)
    if kind is None or kind.mime not in ACCEPTED_TYPES:
        return None
    # A PDF must also end like one; a header glued onto something else is refused.
    if kind.mime == "application/pdf" and b"%%EOF" not in tail:
        return None
    return kind.mime


def display_name(filename: str | None) -> str:
    """The name to show and offer for download: no directories, no control characters."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable()).strip()[:200]
    return base or "file"


def store_upload(file: FileStorage | None, field: str = "file") -> StoredFile:
    """Check and store one uploaded file; raise DomainError on ``field`` when it is refused."""
    if file is None or not file.filename:
        raise DomainError("Choose a file to upload.", field)
    limit = current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024
    folder = upload_folder()
    stored_name = secrets.token_hex(16)
    target = folder / stored_name
    digest = hashlib.sha256()
    size = 0
    head = b""
    tail = b""
    opened = False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(target, "xb") as out:
            opened = True
            while chunk := file.stream.read(_CHUNK):
                size += len(chunk)
                if size > limit:
                    raise DomainError(f"The file is larger than {current_app.config['MAX_UPLOAD_MB']} MB.", field)
                if len(head) < 8192:
                    head += chunk[: 8192 - len(head)]
                tail = (tail + chunk)[-1024:]
                digest.update(chunk)
                out.write(chunk)
        if size == 0:
            raise DomainError("The file is empty.", field)
        content_type = _sniff(head, tail)
        if content_type is None:
            raise DomainError(f"This file is not a {ACCEPTED_DESCRIPTION} file. Choose a file of one of those types.", field)
    except OSError as exc:
        if opened:
            _discard(target)
        log.error("could not store an upload in %s: %s", folder, exc)
        raise DomainError(STORAGE_FAILED, field) from exc
    except BaseException:
        if opened:
            _discard(target)
        raise
    _pending(db.session, "new").append(stored_name)
    return StoredFile(
        original_name=display_name(file.filename),
        stored_name=stored_name,
        size=size,
        content_type=content_type,
        sha256=digest.hexdigest(),
    )


def _discard(target: Path) -> None:
    try:
        target.unlink(missing_ok=True)
    except OSError:
        log.warning("could not remove the partial upload %s", target, exc_info=True)


def stored_path(stored_name: str) -> Path:
    # Stored names are our own hex tokens; anything else never reaches the file system.
    if not stored_name.isalnum():
        raise ValueError("bad stored name")
    return upload_folder() / stored_name


def remove_after_commit(stored_name: str) -> None:
    """Delete the file once the transaction that removed its row commits (never before)."""
    _pending(db.session, "removed").append(stored_name)


def _unlink(stored_name: str) -> None:
    try:
        os.unlink(stored_path(stored_name))
    except (FileNotFoundError, ValueError):
        pass


def _pending(session, key: str) -> list[str]:
    return session.info.setdefault(f"upload_files_{key}", [])


# Files follow their rows: a file stored by a transaction that rolls back is deleted, and a
# file whose row was deleted goes only when that deletion commits.
@sa.event.listens_for(Session, "after_commit")
def _after_commit(session) -> None:
    session.info.pop("upload_files_new", None)
    for stored_name in session.info.pop("upload_files_removed", []):
        _unlink(stored_name)


@sa.event.listens_for(Session, "after_rollback")
def _after_rollback(session) -> None:
    session.info.pop("upload_files_removed", None)
    for stored_name in session.info.pop("upload_files_new", []):
        _unlink(stored_name)


def download_name(original_name: str, content_type: str) -> str:
    """A safe file name for Content-Disposition, with the extension of the real type."""
    stem = secure_filename(original_name.rsplit(".", 1)[0]) or "file"
    return f"{stem[:100]}.{ACCEPTED_TYPES.get(content_type, 'bin')}"
