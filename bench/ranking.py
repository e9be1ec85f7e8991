"""The ranking page at 500 and 5,000 applications (issue 4, "Speed").

Builds two SQLite databases in a temporary directory with `grants demo-data --scale N`, signs in
as the demo program officer through the Flask test client (server time, no network), and requests
GET /programs/<id>/ranking 20 times after a warm-up. Prints the median and p95 at each size, their
ratio, and the SQL statements per request (equal at both sizes when nothing is loaded per row).

    .venv/bin/python bench/ranking.py [--requests 20] [--sizes 500,5000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from benchlib import (QueryCounter, build_scale_database, make_app, median, ms, percentile, scale_targets,
                      signed_in_test_client, sqlite_url)

TARGET_MS = 200


def measure(size: int, workdir: Path, requests: int) -> dict:
    url = sqlite_url(workdir / f"scale-{size}.db")
    build_scale_database(url, workdir, size)
    app = make_app(url, workdir)
    counter = QueryCounter(app)
    targets = scale_targets(app)
    officer = signed_in_test_client(app, "officer@example.gov")
    path = f"/programs/{targets.program_id}/ranking"
    for _ in range(3):  # warm-up: templates compiled, statement caches filled
        assert officer.get(path).status_code == 200
    times, queries = [], set()
    for _ in range(requests):
        with counter.counting() as seen:
            started = time.perf_counter()
            response = officer.get(path)
            times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{path} answered {response.status_code}")
        queries.add(seen["queries"])
    ordered = officer.get(path + "?order=normalized")
    return {"size": size, "median": median(times), "p95": percentile(times, 0.95), "queries": sorted(queries),
            "normalized_status": ordered.status_code}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--sizes", default="500,5000", help="comma-separated numbers of applications")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"Ranking page, SQLite, {args.requests} requests after warm-up (Flask test client: server time); "
          f"load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-ranking-") as tmp:
        results = [measure(size, Path(tmp), args.requests) for size in sizes]
    print()
    print(f"{'applications':>12}  {'median ms':>9}  {'p95 ms':>7}  {'queries/request':>15}")
    for r in results:
        print(f"{r['size']:>12,}  {ms(r['median']):>9}  {ms(r['p95']):>7}  {', '.join(map(str, r['queries'])):>15}")
    small, large = results[0], results[-1]
    print()
    print(f"time ratio {large['size']:,} / {small['size']:,}: {large['median'] / small['median']:.2f}x "
          f"for {large['size'] / small['size']:.0f}x the applications")
    print(f"queries per request: {small['queries']} at {small['size']:,}, {large['queries']} at {large['size']:,} "
          f"({'equal' if small['queries'] == large['queries'] else 'DIFFERENT'})")
    verdict = "meets" if large["median"] * 1000 < TARGET_MS else "MISSES"
    print(f"target: median under {TARGET_MS} ms at {large['size']:,} — {verdict} ({ms(large['median']).strip()} ms)")


if __name__ == "__main__":
    main()
