"""Counted words: one form for one, the other for any other number, the number filled in."""

from grants import create_app
from grants.text import ngettext


def test_ngettext_picks_the_form_for_the_number_and_fills_it_in():
    assert ngettext("%(num)d assignment made.", "%(num)d assignments made.", 1) == "1 assignment made."
    assert ngettext("%(num)d assignment made.", "%(num)d assignments made.", 0) == "0 assignments made."
    assert ngettext("%(num)d assignment made.", "%(num)d assignments made.", 2) == "2 assignments made."
    assert ngettext("Sent %(num)d message; %(failed)d failed.", "Sent %(num)d messages; %(failed)d failed.", 1, failed=3) == \
        "Sent 1 message; 3 failed."


def test_templates_have_ngettext():
    app = create_app("testing", SQLALCHEMY_DATABASE_URI="sqlite://")
    with app.app_context():
        template = app.jinja_env.from_string('{{ ngettext("Approve %(num)d application", "Approve %(num)d applications", n) }}')
        assert [template.render(n=n) for n in (1, 3)] == ["Approve 1 application", "Approve 3 applications"]
