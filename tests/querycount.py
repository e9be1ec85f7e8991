"""How many SQL statements the server runs to answer one page: the measure for 'queries do not
grow with the data' (compare two sizes of the same data)."""

import sqlalchemy as sa

from grants.extensions import db


def page_query_count(browser, url: str) -> int:
    """SQL statements executed while answering GET ``url``, which must answer 200."""
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)

    db.session.commit()  # what the test set up is written before counting starts
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        response = browser.get(url)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert response.status_code == 200, (url, response.status_code)
    return len(statements)
