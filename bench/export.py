"""The award ledger workbook against a raw openpyxl dump, and its peak memory (issue 6, "Speed and memory").

For 10,000 and 100,000 awards (3 payments each: 300,000 disbursements at the larger size, plus
about one amendment per five awards) it fills a temporary SQLite database with bulk inserts, then,
each in a fresh subprocess:
  * export — grants.exports.services.award_ledger_workbook (all programs), timed; its peak RSS;
  * raw    — the same sheets with the same number of rows and columns as plain values (read from
             the database before the clock starts), written by a bare write-only openpyxl
             workbook: the floor any export pays for serialising the cells.
Prints both times and export/raw (target ≤ 1.3), peak memory in MB (target < 200 MB) and its
growth from 10,000 to 100,000 awards (target < 1.5×).

    .venv/bin/python bench/export.py [--sizes 10000,100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from benchlib import REPO, make_app, sqlite_url

PAYMENTS_PER_AWARD = 3
RATIO_TARGET, MEMORY_TARGET_MB, GROWTH_TARGET = 1.3, 200, 1.5
COUNTIES = ["Cook", "DuPage", "Lake", "Will", "Kane", "McHenry", "Winnebago", "Madison", "St. Clair", "Champaign",
            "Sangamon", "Peoria", "McLean", "Rock Island", "Tazewell", "Kankakee", "Macon", "DeKalb", "Jackson", "Adams"]
PARTNER_TYPES = ["library", "transit", "faith_based", "business_improvement_district", "other_community_anchor"]


# Synthetic ledger data ----------------------------------------------------------------------------


def build_ledger_database(path: Path, awards: int, seed: int = 6) -> float:
    """Programs, organizations, applications with partners, awards, payments and amendments, in bulk."""
    import sqlalchemy as sa

    from grants.extensions import db
    from grants.models import Amendment, Application, Award, Disbursement, Organization, Partner, Program

    started = time.perf_counter()
    rng = random.Random(seed)
    app = make_app(sqlite_url(path), path.parent)
    now = datetime(2026, 11, 1, 15, tzinfo=timezone.utc)
    with app.app_context():
        db.create_all()
        connection = db.session.connection()

        def insert(model, rows):
            for start in range(0, len(rows), 50_000):
                connection.execute(sa.insert(model.__table__), rows[start:start + 50_000])

        programs = []
        for year in (2024, 2025, 2026):
            programs.append({
                "slug": f"ledger-{year}", "code": f"LG{year % 100}", "name": f"Responder Partnerships {year}", "description": "",
                "fiscal_year": year, "funding_source_code": "GF-4410-CRP", "total_budget_cents": 10**13,
                "award_floor_cents": 1_000_000, "award_ceiling_cents": 50_000_000, "match_percent": 10,
                "opens_at": now - timedelta(days=900), "closes_at": now - timedelta(days=800),
                "eligible_partner_types_csv": ",".join(PARTNER_TYPES), "reviewers_per_application": 3,
                "score_spread_threshold": 25, "review_deadline": None, "share_reviewer_comments": False, "status": "closed",
                "rubric_frozen_at": None, "last_application_number": 0, "last_award_number": 0, "created_at": now,
            })
        insert(Program, programs)
        program_ids = list(db.session.scalars(sa.select(Program.id).order_by(Program.id)))
        organizations = max(10, awards // 3)
        insert(Organization, [{
            "legal_name": f"Responder Organization {i:06d}" if i % 97 else f"=HYPERLINK(\"http://example.com\",\"{i}\")",
            "ein": f"{20 + i // 10_000_000:02d}-{i % 10_000_000:07d}", "uei": f"UEI{i:09d}" if i % 3 else None,
            "org_type": "nonprofit", "county": COUNTIES[i % len(COUNTIES)], "address_line1": f"{i} Main St", "address_line2": None,
            "city": "Springfield", "state": "IL", "postal_code": "62701", "contact_name": "Pat Contact",
            "contact_email": "contact@example.org", "contact_phone": None, "created_at": now,
        } for i in range(organizations)])
        org_ids = list(db.session.scalars(sa.select(Organization.id).order_by(Organization.id)))
        insert(Application, [{
            "reference": f"LG-{i:07d}", "program_id": program_ids[i % 3], "organization_id": org_ids[i % organizations],
            "status": "awarded", "title": f"Community responder partnership {i}", "summary": "", "need": "", "approach": "",
            "counties_served": COUNTIES[i % len(COUNTIES)], "awareness_component": True, "awareness_plan": "",
            "expected_outcomes": "", "requested_cents": 0, "match_cents": None, "approved_cents": None,
            "created_at": now, "updated_at": now, "created_by_id": None, "submitted_at": now, "submitted_by_id": None,
            "extension_until": None, "extension_reason": None, "screened_at": now, "ineligible_reason": None,
            "withdrawn_at": None, "withdrawn_reason": None,
        } for i in range(awards)])
        application_ids = list(db.session.scalars(sa.select(Application.id).order_by(Application.id)))
        partners = []
        for i, application_id in enumerate(application_ids):
            for k in range(1 + i % 2):
                kind = PARTNER_TYPES[(i + k) % len(PARTNER_TYPES)]
                partners.append({"application_id": application_id, "partner_type": kind, "name": f"{kind.title()} partner {i % 500}",
                                 "contact_name": "Partner Director", "contact_email": "director@example.org", "role": "Hosts responders."})
        insert(Partner, partners)
        award_rows, amounts = [], []
        for i, application_id in enumerate(application_ids):
            amount = rng.randrange(2_500_000, 30_000_000, 10_000)
            start = date(2024 + i % 3, 1 + i % 12, 1)
            amounts.append(amount)
            award_rows.append({
                "award_number": f"LG-{2024 + i % 3}-A{i:07d}", "application_id": application_id, "program_id": program_ids[i % 3],
                "amount_cents": amount, "original_cents": amount, "start_date": start, "end_date": start + timedelta(days=729),
                "status": "active" if i % 4 else "closed", "agreement_signed_on": start, "conditions": "",
                "termination_reason": None, "closed_at": None, "created_at": now - timedelta(days=i % 700), "created_by_id": None,
            })
        insert(Award, award_rows)
        award_ids = list(db.session.scalars(sa.select(Award.id).order_by(Award.id)))
        payments, amendments = [], []
        for i, (award_id, amount) in enumerate(zip(award_ids, amounts)):
            start = award_rows[i]["start_date"]
            for k in range(PAYMENTS_PER_AWARD):
                status = "paid" if k < 2 else ("approved", "requested", "paid", "void")[i % 4]
                requested_on = start + timedelta(days=45 + 91 * k)
                payments.append({
                    "award_id": award_id, "amount_cents": amount // 4, "status": status, "requested_on": requested_on,
                    "period_start": None, "period_end": None, "description": f"Quarterly reimbursement {k + 1}",
                    "requested_by_id": None, "from_grantee_request": bool(k % 2), "approved_at": None, "approved_by_id": None,
                    "finance_comment": "", "paid_on": requested_on + timedelta(days=10) if status == "paid" else None,
                    "payment_reference": f"EFT-{i:07d}-{k}" if status == "paid" else None, "void_reason": None,
                    "voided_at": None, "created_at": now,
                })
            if i % 5 == 0:
                amendments.append({"award_id": award_id, "number": 1, "amount_delta_cents": 0,
                                   "new_end_date": start + timedelta(days=910), "reason": "No-cost extension.",
                                   "is_closeout": False, "created_at": now, "created_by_id": None})
        insert(Disbursement, payments)
        insert(Amendment, amendments)
        db.session.commit()
        db.engine.dispose()
    return time.perf_counter() - started


# The two children -----------------------------------------------------------------------------


def child_export(db_path: str, out: str) -> dict:
    from grants.exports.services import LedgerFilters, award_ledger_workbook

    app = make_app(sqlite_url(Path(db_path)), Path(db_path).parent)
    with app.app_context():
        rss_before = _rss_mb("VmRSS")
        started, cpu = time.perf_counter(), time.process_time()
        counts = award_ledger_workbook(out, filters=LedgerFilters(), generated_by="bench/export.py")
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": elapsed, "cpu": cpu, "peak_mb": _rss_mb(), "start_mb": rss_before,
            "rows": {"awards": counts.awards, "disbursements": counts.disbursements, "amendments": counts.amendments}}


MONEY_COLUMNS = {"Awards": range(14, 20), "Disbursements": (4,), "Amendments": (3,)}


def child_raw(db_path: str, out: str, money_format: bool = False) -> dict:
    """The same three data sheets, same rows × columns, plain values, bare write-only openpyxl.

    With ``money_format``, the money columns go through one reused cell with the export's currency
    format: what the formatting the ledger must have costs in openpyxl alone.
    """
    import sqlite3

    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    from grants.exports.sheets import MONEY_FORMAT

    connection = sqlite3.connect(db_path)
    awards = connection.execute(
        "SELECT a.award_number, p.name, p.fiscal_year, p.funding_source_code, o.legal_name, o.ein, o.uei, o.county,"
        " 'Public library, Transit system', 'Partner A; Partner B', a.start_date, a.start_date, a.end_date, a.status,"
        " a.original_cents / 100.0, 0.0, a.amount_cents / 100.0, 0.0, 0.0, a.amount_cents / 100.0, a.start_date"
        " FROM award a JOIN program p ON p.id = a.program_id JOIN application ap ON ap.id = a.application_id"
        " JOIN organization o ON o.id = ap.organization_id ORDER BY a.award_number").fetchall()
    payments = connection.execute(
        "SELECT a.award_number, 'Recipient', d.requested_on, d.status, d.amount_cents / 100.0, d.paid_on, d.payment_reference,"
        " d.description FROM disbursement d JOIN award a ON a.id = d.award_id ORDER BY a.award_number, d.id").fetchall()
    amendments = connection.execute(
        "SELECT a.award_number, m.number, m.created_at, m.amount_delta_cents / 100.0, m.new_end_date, 'No', m.reason"
        " FROM amendment m JOIN award a ON a.id = m.award_id ORDER BY a.award_number, m.number").fetchall()
    connection.close()

    def as_date(text):
        return date.fromisoformat(text[:10]) if text else None

    # Dates as dates, like the export (converted before the clock starts, as plain values).
    awards = [r[:10] + (as_date(r[10]), as_date(r[11]), as_date(r[12])) + r[13:20] + (as_date(r[20]),) for r in awards]
    payments = [(r[0], r[1], as_date(r[2]), r[3], r[4], as_date(r[5]), r[6], r[7]) for r in payments]
    amendments = [(r[0], r[1], as_date(r[2]), r[3], as_date(r[4]), r[5], r[6]) for r in amendments]
    rss_before = _rss_mb("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    workbook = Workbook(write_only=True)
    for title, rows, width in (("Awards", awards, 21), ("Disbursements", payments, 8), ("Amendments", amendments, 7)):
        sheet = workbook.create_sheet(title)
        sheet.append([f"Column {i}" for i in range(width)])
        if not money_format:
            for row in rows:
                sheet.append(row)
            continue
        cells = {i: WriteOnlyCell(sheet) for i in MONEY_COLUMNS[title]}
        for cell in cells.values():
            cell.number_format = MONEY_FORMAT
        for row in rows:
            row = list(row)
            for i, cell in cells.items():
                cell.value = row[i]
                row[i] = cell
            sheet.append(row)
    workbook.save(out)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"seconds": elapsed, "cpu": cpu, "peak_mb": _rss_mb(), "start_mb": rss_before,
            "rows": {"awards": len(awards), "disbursements": len(payments), "amendments": len(amendments)}}


def _rss_mb(field: str = "VmHWM") -> float:
    """This process's peak (VmHWM) or current (VmRSS) resident memory in MB.

    Not ru_maxrss: Linux carries the parent's high-water mark across fork and exec into it.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(kind: str, db_path: Path, out: Path) -> dict:
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", kind, str(db_path), str(out)],
                            cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{kind} child failed:\n{result.stdout}\n{result.stderr}")
    report = json.loads(result.stdout.strip().splitlines()[-1])
    report["file_mb"] = out.stat().st_size / 1024 / 1024
    return report


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, db_path, out = sys.argv[2:5]
        if kind == "export":
            print(json.dumps(child_export(db_path, out)))
        else:
            print(json.dumps(child_raw(db_path, out, money_format=kind == "styled")))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        for size in sizes:
            db_path = Path(tmp) / f"ledger-{size}.db"
            seconds = build_ledger_database(db_path, size)
            print(f"built {size:,} awards, {size * PAYMENTS_PER_AWARD:,} disbursements in {seconds:.1f} s")
            raw = run_child("raw", db_path, Path(tmp) / f"raw-{size}.xlsx")
            styled = run_child("styled", db_path, Path(tmp) / f"styled-{size}.xlsx")
            export = run_child("export", db_path, Path(tmp) / f"ledger-{size}.xlsx")
            assert raw["rows"] == export["rows"] == styled["rows"], (raw["rows"], export["rows"])
            results.append((size, export, raw, styled))
            print(f"  rows {export['rows']}; export file {export['file_mb']:.1f} MB")
    print()
    print(f"{'awards':>8} {'export s':>9} {'raw s':>7} {'ratio':>6} {'export cpu s':>12} {'raw cpu s':>10} {'cpu ratio':>9} "
          f"{'export peak MB':>15} {'at start MB':>11}")
    for size, export, raw, _ in results:
        print(f"{size:>8,} {export['seconds']:>9.2f} {raw['seconds']:>7.2f} {export['seconds'] / raw['seconds']:>6.2f} "
              f"{export['cpu']:>12.2f} {raw['cpu']:>10.2f} {export['cpu'] / raw['cpu']:>9.2f} "
              f"{export['peak_mb']:>15.0f} {export['start_mb']:>11.0f}")
    (small_size, small, _, _), (large_size, large, large_raw, large_styled) = results[0], results[-1]
    ratio, cpu_ratio = large["seconds"] / large_raw["seconds"], large["cpu"] / large_raw["cpu"]
    growth = large["peak_mb"] / small["peak_mb"]
    print()
    print(f"time ratio export/raw at {large_size:,}: {ratio:.2f} wall, {cpu_ratio:.2f} CPU (target ≤ {RATIO_TARGET}) — "
          f"{'meets' if max(ratio, cpu_ratio) <= RATIO_TARGET else 'MISSES' if min(ratio, cpu_ratio) > RATIO_TARGET else 'borderline'}")
    print(f"reference: the raw dump with the ledger's currency format on its money columns took {large_styled['cpu']:.2f} s CPU "
          f"({large_styled['cpu'] / large_raw['cpu']:.2f}x raw); export/that = {large['cpu'] / large_styled['cpu']:.2f}")
    print(f"peak memory of the export process at {large_size:,}: {large['peak_mb']:.0f} MB (target < {MEMORY_TARGET_MB} MB) — "
          f"{'meets' if large['peak_mb'] < MEMORY_TARGET_MB else 'MISSES'}")
    print(f"memory growth {small_size:,} → {large_size:,}: {growth:.2f}x (target < {GROWTH_TARGET}x) — "
          f"{'meets' if growth < GROWTH_TARGET else 'MISSES'}")
    print("(peak = VmHWM of the export subprocess, Python and the app included; CPU = time.process_time of the export "
          f"call, steadier than wall time on a shared machine; load average now {', '.join(f'{x:.2f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
