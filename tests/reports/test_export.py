"""The streaming writers: CSV cells a spreadsheet would run are neutralised; JSON is valid."""

from __future__ import annotations

import csv
import io
import json

from openpim.reports.export import to_csv, to_json


def test_csv_neutralises_formulas_in_free_text_only() -> None:
    batches = [[{"user": "=cmd()", "n": -5, "note": None}], [{"user": "ann", "n": 3, "note": "+x"}]]
    text = "".join(to_csv(["user", "n", "note"], batches, free_text=["user"]))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows == [
        {"user": "'=cmd()", "n": "-5", "note": ""},
        {"user": "ann", "n": "3", "note": "+x"},
    ]
    everything = "".join(to_csv(["user", "note"], [[{"user": "@x", "note": "-y"}]]))
    assert list(csv.DictReader(io.StringIO(everything))) == [{"user": "'@x", "note": "'-y"}]


def test_json_is_one_valid_array_whatever_the_batches() -> None:
    assert json.loads("".join(to_json([]))) == []
    assert json.loads("".join(to_json([[], [{"a": 1}], [], [{"a": 2}, {"a": 3}]]))) == [
        {"a": 1},
        {"a": 2},
        {"a": 3},
    ]
