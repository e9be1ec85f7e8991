"""Review mathematics on a hand-computed example (DESIGN.md, "Review mathematics").

Rubric: C1 max 10 weight 1, C2 max 20 weight 3, so total = 2.5·p1 + 3.75·p2.
R1 reviews A, B, C with totals 80, 60, 40 (mean 60, population SD √(800/3) = 16.3299);
R2 reviews A, B, D with 50 each (no spread: left unscaled); R3 reviews only C with 70 (one
review: left unscaled) and declares a conflict on D (recused: counts nowhere).
All seven totals: mean 400/7 = 57.142857, population SD √(24000/7 − (400/7)²) = 12.777531.
"""

import math

import pytest

from grants.extensions import db
from grants.reviews import services as reviews
from tests import factories

POINTS = {80: [8, 16], 60: [6, 12], 40: [4, 8], 50: [5, 10], 70: [7, 14]}
P_MEAN = 400 / 7
P_SD = math.sqrt(24000 / 7 - P_MEAN**2)
R1_SD = math.sqrt(800 / 3)


def _norm_r1(x):
    return P_MEAN + (x - 60) / R1_SD * P_SD


@pytest.fixture
def scored(app):
    officer = factories.make_user(roles={"program_officer"})
    program = factories.make_program(officer=officer, status="draft", criteria=0, reviewers_per_application=2, score_spread_threshold=25)
    from grants.programs import services as programs

    programs.add_criterion(actor=officer, program=program, name="C1", guidance="", max_points=10, weight=1)
    programs.add_criterion(actor=officer, program=program, name="C2", guidance="", max_points=20, weight=3)
    programs.change_program_status(actor=officer, program=program, status="published")
    member = factories.make_user()
    apps = {}
    for key in "ABCD":
        organization = factories.make_organization(members=[member], legal_name=f"Applicant {key}")
        apps[key] = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer)
    r1, r2, r3 = (factories.make_user(name=f"R{i}", roles={"reviewer"}) for i in (1, 2, 3))
    for key, total in (("A", 80), ("B", 60), ("C", 40)):
        factories.review(officer=officer, application=apps[key], reviewer=r1, points=POINTS[total])
    for key in "ABD":
        factories.review(officer=officer, application=apps[key], reviewer=r2, points=POINTS[50], recommendation="do_not_fund")
    factories.review(officer=officer, application=apps["C"], reviewer=r3, points=POINTS[70], recommendation="fund")
    factories.review(officer=officer, application=apps["D"], reviewer=r3, points=None, conflicted=True)
    db.session.commit()
    return program, apps, (r1, r2, r3)


def test_review_total_is_weighted_and_scaled_to_100(scored):
    program, apps, _ = scored
    criteria = program.criteria
    assert reviews.review_total({criteria[0].id: 8, criteria[1].id: 16}, criteria) == pytest.approx(80)
    assert reviews.review_total({criteria[0].id: 10, criteria[1].id: 20}, criteria) == pytest.approx(100)
    assert reviews.review_total({criteria[0].id: 10, criteria[1].id: 0}, criteria) == pytest.approx(25)


def test_ranking_statistics_match_the_hand_computation(scored):
    program, apps, _ = scored
    rows = {r.reference: r for r in reviews.ranking(program)}
    a, b, c, d = (rows[apps[k].reference] for k in "ABCD")
    assert (a.reviews, b.reviews, c.reviews, d.reviews) == (2, 2, 2, 1)  # the recused review counts nowhere
    assert a.raw_mean == pytest.approx(65) and a.median == pytest.approx(65) and a.stdev == pytest.approx(15)
    assert (a.minimum, a.maximum) == (pytest.approx(50), pytest.approx(80))
    assert a.normalized_mean == pytest.approx((_norm_r1(80) + 50) / 2)
    assert b.normalized_mean == pytest.approx((P_MEAN + 50) / 2)  # R1's mean maps onto the program mean
    assert c.raw_mean == pytest.approx(55)
    assert c.normalized_mean == pytest.approx((_norm_r1(40) + 70) / 2)  # R3 (one review) stays raw
    assert d.raw_mean == pytest.approx(50) and d.normalized_mean == pytest.approx(50)  # R2 (no spread) stays raw
    assert d.stdev == pytest.approx(0)


def test_flags_for_few_reviews_spread_and_contradictions(scored):
    program, apps, _ = scored
    rows = {r.reference: r for r in reviews.ranking(program)}
    a, b, c, d = (rows[apps[k].reference] for k in "ABCD")
    assert any("spread 30.0" in f for f in a.flags) and any("spread" in f for f in c.flags)
    assert not any("spread" in f for f in b.flags)
    assert any("Too few reviews (1 of 2)" in f for f in d.flags)
    # R1 recommended "fund" for C at 40 (< 50): a contradiction; R2's do-not-fund at 50 is not.
    assert any("contradicts" in f for f in c.flags)
    assert not any("contradicts" in f for f in b.flags)


def test_ranking_orders_by_raw_or_normalized(scored):
    program, apps, _ = scored
    raw = [r.reference for r in reviews.ranking(program, "raw")]
    normalized = [r.reference for r in reviews.ranking(program, "normalized")]
    assert raw[0] == apps["A"].reference
    # Raw: B and C tie at 55 (reference order); normalized: C (55.75) above B (53.57).
    assert raw.index(apps["B"].reference) < raw.index(apps["C"].reference)
    assert normalized.index(apps["C"].reference) < normalized.index(apps["B"].reference)


def test_calibration_per_reviewer_and_program(scored):
    program, _, (r1, r2, r3) = scored
    per_reviewer, overall = reviews.calibration(program)
    by_name = {c.name: c for c in per_reviewer}
    assert by_name["R1"].reviews == 3 and by_name["R1"].mean == pytest.approx(60) and by_name["R1"].stdev == pytest.approx(R1_SD)
    assert by_name["R2"].stdev == pytest.approx(0)
    assert by_name["R3"].reviews == 1
    assert overall.reviews == 7 and overall.mean == pytest.approx(P_MEAN) and overall.stdev == pytest.approx(P_SD)


def test_funding_line_walks_the_ranking_and_can_reserve_partner_types(scored, make_client):
    program, apps, (r1, r2, r3) = scored
    each = apps["A"].requested_cents
    for app in apps.values():
        assert app.requested_cents == each  # factories give equal requests
    program.total_budget_cents = each * 2 + 1
    db.session.commit()
    line = reviews.funding_line(program)
    funded = [row.ranked.reference for row in line.rows if row.funded]
    assert funded == [apps["A"].reference, apps["B"].reference]
    assert line.rows[1].cumulative_cents == each * 2
    assert line.above_line == 2
    assert [row.funded_by for row in line.rows] == ["rank", "rank", None, None]

    # Two faith-based applications rank last (40 each, E before F by reference): E asks for more
    # than the budget, F for the floor. Every application so far has library and transit partners.
    officer = factories.make_user(roles={"program_officer"})
    member = factories.make_user()
    for key, requested in (("E", each * 3), ("F", program.award_floor_cents)):
        organization = factories.make_organization(members=[member], legal_name=f"Applicant {key}")
        apps[key] = factories.make_eligible_application(program=program, organization=organization, actor=member, officer=officer,
                                                        partners=("faith_based",), requested_cents=requested)
        factories.review(officer=officer, application=apps[key], reviewer=r3, points=POINTS[40])
    db.session.commit()
    assert reviews.funding_line(program).above_line == 2  # without the reserve, nothing changes

    line = reviews.funding_line(program, reserve_partner_types=True)
    rows = {row.ranked.reference: row for row in line.rows}
    assert [row.ranked.reference for row in line.rows] == [apps[k].reference for k in "ABCDEF"]
    # Library (and transit): A, the best-ranked of both, is reserved. Faith-based: E, its best, does
    # not fit, so F, the next faith-based application, is reserved in its place. Then the walk in
    # rank order funds nothing more: B no longer fits, and the line falls right below A.
    assert [k for k in "ABCDEF" if rows[apps[k].reference].funded] == ["A", "F"]
    assert line.above_line == 1
    assert rows[apps["A"].reference].funded_by == "reserve" and "Public library" in rows[apps["A"].reference].reason
    assert rows[apps["F"].reference].funded_by == "reserve" and "Faith-based organization" in rows[apps["F"].reference].reason
    assert rows[apps["B"].reference].reason == "Below the line" and not rows[apps["E"].reference].funded
    assert rows[apps["F"].reference].cumulative_cents == each + program.award_floor_cents == line.funded_cents

    # On the page the line sits right below A: B to F come after it, F marked funded.
    page = make_client(officer).get(f"/programs/{program.id}/funding-line?reserve=y").get_data(as_text=True)
    above, below = page.split('id="funding-line"')
    assert apps["A"].reference in above and all(apps[k].reference not in above for k in "BCDEF")
    f_row = below.split(apps["F"].reference)[1].split("</tr>")[0]
    assert "Funded</strong>: Reserved: best-ranked with a partner of type Faith-based organization" in f_row
    assert "2 of 6 applications fit" in page

    # Nothing changed: the funding line is a preview.
    db.session.refresh(apps["A"])
    assert apps["A"].status == "under_review"
