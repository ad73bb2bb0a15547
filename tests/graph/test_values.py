"""Durations in both the ISO form and the Python SDK's str(timedelta) form; offset datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openpim.graph.errors import GraphError
from openpim.graph.values import format_duration, iso, parse_datetime, parse_duration


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("PT1H", timedelta(hours=1)),
        ("pt30m", timedelta(minutes=30)),
        ("PT1.5H", timedelta(minutes=90)),
        ("P365D", timedelta(days=365)),
        ("P1W", timedelta(days=7)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("1:00:00", timedelta(hours=1)),
        ("0:05:00", timedelta(minutes=5)),
        ("2 days, 0:30:00", timedelta(days=2, minutes=30)),
        ("1 day, 0:00:00.500000", timedelta(days=1, microseconds=500000)),
    ],
)
def test_durations_in_iso_and_sdk_forms(text: str, value: timedelta) -> None:
    assert parse_duration(text, field="d") == value


@pytest.mark.parametrize(
    "text", ["P1Y", "P1M", "-PT1H", "-1 day, 23:00:00", "PT", "P", "1h", "90", "", "1:60"]
)
def test_durations_refused(text: str) -> None:
    with pytest.raises(GraphError) as caught:
        parse_duration(text, field="d")
    assert caught.value.code == "Request_BadRequest"


@given(st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3000)))
def test_the_sdk_form_of_any_duration_reads_back(value: timedelta) -> None:
    assert parse_duration(str(value), field="d") == value
    whole = timedelta(seconds=int(value.total_seconds()))
    assert parse_duration(format_duration(whole), field="d") == whole


def test_format_duration() -> None:
    assert format_duration(timedelta(hours=8)) == "PT8H"
    assert format_duration(timedelta(days=365)) == "P365D"
    assert format_duration(timedelta(days=1, minutes=30)) == "P1DT30M"
    assert format_duration(timedelta(0)) == "PT0S"


def test_datetimes_need_an_offset() -> None:
    assert parse_datetime("2026-01-05T10:00:00+01:00", field="t") == datetime(
        2026, 1, 5, 9, tzinfo=UTC
    )
    with pytest.raises(GraphError, match="UTC offset"):
        parse_datetime("2026-01-05T10:00:00", field="t")
    with pytest.raises(GraphError, match="not an ISO-8601"):
        parse_datetime("tomorrow", field="t")
    assert iso(datetime(2026, 1, 5, 9, tzinfo=UTC)) == "2026-01-05T09:00:00Z"
