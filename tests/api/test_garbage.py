"""No client input produces a 500: garbage to every route, answered with a 4xx problem."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.helpers import Api, assert_problem, bearer
from tests.api.routes import API_ROUTES, FUTURE, RouteInfo, concrete_path, sample_body
from tests.api.test_access_matrix import make_world

BODY_ROUTES = [r for r in API_ROUTES if r.has_body]
PATH_ROUTES = [r for r in API_ROUTES if "_id}" in r.path]
GET_ROUTES = [r for r in API_ROUTES if r.method == "GET"]

HUGE = "x" * 200_000
BAD_DOCUMENTS = [b"{not json", b'{"a": ', b"\xff\xfe", b"[]", b'"text"', b"12", b"true"]
# Values wrong for any field: wrong JSON types, and text no database column may hold.
ANY_FIELD = [
    HUGE,
    {"nested": {"deep": [1, 2]}},
    [HUGE],
    1e308,
    float("nan"),  # json.dumps writes NaN and Infinity, which Python's parser reads back
    float("-inf"),
    10**30,
    -(2**63) - 1,
    "a\u0000b",
    "\ud800",
]
UUID_FIELD = ["not-a-uuid", "", "00000000-0000-0000-0000-00000000000g", 123, True]
TIME_FIELD = [
    "2026-01-05T09:00:00",  # naive: its zone would be a guess
    "9999-12-31T23:59:59Z",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+14:00",  # before year 1 in UTC
    "9999-12-31T23:59:59-12:00",  # after year 9999 in UTC
    "2026-02-30T00:00:00Z",
    "yesterday",
    -1,
]
DURATION_FIELD = ["-PT1H", "PT0S", "P999999999D", "1 hour", "PT", -3600, 10**30]


LATER = "2026-04-01T00:00:00Z"
# Optional fields (valid values) added to the sample so their garbage is tried too.
OPTIONAL_FIELDS: dict[str, dict[str, Any]] = {
    "POST /api/v1/auth/sign-in": {"totp_code": "123456", "directory_id": str(uuid.uuid4())},
    "POST /api/v1/auth/tokens": {"expires_at": FUTURE},
    "POST /api/v1/me/activations": {
        "start_at": FUTURE,
        "ticket_number": "T-1",
        "ticket_system": "jira",
        "totp_code": "123456",
    },
    "POST /api/v1/me/deactivations": {"justification": "done"},
    "POST /api/v1/me/extensions": {"end_at": LATER, "member_type": "Eligible"},
    "POST /api/v1/me/renewals": {"end_at": LATER, "member_type": "Active"},
    "POST /api/v1/assignments": {
        "member_type": "Active",
        "start_at": FUTURE,
        "end_at": LATER,
        "ticket_number": "T-1",
        "ticket_system": "jira",
        "totp_code": "123456",
    },
    "POST /api/v1/assignments/update": {"start_at": FUTURE, "justification": "x"},
    "POST /api/v1/assignments/extend": {"justification": "x"},
    "PATCH /api/v1/roles/{role_id}": {"description": "d"},
    "PATCH /api/v1/roles/{role_id}/settings": {
        "activation_max_duration": "PT2H",
        "require_mfa_on_activation": True,
        "require_approval_on_activation": True,
        "approver_ids": [],
        "notify_extra_recipients": ["a@b.example"],
        "eligible_max_days": 30,
        "active_allow_permanent": False,
        "active_max_days": 30,
    },
}


# Well-formed after all: lax pydantic reads "12" as 12 and -1 as a Unix time for an instant.
PLAUSIBLE = [None, True, 2, 0, -1, "12", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"]


def field_garbage(name: str, value: Any) -> list[Any]:
    if name.endswith("_id") or name == "principal_id":
        return UUID_FIELD + ANY_FIELD
    if name.endswith("_at"):
        return TIME_FIELD + ANY_FIELD
    if name in ("duration", "activation_max_duration"):
        return DURATION_FIELD + ANY_FIELD
    if isinstance(value, bool):
        return ["maybe", 2, None, *ANY_FIELD]
    if isinstance(value, list):
        return [[{"principal_id": "x"}], ["x"] * 2000, [HUGE[:300]], "x", *ANY_FIELD]
    if isinstance(value, int):
        return [-1, 0, 10**12, 2**63, "12", 1.5, None, *ANY_FIELD]
    return [None, 42, *ANY_FIELD]


def admin_setup(api: Api) -> tuple[Any, str]:
    world, admin, _ = make_world(api.env)
    return world, api.token(admin)


def assert_4xx_problem(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert_problem(response, response.status_code)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.id)
def test_malformed_documents_are_4xx_problems(api: Api, route: RouteInfo) -> None:
    world, token = admin_setup(api)
    path = concrete_path(route, world)
    headers = {**bearer(token), "Content-Type": "application/json"}
    for document in BAD_DOCUMENTS:
        response = api.client.request(route.method, path, headers=headers, content=document)
        assert_4xx_problem(response)


@pytest.mark.parametrize("route", BODY_ROUTES, ids=lambda r: r.id)
def test_garbage_in_any_field_is_a_4xx_problem(api: Api, route: RouteInfo) -> None:
    world, token = admin_setup(api)
    path = concrete_path(route, world)
    sample = {**sample_body(route, world), **OPTIONAL_FIELDS.get(route.id, {})}
    for name, value in sample.items():
        for bad in field_garbage(name, value):
            body = {**sample, name: bad}
            response = api.client.request(
                route.method,
                path,
                headers={**bearer(token), "Content-Type": "application/json"},
                content=json.dumps(body).encode(),
            )
            assert response.status_code < 500, (name, repr(bad)[:80], response.text[:300])
            if response.status_code >= 400:
                assert_problem(response, response.status_code)
            else:
                # Only values of the field's own type may pass: a bool for a bool field, an
                # extreme but well-formed instant for a time field.
                assert bad in PLAUSIBLE, (name, repr(bad)[:80])
    unknown = api.client.request(
        route.method, path, headers=bearer(token), json={**sample, "is_admin": True}
    )
    assert unknown.status_code < 500


@pytest.mark.parametrize("route", PATH_ROUTES, ids=lambda r: r.id)
def test_invalid_ids_in_the_path_are_422(api: Api, route: RouteInfo) -> None:
    world, token = admin_setup(api)
    sample = sample_body(route, world)
    for bad in ("not-a-uuid", "1", "%2e%2e", "x" * 5000):
        path = concrete_path(route, world, ids=bad)
        response = api.client.request(route.method, path, headers=bearer(token), json=sample)
        assert_problem(response, 422, "invalid_request")


@pytest.mark.parametrize("route", GET_ROUTES, ids=lambda r: r.id)
def test_garbage_query_parameters_are_never_a_500(api: Api, route: RouteInfo) -> None:
    world, token = admin_setup(api)
    path = concrete_path(route, world)
    for params in (
        {"limit": "-1"},
        {"limit": "abc"},
        {"limit": "99999999999999999999"},
        {"offset": "99999999999999999999"},
        {"offset": str(2**63)},
        {"offset": "-1"},
        {"at": "2026-01-05T09:00:00"},
        {"at": "0001-01-01T00:00:00+14:00", "since": "0001-01-01T00:00:00+14:00"},
        {"at": "9999-12-31T23:59:59-12:00", "until": "9999-12-31T23:59:59-12:00"},
        {"since": "2026-01-06T00:00:00Z", "until": "2026-01-05T00:00:00Z"},
        {"cursor": "garbage"},
        {"cursor": "MjAyNnw="},
        # Well-formed cursors whose numbers no column holds: "2026-01-05T00:00:00+00:00|1e20".
        {"cursor": "MjAyNi0wMS0wNVQwMDowMDowMCswMDowMHw5OTk5OTk5OTk5OTk5OTk5OTk5OQ"},
        {"cursor": "MjAyNi0wMS0wNVQwMDowMDowMCswMDowMHwtMQ"},
        {"cursor": "MDAwMS0wMS0wMVQwMDowMDowMCsxNDowMHw1"},  # 0001-01-01T00:00:00+14:00|5
        {"search": HUGE[:5000], "after": HUGE[:5000]},
        {"role_id": "nope", "user_id": "nope", "member_type": "Boss", "status": "Sleeping"},
        {"action": ["x" * 65]},
        {"mine": "perhaps", "kind": "secret", "include_ended": "2"},
    ):
        response = api.client.get(path, headers=bearer(token), params=params)
        assert response.status_code < 500, (params, response.text[:300])
        if response.status_code >= 400:
            assert_problem(response, response.status_code)


def test_nul_characters_are_refused_wherever_they_come(api: Api) -> None:
    _, token = admin_setup(api)
    in_query = api.client.get("/api/v1/users?search=a%00b", headers=bearer(token))
    assert_problem(in_query, 400, "nul_character")
    in_path = api.client.delete("/api/v1/directory/domains/a%00b.example", headers=bearer(token))
    assert_problem(in_path, 400, "nul_character")
    in_body = api.post(token, "/roles", {"display_name": "a\u0000b"})
    body = assert_problem(in_body, 422, "unstorable_text")
    assert body["field"] == "display_name"
    surrogate = api.client.post(
        "/api/v1/roles",
        headers={**bearer(token), "Content-Type": "application/json"},
        content=b'{"display_name": "ok", "description": "\\udc00"}',
    )
    assert_problem(surrogate, 422, "unstorable_text")
    emoji = api.post(token, "/roles", {"display_name": "Ops \U0001f680"})
    assert emoji.status_code == 201, emoji.text


def test_numbers_no_column_holds_are_refused_by_name(api: Api) -> None:
    world, token = admin_setup(api)
    path = f"/api/v1/roles/{world.role}/settings"
    headers = {**bearer(token), "Content-Type": "application/json"}
    for literal in (b"99999999999999999999", b"-9223372036854775809", b"NaN", b"-Infinity"):
        body = b'{"eligible_max_days": ' + literal + b"}"
        response = api.client.patch(path, headers=headers, content=body)
        problem = assert_problem(response, 422, "number_out_of_range")
        assert problem["field"] == "eligible_max_days", literal
    # The largest 64-bit integer is storable, so the setting's own bound refuses it.
    edge = api.client.patch(
        path, headers=headers, content=b'{"eligible_max_days": 9223372036854775807}'
    )
    assert edge.status_code == 422 and edge.json()["code"] != "number_out_of_range", edge.text


def test_every_integer_parameter_has_an_upper_bound(api: Api) -> None:
    """An unbounded integer in the query or path reaches the database as LIMIT, OFFSET or a
    key; past 64 bits PostgreSQL refuses it with an error the client would see as a 500."""
    unbounded = []
    for path, operations in api.client.get("/openapi.json").json()["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                for option in schema.get("anyOf", [schema]):
                    if option.get("type") == "integer" and "maximum" not in option:
                        unbounded.append(f"{method.upper()} {path} {parameter['name']}")
    assert unbounded == []


def test_instants_that_do_not_exist_in_utc_are_refused(api: Api) -> None:
    world, token = admin_setup(api)
    member = {"principal_id": str(world.other_user), "role_id": str(world.role)}
    before_year_one = api.post(
        token, "/assignments", {**member, "end_at": "0001-01-01T00:00+14:00"}
    )
    body = assert_problem(before_year_one, 422, "instant_out_of_range")
    assert body["field"] == "end_at"
    path = f"/access/users/{world.other_user}/roles"
    query = api.get(token, path, params={"at": "9999-12-31T23:59:59-12:00"})
    assert_problem(query, 422, "invalid_request")
    edge = api.get(token, path, params={"at": "9999-12-31T23:59:59+00:00"})
    assert edge.status_code == 200 and edge.json()["at"] == "9999-12-31T23:59:59Z"


def test_oversized_bodies_are_413(api: Api) -> None:
    _, token = admin_setup(api)
    big = b'{"display_name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = api.client.post(
        "/api/v1/roles",
        headers={**bearer(token), "Content-Type": "application/json"},
        content=big,
    )
    assert_problem(response, 413, "content_too_large")

    def chunks() -> Iterator[bytes]:
        yield b'{"display_name": "'
        for _ in range(40):
            yield b"x" * 65536
        yield b'"}'

    chunked = api.client.post(
        "/api/v1/roles",
        headers={**bearer(token), "Content-Type": "application/json"},
        content=chunks(),
    )
    assert_problem(chunked, 413, "content_too_large")
