"""Run service calls at (nearly) the same moment, each in its own thread, app context and transaction."""

import threading

from grants.errors import DomainError
from grants.extensions import db


def race(app, attempts) -> tuple[list[str], list[str]]:
    """Start every attempt together; return ("ok"/"refused" per attempt, other failures as text).

    A DomainError is a refusal the user would read; anything else (a deadlock, an integrity
    error, a lock timeout) is what the concurrency tests look for.
    """
    db.session.commit()  # end the test's own transaction: on SQLite it would hold the write lock
    outcomes, errors = [], []
    barrier = threading.Barrier(len(attempts))

    def run(attempt):
        with app.app_context():
            barrier.wait()
            try:
                attempt()
                db.session.commit()
                outcomes.append("ok")
            except DomainError:
                db.session.rollback()
                outcomes.append("refused")
            except Exception as exc:  # noqa: BLE001 - any other failure is what the test looks for
                db.session.rollback()
                errors.append(repr(exc))
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(attempt,)) for attempt in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return outcomes, errors
