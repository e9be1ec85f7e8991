"""Issue 10: the number of SQL queries behind each page does not grow with the round.

Every page is counted on a round of 50 applications and on one of 500 (``tests/querycount.py``
builds them with the bulk generator of ``demo-data --scale``), each role on the pages it uses.
"""

from tests.querycount import page_query_count, scale_round

PAGES = [
    # Home pages, one section per role.
    ("member", "/home"),
    ("reviewer", "/home"),
    ("officer", "/home"),
    ("finance", "/home"),
    # Dashboards.
    ("officer", "/programs/{program}/dashboard"),
    ("officer", "/dashboard/programs"),
    ("finance", "/dashboard/finance"),
    # Applications, review and the funding line.
    ("officer", "/programs/{program}/applications"),
    ("officer", "/programs/{program}/reviews"),
    ("officer", "/programs/{program}/ranking"),
    ("officer", "/programs/{program}/ranking?order=normalized"),
    ("officer", "/programs/{program}/funding-line?reserve=y"),
    # Awards and payments.
    ("officer", "/awards"),
    ("finance", "/payments"),
]
DASHBOARD_MOST = 25  # the dashboards and home pages stay within this many queries


def _counts(make_client, applications: int) -> dict[tuple[str, str], int]:
    round_ = scale_round(applications)
    browsers = {who: make_client(user) for who, user in round_.users.items()}
    return {(who, url): page_query_count(browsers[who], url.format(program=round_.program.id)) for who, url in PAGES}


def test_page_query_counts_are_the_same_for_50_and_500_applications(app, make_client):
    small = _counts(make_client, 50)
    large = _counts(make_client, 500)
    grew = {f"{who} {url}": (small[who, url], large[who, url]) for who, url in PAGES if small[who, url] != large[who, url]}
    assert grew == {}, "queries (50 applications, 500 applications)"
    heavy = {f"{who} {url}": small[who, url] for who, url in PAGES
             if ("dashboard" in url or url == "/home") and small[who, url] > DASHBOARD_MOST}
    assert heavy == {}
