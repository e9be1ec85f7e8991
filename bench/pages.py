"""Page budgets at 5,000 applications (issue 10): server time and SQL statements per main page.

For SQLite, and for PostgreSQL when BENCH_DATABASE_URL or TEST_DATABASE_URL is set (the bench
creates its own databases on that server, ``grants_bench_pages`` and ``grants_bench_pages_small``;
never the test suite's), it builds a database with `grants demo-data --scale 5000`, starts gunicorn (1 sync worker) on 127.0.0.1, signs in as each
role over HTTP and requests each page 20 times after a warm-up, timing every request from this
process with time.perf_counter. Query counts come from the same pages requested in-process through
the Flask test client with a ``before_cursor_execute`` listener, at N=5,000 and at N=50 (they
should be equal). /healthz is the baseline row. Targets: median < 200 ms, p95 < 400 ms.

    .venv/bin/python bench/pages.py [--size 5000] [--small 50] [--requests 20] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchlib import (HttpBrowser, QueryCounter, Server, Targets, build_scale_database, drop_postgres_database, flask_env,
                      fresh_postgres_database, make_app, median, ms, percentile, scale_targets, signed_in_test_client,
                      sqlite_url)

MEDIAN_TARGET_MS, P95_TARGET_MS = 200, 400
OFFICER, FINANCE, ADMIN = "officer@example.gov", "finance@example.gov", "admin@example.gov"
SCALE_REVIEWER = "reviewer.01@scale.example.gov"


@dataclass
class Page:
    name: str
    email: str | None  # None: anonymous
    path: str


def pages_for(app, targets: Targets) -> list[Page]:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    pages = [
        Page("program applications list", OFFICER, f"/programs/{targets.program_id}/applications"),
        Page("ranking", OFFICER, f"/programs/{targets.program_id}/ranking"),
        Page("review summary", OFFICER, f"/applications/{targets.application_id}/reviews"),
        Page("awards list", FINANCE, "/awards"),
        Page(f"award page ({targets.award_number})", FINANCE, f"/awards/{targets.award_id}"),
        Page("finance home", FINANCE, "/finance"),
    ]
    if "dashboard.program_dashboard" in endpoints:
        with app.test_request_context():
            from flask import url_for

            pages.append(Page("program dashboard", OFFICER, url_for("dashboard.program_dashboard", program_id=targets.program_id)))
    else:
        print("  note: no endpoint dashboard.program_dashboard in this app; the program dashboard is skipped")
    pages += [
        Page("audit log", ADMIN, "/admin/audit/"),
        Page("reviewer: my assignments", SCALE_REVIEWER, "/reviews"),
        Page("applicant: home (a grantee)", targets.grantee_email, "/home"),
        Page("applicant: award page", targets.grantee_email, f"/awards/{targets.award_id}"),
        Page("/healthz (baseline)", None, "/healthz"),
    ]
    return pages


def query_counts(app, pages: list[Page]) -> dict[str, int | str]:
    """SQL statements per page, requested in-process (signed in as the page's role)."""
    counter = QueryCounter(app)
    browsers = {}
    counts = {}
    for page in pages:
        if page.email not in browsers:
            browsers[page.email] = signed_in_test_client(app, page.email) if page.email else app.test_client()
        browser = browsers[page.email]
        browser.get(page.path)  # warm-up
        with counter.counting() as seen:
            response = browser.get(page.path)
        counts[page.name] = seen["queries"] if response.status_code == 200 else f"HTTP {response.status_code}"
    return counts


def time_pages(port: int, pages: list[Page], requests: int) -> dict[str, tuple[float, float, int]]:
    browsers: dict[str | None, HttpBrowser] = {}
    results = {}
    for page in pages:
        if page.email not in browsers:
            browsers[page.email] = HttpBrowser(port).login(page.email) if page.email else HttpBrowser(port)
        browser = browsers[page.email]
        for _ in range(2):
            browser.get(page.path)
        times, status = [], 200
        for _ in range(requests):
            code, _, elapsed = browser.get(page.path)
            status = code if code != 200 else status
            times.append(elapsed)
        results[page.name] = (median(times), percentile(times, 0.95), status)
    return results


def _close_connections(app) -> None:
    from grants.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def run_backend(label: str, url: str, small_url: str | None, workdir: Path, size: int, small: int, requests: int) -> list[str]:
    print(f"\n== {label} ==")
    build_scale_database(url, workdir, size)
    app = make_app(url, workdir)
    targets = scale_targets(app)
    pages = pages_for(app, targets)
    counts = query_counts(app, pages)
    small_counts = {}
    if small_url:
        build_scale_database(small_url, workdir, small)
        small_app = make_app(small_url, workdir)
        small_counts = query_counts(small_app, pages_for(small_app, scale_targets(small_app)))
        _close_connections(small_app)  # its pooled connection would keep the small database from being dropped
        # Page names carry the award number, which differs between sizes: match by position.
        small_counts = dict(zip(counts, small_counts.values()))
    with Server(flask_env(url, workdir), workers=1) as server:
        timings = time_pages(server.port, pages, requests)
    misses = []
    header = f"{'page':<34} {'median ms':>9} {'p95 ms':>7} {'queries@' + format(size, ','):>15}"
    if small_counts:
        header += f" {'queries@' + format(small, ','):>12}"
    print(header)
    for page in pages:
        mid, p95, status = timings[page.name]
        line = f"{page.name:<34} {ms(mid):>9} {ms(p95):>7} {counts[page.name]!s:>15}"
        if small_counts:
            line += f" {small_counts.get(page.name, '-')!s:>12}"
        flags = []
        if status != 200:
            flags.append(f"HTTP {status}")
        if mid * 1000 >= MEDIAN_TARGET_MS or p95 * 1000 >= P95_TARGET_MS:
            flags.append("MISSES TARGET")
            misses.append(f"{label}: {page.name} (median {ms(mid).strip()} ms, p95 {ms(p95).strip()} ms)")
        if small_counts and small_counts.get(page.name) != counts[page.name]:
            flags.append("QUERY COUNT GROWS")
        print(line + ("  " + ", ".join(flags) if flags else ""))
    base = timings["/healthz (baseline)"][0]
    worst = max((timings[p.name][0], p.name) for p in pages if p.email)
    print(f"slowest page: {worst[1]} at {ms(worst[0]).strip()} ms median = {worst[0] / base:.0f}x /healthz ({ms(base).strip()} ms)")
    return misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--small", type=int, default=50, help="size for the query-count comparison")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--sqlite-only", action="store_true")
    args = parser.parse_args()
    print(f"Main pages at N={args.size:,}: gunicorn 1 worker on 127.0.0.1, {args.requests} requests per page after 2 warm-ups; "
          f"load average before start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    misses = []
    with tempfile.TemporaryDirectory(prefix="bench-pages-") as tmp:
        workdir = Path(tmp)
        misses += run_backend("SQLite", sqlite_url(workdir / "pages.db"), sqlite_url(workdir / "pages-small.db"),
                              workdir, args.size, args.small, args.requests)
        if not args.sqlite_only:
            url = fresh_postgres_database("grants_bench_pages")
            small_url = fresh_postgres_database("grants_bench_pages_small") if url and not os.environ.get("BENCH_DATABASE_URL") else None
            if url is None:
                print("\nPostgreSQL skipped: set BENCH_DATABASE_URL or TEST_DATABASE_URL to include it.")
            else:
                try:
                    misses += run_backend("PostgreSQL", url, small_url, workdir, args.size, args.small, args.requests)
                finally:
                    if small_url:
                        drop_postgres_database(small_url)
    print()
    print(f"Targets: median < {MEDIAN_TARGET_MS} ms, p95 < {P95_TARGET_MS} ms per page.")
    print("All pages meet them." if not misses else "Missed:\n  " + "\n  ".join(misses))


if __name__ == "__main__":
    main()
