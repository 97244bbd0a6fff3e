"""How the review list of conflicts shows a stored value, and reads a value typed there."""

from __future__ import annotations

import pytest

from outreach_app.errors import ValidationFailed
from outreach_app.services.conflicts import typed_value, value_text
from shared.kinds import PERSON, PLAN_ACTION, RELEASE_PLAN


def test_stored_values_read_in_plain_words() -> None:
    release = PERSON.fields["release_at"]
    assert value_text(release, "2026-12-04T11:30") == "Fri 04 Dec 2026, 11:30"
    assert value_text(release, "2026-12-04") == "Fri 04 Dec 2026, time not confirmed"
    assert value_text(PERSON.fields["mappa"], "level_2") == "Level 2"
    assert value_text(PLAN_ACTION.fields["due_on"], "2026-12-07") == "Mon 07 Dec 2026"
    assert value_text(RELEASE_PLAN.fields["gp"], True) == "Yes"
    assert value_text(RELEASE_PLAN.fields["gp"], False) == "No"
    assert value_text(PERSON.fields["name"], "Jade Porter") == "Jade Porter"


def test_typed_values_are_stored_as_the_field_keeps_them() -> None:
    release = PERSON.fields["release_at"]
    assert typed_value(release, " 2026-12-04 11:30 ") == "2026-12-04T11:30"
    assert typed_value(release, "2026-12-04") == "2026-12-04"
    assert typed_value(PERSON.fields["mappa"], "level 3") == "level_3"
    assert typed_value(PERSON.fields["mappa"], "level_1") == "level_1"
    assert typed_value(RELEASE_PLAN.fields["gp"], "Yes") is True
    assert typed_value(RELEASE_PLAN.fields["gp"], "no") is False
    with pytest.raises(ValidationFailed, match="must be a date"):
        typed_value(release, "next Friday")
    with pytest.raises(ValidationFailed, match="type yes or no"):
        typed_value(RELEASE_PLAN.fields["gp"], "maybe")
    with pytest.raises(ValidationFailed, match="MAPPA: type one of Not MAPPA, Level 1"):
        typed_value(PERSON.fields["mappa"], "Level 9")
