"""GET /members and /roles/{id}/members a page at a time (keyset cursor), on SQLite and PostgreSQL.

The ordering and cursor rules themselves are assignments.views.member_page's (tested in
tests/assignments/test_views.py); these tests hold the API's contract: `value` + `next_cursor`,
page size bounds, a bad cursor is a 422 `invalid_cursor` problem, and who may read.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.directory.models import Directory, User
from tests.api.helpers import Api, assert_problem
from tests.factories import (
    GA,
    HELPDESK_ADMIN,
    PASSWORD_ADMIN,
    PRA,
    SECURITY_READER,
    Env,
)

MEMBERS = 40
SCHEDULED = 10
# Each member: two eligibilities and one active assignment with the same start; ten of them
# also have an eligibility that starts later.
SHOWN = MEMBERS * 3 + SCHEDULED


@dataclass
class World:
    directory: Directory
    admin: User
    token: str
    shown: set[uuid.UUID]  # the role's current and scheduled schedules
    hidden: set[uuid.UUID]  # ended, another role's, another directory's


def _add(env: Env, rows: list[Eligibility | Assignment]) -> set[uuid.UUID]:
    with env.runtime.db.unit_of_work() as s:
        s.add_all(rows)
        s.flush()
        return {row.id for row in rows}


def _eligibility(env: Env, user: User, role: uuid.UUID, **times: Any) -> Eligibility:
    return Eligibility(
        directory_id=user.directory_id,
        principal_id=user.id,
        role_id=role,
        created_via="pim",
        created_at=env.now,
        **times,
    )


def _assignment(env: Env, user: User, role: uuid.UUID, **times: Any) -> Assignment:
    return Assignment(
        directory_id=user.directory_id,
        principal_id=user.id,
        role_id=role,
        assignment_type=AssignmentType.ASSIGNED,
        created_via="pim",
        created_at=env.now,
        **times,
    )


def _world(api: Api) -> World:
    env = api.env
    directory, admin = env.pim_directory()
    at = env.now - timedelta(days=3)
    later = env.now + timedelta(days=2)
    ended = {"start_at": at, "end_at": env.now - timedelta(minutes=1)}
    shown_rows: list[Eligibility | Assignment] = []
    hidden_rows: list[Eligibility | Assignment] = []
    for n in range(MEMBERS):
        user = env.user(directory, f"m{n:02d}")
        shown_rows += [
            _eligibility(env, user, HELPDESK_ADMIN, start_at=at),
            _eligibility(env, user, HELPDESK_ADMIN, start_at=at),
            _assignment(env, user, HELPDESK_ADMIN, start_at=at),
        ]
        if n < SCHEDULED:
            shown_rows.append(_eligibility(env, user, HELPDESK_ADMIN, start_at=later))
        hidden_rows += [
            _eligibility(env, user, HELPDESK_ADMIN, **ended),
            _assignment(env, user, HELPDESK_ADMIN, **ended),
            _eligibility(env, user, PASSWORD_ADMIN, start_at=at),
        ]
    other, _ = env.pim_directory()
    stranger = env.user(other, "m00")
    hidden_rows.append(_eligibility(env, stranger, HELPDESK_ADMIN, start_at=at))
    return World(
        directory,
        admin,
        api.token(admin),
        _add(env, shown_rows),
        _add(env, hidden_rows),
    )


ROLE_PATH = f"/roles/{HELPDESK_ADMIN}/members"
LISTINGS = [
    pytest.param(ROLE_PATH, {}, id="role-members"),
    pytest.param("/members", {"role_id": str(HELPDESK_ADMIN)}, id="members-by-role"),
]


def _walk(api: Api, token: str, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page, following next_cursor; each page but the last is full."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    limit = int(params.get("limit", 100))
    for _ in range(1000):
        query = {**params} if cursor is None else {**params, "cursor": cursor}
        response = api.get(token, path, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"value", "next_cursor"}
        assert len(body["value"]) <= limit
        rows += body["value"]
        cursor = body["next_cursor"]
        if cursor is None:
            return rows
        assert len(body["value"]) == limit
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize(("path", "filters"), LISTINGS)
@pytest.mark.parametrize("limit", [1, 7, 100, 500])
def test_pages_show_every_member_once_although_starts_tie(
    api: Api, path: str, filters: dict[str, str], limit: int
) -> None:
    world = _world(api)
    rows = _walk(api, world.token, path, {**filters, "limit": limit})
    ids = [uuid.UUID(row["id"]) for row in rows]
    assert len(ids) == len(set(ids)), "a member was repeated"
    assert set(ids) == world.shown
    # By user name, eligible before active, then start; the same order at every page size.
    keys = [(r["principal"], r["member_type"] != "Eligible", r["start_at"]) for r in rows]
    assert keys == sorted(keys)
    assert {r["role_id"] for r in rows} == {str(HELPDESK_ADMIN)}


def test_the_default_page_is_100_and_the_largest_500(api: Api) -> None:
    world = _world(api)
    first = api.get(world.token, ROLE_PATH).json()
    assert len(first["value"]) == 100 and first["next_cursor"] is not None
    rest = api.get(world.token, ROLE_PATH, params={"cursor": first["next_cursor"]}).json()
    assert len(rest["value"]) == SHOWN - 100 and rest["next_cursor"] is None
    whole = api.get(world.token, ROLE_PATH, params={"limit": 500}).json()
    assert whole["next_cursor"] is None
    assert [r["id"] for r in whole["value"]] == [r["id"] for r in first["value"] + rest["value"]]
    for path in (ROLE_PATH, "/members"):
        for bad in ("0", "-1", "501", "abc", "99999999999999999999"):
            response = api.get(world.token, path, params={"limit": bad})
            body = assert_problem(response, 422, "invalid_request")
            assert body["field"] == "limit"


def test_filters_combine_with_paging(api: Api) -> None:
    world = _world(api)
    eligible = _walk(api, world.token, ROLE_PATH, {"member_type": "Eligible", "limit": 9})
    assert len(eligible) == MEMBERS * 2 + SCHEDULED
    assert {r["member_type"] for r in eligible} == {"Eligible"}
    one = next(r for r in eligible if r["principal"].startswith("m33@"))
    mine = _walk(api, world.token, "/members", {"user_id": one["principal_id"], "limit": 1})
    assert {r["principal_id"] for r in mine} == {one["principal_id"]}
    # m33 (no scheduled row): Helpdesk two eligible + one active; Password Administrator one.
    assert [(r["role_id"], r["member_type"]) for r in mine] == [
        (str(HELPDESK_ADMIN), "Eligible"),
        (str(HELPDESK_ADMIN), "Eligible"),
        (str(HELPDESK_ADMIN), "Active"),
        (str(PASSWORD_ADMIN), "Eligible"),
    ]


def test_a_cursor_row_that_ended_since_still_leads_to_the_next_page(api: Api) -> None:
    world = _world(api)
    first = api.get(world.token, ROLE_PATH, params={"limit": 50}).json()
    last = uuid.UUID(first["value"][-1]["id"])
    model = Eligibility if first["value"][-1]["member_type"] == "Eligible" else Assignment
    with api.env.runtime.db.unit_of_work() as s:
        s.execute(update(model).where(model.id == last).values(end_at=api.env.now))
    rest = _walk(api, world.token, ROLE_PATH, {"limit": 50, "cursor": first["next_cursor"]})
    seen = [r["id"] for r in first["value"] + rest]
    assert len(seen) == len(set(seen)) == SHOWN


def _cursor(rank: int, schedule_id: uuid.UUID) -> str:
    raw = f"{rank}.{schedule_id.hex}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


@pytest.mark.parametrize(("path", "filters"), LISTINGS)
def test_a_cursor_the_server_did_not_hand_out_is_a_422_problem(
    api: Api, path: str, filters: dict[str, str]
) -> None:
    world = _world(api)
    handed = api.get(world.token, path, params={**filters, "limit": 2}).json()["next_cursor"]
    foreign = next(iter(world.hidden - world.shown))
    other, other_admin = api.env.pim_directory()
    stranger_row = _add(
        api.env, [_eligibility(api.env, other_admin, GA, start_at=api.env.now)]
    ).pop()
    garbage = [
        "garbage",
        "MjAyNnw=",
        "",  # an empty cursor is the first page (as for no cursor), checked below
        "x" * 5000,
        handed + "A",
        handed[:-2],
        _cursor(2, foreign),  # no such kind of row
        _cursor(0, uuid.uuid4()),  # well formed, no such row
        _cursor(0, stranger_row),  # another directory's row
        "é" * 10,
        "===",
    ]
    for bad in garbage:
        response = api.get(world.token, path, params={**filters, "cursor": bad})
        if bad == "":
            assert response.status_code == 200, response.text
            continue
        body = assert_problem(response, 422, "invalid_cursor")
        assert body["field"] == "cursor"
    # The cursor still works, and only in its own directory.
    assert api.get(world.token, path, params={**filters, "cursor": handed}).status_code == 200
    stranger = api.get(api.token(other_admin), path, params={**filters, "cursor": handed})
    assert_problem(stranger, 422, "invalid_cursor")
    assert other.id != world.directory.id


@pytest.mark.parametrize(("path", "filters"), LISTINGS)
def test_only_pim_readers_may_list_members(api: Api, path: str, filters: dict[str, str]) -> None:
    env = api.env
    world = _world(api)
    plain = env.user(world.directory, "plain")
    eligible_pra = env.user(world.directory, "maybe")
    _add(env, [_eligibility(env, eligible_pra, PRA, start_at=env.now - timedelta(days=1))])
    reader = env.user(world.directory, "reader")
    env.permanent(reader, SECURITY_READER)
    handed = api.get(world.token, path, params={**filters, "limit": 3}).json()["next_cursor"]
    assert_problem(api.client.get("/api/v1" + path, params=filters), 401)
    for user in (plain, eligible_pra):
        for extra in ({}, {"cursor": handed}, {"cursor": "garbage"}):
            response = api.get(api.token(user), path, params={**filters, **extra})
            assert_problem(response, 403, "not_pim_reader")
    allowed = api.get(api.token(reader), path, params={**filters, "cursor": handed})
    assert allowed.status_code == 200, allowed.text
    # Another directory's reader sees that directory's members of the role: none here.
    _, other_admin = env.pim_directory()
    theirs = api.get(api.token(other_admin), path, params=filters).json()
    assert theirs == {"value": [], "next_cursor": None}
    # GA's members of this directory: the admin only, one page.
    ga = api.get(world.token, f"/roles/{GA}/members").json()
    assert [r["principal_id"] for r in ga["value"]] == [str(world.admin.id)]
    assert ga["next_cursor"] is None


def test_openapi_documents_the_paging(api: Api) -> None:
    spec = api.client.get("/openapi.json")
    assert spec.status_code == 200, spec.text
    paths = spec.json()["paths"]
    for path in ("/api/v1/members", "/api/v1/roles/{role_id}/members"):
        operation = paths[path]["get"]
        names = {p["name"] for p in operation["parameters"]}
        assert {"cursor", "limit", "member_type"} <= names
        assert "next_cursor" in operation["description"]
        assert "keyset" in operation["summary"]
