"""The OData parser: examples of the subset, what it refuses, and properties over random input."""

from __future__ import annotations

import string
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openpim.graph.odata.errors import ODataError
from openpim.graph.odata.filter_parser import KEYWORDS, parse_filter
from openpim.graph.odata.filter_tree import BoolOp, Compare, Lit, Node, Prop, render_filter
from openpim.graph.odata.query_options import parse_options
from openpim.graph.odata.select_expand import Expand, parse_expand, parse_select

LIST = frozenset({"$filter", "$select", "$expand", "$top", "$count", "$skiptoken"})
GUID = uuid.UUID("62e90394-69f5-4237-9190-012177145e10")


def test_a_conjunction_of_comparisons_on_strings_guids_and_dates() -> None:
    node = parse_filter(
        "principalId eq '62e90394-69f5-4237-9190-012177145e10' and "
        "(status ne 'Revoked' or startDateTime ge 2026-01-05T09:00:00+01:00)"
    )
    assert node == BoolOp(
        "and",
        Compare("eq", Prop(("principalId",)), Lit("string", str(GUID))),
        BoolOp(
            "or",
            Compare("ne", Prop(("status",)), Lit("string", "Revoked")),
            Compare(
                "ge",
                Prop(("startDateTime",)),
                Lit("datetime", datetime(2026, 1, 5, 8, 0, tzinfo=UTC)),
            ),
        ),
    )


def test_literals_of_every_kind() -> None:
    def value(text: str) -> Lit:
        node = parse_filter(f"x eq {text}")
        assert isinstance(node, Compare)
        return node.value

    assert value(str(GUID)) == Lit("guid", GUID)
    assert value("'it''s'") == Lit("string", "it's")
    assert value("42") == Lit("int", 42)
    assert value("-7") == Lit("int", -7)
    assert value("true") == Lit("bool", True)
    assert value("false") == Lit("bool", False)
    assert value("null") == Lit("null", None)
    assert value("2026-01-05T09:00Z") == Lit("datetime", datetime(2026, 1, 5, 9, tzinfo=UTC))


def test_and_binds_tighter_than_or_and_a_value_may_stand_first() -> None:
    node = parse_filter("a eq 1 or b eq 2 and c eq 3")
    assert isinstance(node, BoolOp) and node.op == "or"
    assert isinstance(node.right, BoolOp) and node.right.op == "and"
    assert parse_filter("2026-01-05T09:00:00Z lt activityDateTime") == parse_filter(
        "activityDateTime gt 2026-01-05T09:00:00Z"
    )
    assert parse_filter("initiatedBy/user/id eq null") == Compare(
        "eq", Prop(("initiatedBy", "user", "id")), Lit("null", None)
    )


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("activityDateTime ge 2026-01-05T09:00:00", "no UTC offset"),
        ("activityDateTime ge 2026-01-05", "is a date"),
        ("startswith(displayName, 'Glo')", "not supported"),
        ("not (a eq 1)", "'not' operator is not supported"),
        ("a has 'x'", "'has' operator is not supported"),
        ("roles/any(r: r eq 'x')", "not supported"),
        ("a eq", "ends too early"),
        ("(a eq 1", "ends too early"),
        ("a eq 1)", "unexpected ')'"),
        ("a eq 1 b", "unexpected 'b'"),
        ("a eq b", "one property and one value"),
        ("1 eq 2", "one property and one value"),
        ("a eq 'open", "unexpected"),
        ("a ~ 1", "unexpected"),
        ("", "empty"),
    ],
)
def test_malformed_or_unsupported_filters_are_refused(text: str, says: str) -> None:
    with pytest.raises(ODataError) as caught:
        parse_filter(text)
    assert says in caught.value.message
    assert caught.value.status == 400


def test_limits_on_length_and_depth() -> None:
    with pytest.raises(ODataError, match="at most"):
        parse_filter("a eq 1 and " * 300 + "a eq 1")
    with pytest.raises(ODataError, match="nested deeper"):
        parse_filter("(" * 30 + "a eq 1" + ")" * 30)


def test_select_and_expand() -> None:
    assert parse_select("id, displayName,id") == ("id", "displayName")
    assert parse_expand("principal,roleDefinition($select=id,displayName)") == {
        "principal": Expand(),
        "roleDefinition": Expand(select=("id", "displayName")),
    }
    assert parse_expand("policy($expand=rules($select=id))") == {
        "policy": Expand(expand={"rules": Expand(select=("id",))})
    }
    for bad in ("*", "a(", "a)", "a($top=1)", "a($select)", "a b"):
        with pytest.raises(ODataError):
            parse_expand(bad)
    with pytest.raises(ODataError):
        parse_select("*")


def test_options_refuse_unknown_unsupported_and_repeated() -> None:
    opts = parse_options(
        [("$filter", "a eq 1"), ("$top", "5"), ("$count", "true"), ("$skiptoken", "abc")],
        allowed=LIST,
    )
    assert (opts.top, opts.count, opts.skiptoken) == (5, True, "abc")
    assert opts.raw == (("$filter", "a eq 1"), ("$top", "5"), ("$count", "true"))
    for params, says in (
        ([("$orderby", "x")], "$orderby is not supported"),
        ([("$search", "x")], "$search is not supported"),
        ([("$skip", "1")], "$skip is not supported"),
        ([("filter", "a eq 1")], "Unknown query option 'filter'"),
        ([("api-version", "1")], "Unknown query option"),
        ([("$top", "1"), ("$top", "2")], "more than once"),
        ([("$top", "0")], "$top must be"),
        ([("$top", "1000")], "$top must be"),
        ([("$top", "ten")], "$top must be"),
        ([("$count", "yes")], "$count must be"),
    ):
        with pytest.raises(ODataError) as caught:
            parse_options(params, allowed=LIST)
        assert says in caught.value.message, caught.value.message
    with pytest.raises(ODataError, match=r"\$expand is not supported here"):
        parse_options([("$expand", "principal")], allowed=LIST - {"$expand"})


# --- properties -----------------------------------------------------------------------------

_names = st.text(string.ascii_letters + "_", min_size=1, max_size=8).filter(
    lambda n: n not in KEYWORDS
)
props = st.lists(_names, min_size=1, max_size=3).map(lambda parts: Prop(tuple(parts)))
_zones = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
literals = st.one_of(
    st.text(st.characters(exclude_categories=["Cs"])).map(lambda s: Lit("string", s)),
    st.uuids().map(lambda u: Lit("guid", u)),
    st.datetimes(timezones=_zones).map(lambda d: Lit("datetime", d)),
    st.integers(min_value=-(10**12), max_value=10**12).map(lambda n: Lit("int", n)),
    st.booleans().map(lambda b: Lit("bool", b)),
    st.just(Lit("null", None)),
)
comparisons = st.builds(
    Compare, st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]), props, literals
)
trees: st.SearchStrategy[Node] = st.recursive(
    comparisons,
    lambda children: st.builds(BoolOp, st.sampled_from(["and", "or"]), children, children),
    max_leaves=12,
)


@given(trees)
@settings(max_examples=300, deadline=None)
def test_rendering_and_parsing_round_trip(node: Node) -> None:
    text = render_filter(node)
    assert parse_filter(text) == node
    assert render_filter(parse_filter(text)) == text


@given(st.text(max_size=120))
@settings(max_examples=400, deadline=None)
def test_any_text_either_parses_or_is_refused_cleanly(text: str) -> None:
    try:
        node = parse_filter(text)
    except ODataError as err:
        assert err.status == 400 and err.message
    else:
        assert parse_filter(render_filter(node)) == node


_tokens = st.sampled_from(
    [
        "a",
        "b/c",
        "eq",
        "ne",
        "gt",
        "and",
        "or",
        "not",
        "(",
        ")",
        "'x'",
        "''",
        "1",
        "-2",
        "true",
        "null",
        str(GUID),
        "2026-01-05T09:00:00Z",
        "2026-01-05",
        ",",
        "any(",
    ]
)


@given(st.lists(_tokens, max_size=14))
@settings(max_examples=400, deadline=None)
def test_near_miss_token_soup_is_parsed_or_refused_cleanly(parts: list[str]) -> None:
    try:
        parse_filter(" ".join(parts))
    except ODataError as err:
        assert err.code in ("BadRequest", "Request_UnsupportedQuery")


@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=40)), max_size=6))
@settings(max_examples=300, deadline=None)
def test_any_query_string_is_parsed_or_refused_cleanly(params: list[tuple[str, str]]) -> None:
    try:
        opts = parse_options(params, allowed=LIST)
    except ODataError as err:
        assert err.status == 400
    else:
        assert 1 <= opts.top <= 999
