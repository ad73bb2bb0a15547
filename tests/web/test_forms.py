"""The portal's form parsing (web/forms.py) on its own, without pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openpim.kit.errors import ValidationFailed
from openpim.web import forms


def test_a_local_time_is_read_in_the_browsers_zone() -> None:
    # static/app.js sends minutes east of UTC: 09:30 in UTC+01:00 is 08:30 UTC.
    assert forms.local_datetime("2026-01-05T09:30", "60", "end_at") == datetime(
        2026, 1, 5, 8, 30, tzinfo=UTC
    )
    assert forms.local_datetime("2026-01-05T09:30", None, "end_at") == datetime(
        2026, 1, 5, 9, 30, tzinfo=UTC
    )
    assert forms.local_datetime("2026-01-05T09:30", "99999", "end_at") == datetime(
        2026, 1, 5, 9, 30, tzinfo=UTC
    ), "an offset no zone has is ignored, as the form says"
    assert forms.local_datetime("", "60", "end_at") is None


@pytest.mark.parametrize(
    ("value", "offset"),
    [
        ("0001-01-01T00:00", "60"),  # an hour east of UTC: before year 1 in UTC
        ("9999-12-31T23:59", "-60"),
        ("0001-01-01T00:00:00+14:00", None),
        ("9999-12-31T23:59:59-12:00", None),
    ],
)
def test_a_time_outside_the_years_1_to_9999_in_utc_is_the_fields_error(
    value: str, offset: str | None
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        forms.local_datetime(value, offset, "start_at")
    assert refused.value.code == "instant_out_of_range"
    assert refused.value.field == "start_at"


def test_text_that_is_not_a_time_is_the_fields_error() -> None:
    with pytest.raises(ValidationFailed) as refused:
        forms.local_datetime("next tuesday", None, "end_at")
    assert refused.value.code == "invalid_datetime" and refused.value.field == "end_at"
