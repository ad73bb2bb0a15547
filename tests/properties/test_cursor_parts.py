"""A cursor comes back from the client: its parts parse to storable values or to ValueError."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openpim.kit.pagination import cursor_instant, cursor_number

INT64_MAX = 2**63 - 1


@given(st.text(max_size=30) | st.integers().map(str))
def test_a_cursor_number_is_a_64_bit_whole_number_or_a_value_error(text: str) -> None:
    try:
        number = cursor_number(text)
    except ValueError:
        return
    assert 0 <= number <= INT64_MAX and text.isascii()


@given(st.text(max_size=40) | st.datetimes(timezones=st.timezones()).map(datetime.isoformat))
def test_a_cursor_instant_is_an_instant_in_utc_or_a_value_error(text: str) -> None:
    try:
        instant = cursor_instant(text)
    except ValueError:
        return
    assert instant.tzinfo is UTC


@pytest.mark.parametrize(
    "text", ["\u00b2", "\u0663", "-1", " 1", "1.0", str(INT64_MAX + 1), "", "0x10"]
)
def test_what_is_not_a_cursor_number(text: str) -> None:
    with pytest.raises(ValueError):
        cursor_number(text)
    assert cursor_number(str(INT64_MAX)) == INT64_MAX
    with pytest.raises(ValueError):
        cursor_number("0", minimum=1)


@pytest.mark.parametrize(
    "text",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00", "2026-01-05T09:00:00", "x"],
)
def test_what_is_not_a_cursor_instant(text: str) -> None:
    with pytest.raises(ValueError):
        cursor_instant(text)
