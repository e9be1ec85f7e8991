"""Throughput on PostgreSQL with 2 and 4 gunicorn workers (issue 10, "Throughput").

Creates its own database (``grants_bench`` on the server of BENCH_DATABASE_URL or
TEST_DATABASE_URL; never the test suite's), loads `grants demo-data --scale 5000`, then for each
worker count starts gunicorn (sync workers) on 127.0.0.1 and drives it from threads in this
process for a bounded time: first the program applications list and an award page (alternating,
signed in as the program officer), then /healthz, a trivial page of the same app, in the same run.
Prints requests per second and p95 latency for both and the ratio between them.

    .venv/bin/python bench/throughput.py [--seconds 20] [--workers 2,4] [--size 5000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

from benchlib import (HttpBrowser, Server, build_scale_database, flask_env, fresh_postgres_database, make_app, median,
                      percentile, scale_targets)


def drive(port: int, cookies: dict[str, str], paths: list[str], seconds: float, threads: int) -> dict:
    """``threads`` loops, each cycling through ``paths`` until the time is up; latencies per path."""
    deadline = time.perf_counter() + seconds
    results: list[tuple[str, float, int]] = []
    lock = threading.Lock()

    def loop(offset: int) -> None:
        browser = HttpBrowser(port)
        browser.cookies = dict(cookies)
        mine, index = [], offset
        while time.perf_counter() < deadline:
            path = paths[index % len(paths)]
            index += 1
            try:
                status, _, elapsed = browser.get(path)
            except OSError:
                status, elapsed = 0, 0.0
            mine.append((path, elapsed, status))
        with lock:
            results.extend(mine)

    started = time.perf_counter()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    wall = time.perf_counter() - started
    ok = [r for r in results if r[2] == 200]
    by_path = {path: [e for p, e, _ in ok if p == path] for path in paths}
    return {
        "requests": len(ok), "errors": len(results) - len(ok), "rps": len(ok) / wall,
        "p95": percentile([e for _, e, _ in ok], 0.95) if ok else float("nan"),
        "median": median([e for _, e, _ in ok]) if ok else float("nan"),
        "by_path": {p: (median(v), percentile(v, 0.95)) for p, v in by_path.items() if v},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", default="2,4")
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--threads-per-worker", type=int, default=2, help="client threads per gunicorn worker")
    args = parser.parse_args()
    url = fresh_postgres_database("grants_bench")
    if url is None:
        print("throughput.py needs PostgreSQL: set BENCH_DATABASE_URL (a database it may drop) or TEST_DATABASE_URL "
              "(only its server and role are used; the bench creates grants_bench).")
        return
    print(f"Throughput on PostgreSQL, N={args.size:,}; {args.seconds:.0f} s per phase; client threads = "
          f"{args.threads_per_worker} x workers, one new loopback connection per request; "
          f"{os.cpu_count()} CPUs, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory(prefix="bench-throughput-") as tmp:
        workdir = Path(tmp)
        build_scale_database(url, workdir, args.size)
        targets = scale_targets(make_app(url, workdir))
        pages = [f"/programs/{targets.program_id}/applications", f"/awards/{targets.award_id}"]
        rows = []
        for workers in [int(w) for w in args.workers.split(",")]:
            with Server(flask_env(url, workdir), workers=workers) as server:
                officer = HttpBrowser(server.port).login("officer@example.gov")
                for path in pages + ["/healthz"]:  # warm every worker's caches a little
                    for _ in range(workers * 2):
                        officer.get(path)
                threads = workers * args.threads_per_worker
                real = drive(server.port, officer.cookies, pages, args.seconds, threads)
                trivial = drive(server.port, {}, ["/healthz"], args.seconds, threads)
            rows.append((workers, threads, real, trivial))
            print(f"  {workers} workers: pages {real['rps']:.1f} req/s p95 {real['p95'] * 1000:.0f} ms "
                  f"({real['errors']} errors); /healthz {trivial['rps']:.1f} req/s p95 {trivial['p95'] * 1000:.0f} ms")
    print()
    print(f"{'workers':>7} {'threads':>7} | {'pages req/s':>11} {'p95 ms':>7} {'list p95':>8} {'award p95':>9} | "
          f"{'/healthz req/s':>14} {'p95 ms':>7} | {'healthz/pages':>13}")
    for workers, threads, real, trivial in rows:
        list_p95 = real["by_path"].get(pages[0], (0, float("nan")))[1]
        award_p95 = real["by_path"].get(pages[1], (0, float("nan")))[1]
        print(f"{workers:>7} {threads:>7} | {real['rps']:>11.1f} {real['p95'] * 1000:>7.0f} {list_p95 * 1000:>8.0f} "
              f"{award_p95 * 1000:>9.0f} | {trivial['rps']:>14.1f} {trivial['p95'] * 1000:>7.0f} | "
              f"{trivial['rps'] / real['rps']:>12.1f}x")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        print(f"\npages: {last[2]['rps'] / first[2]['rps']:.2f}x the requests per second with {last[0]} workers as with "
              f"{first[0]} (this machine has {os.cpu_count()} CPUs, shared with the client threads and PostgreSQL)")
    print(f"pages: {pages[0]} (program applications list) and {pages[1]} (award {targets.award_number}), signed in as the "
          "program officer; /healthz runs SELECT 1.")


if __name__ == "__main__":
    main()
