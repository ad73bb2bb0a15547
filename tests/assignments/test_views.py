"""member_page: users in admin roles a page at a time (keyset paging), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest

from openpim.assignments import service
from openpim.assignments.models import MemberType
from openpim.assignments.schemas import ScheduleOut
from openpim.directory.models import Directory, User
from openpim.kit.errors import Forbidden, ValidationFailed
from openpim.roles.models import RoleDefinition
from tests.factories import GA, HELPDESK_ADMIN, PASSWORD_ADMIN, Env


def _custom_role(env: Env, directory: Directory, name: str) -> uuid.UUID:
    """A custom role inserted as-is: two of them may share a name (a tie on the sort key)."""
    with env.runtime.db.unit_of_work() as s:
        role = RoleDefinition(directory_id=directory.id, display_name=name, created_at=env.now)
        s.add(role)
        s.flush()
        return role.id


def _membership(env: Env) -> tuple[Directory, User, set[uuid.UUID], set[uuid.UUID]]:
    """A directory whose members tie on every part of the sort key but the id.

    Returns the directory, a PIM reader, and the ids of the rows a page must show and must not.
    """
    directory, admin = env.pim_directory()
    twins = (_custom_role(env, directory, "Twin"), _custom_role(env, directory, "Twin"))
    at = env.now - timedelta(days=1)
    shown: set[uuid.UUID] = set()
    hidden: set[uuid.UUID] = set()
    users = [env.user(directory, name) for name in ("ann", "bob", "cid", "dan", "eve")]
    for user in users:
        for role in (*twins, PASSWORD_ADMIN):
            # Two eligibilities and two assignments of the same role with the same start.
            for _ in range(2):
                shown.add(env.eligible(user, role, start=at).id)
                shown.add(env.permanent(user, role, start=at).id)
        # Scheduled rows are members to be; ended rows are not members any more.
        shown.add(env.eligible(user, HELPDESK_ADMIN, start=env.now + timedelta(days=2)).id)
        hidden.add(env.eligible(user, GA, start=at, end=env.now - timedelta(minutes=1)).id)
        hidden.add(env.permanent(user, GA, start=at, end=env.now).id)
    # The admin's own three permanent roles (pim_directory) are members too.
    with env.ctx(admin) as ctx:
        own = service.member_page(ctx, directory.id, user_id=admin.id, limit=10).items
    shown |= {row.id for row in own}
    # Another directory's members never show.
    other, _ = env.pim_directory()
    stranger = env.user(other, "ann")
    hidden.add(env.eligible(stranger, PASSWORD_ADMIN, start=at).id)
    return directory, admin, shown, hidden


def _all_pages(
    env: Env, reader: User, directory: Directory, limit: int, **filters: object
) -> list[ScheduleOut]:
    rows: list[ScheduleOut] = []
    cursor: str | None = None
    pages = 0
    while True:
        with env.ctx(reader) as ctx:
            page = service.member_page(
                ctx,
                directory.id,
                cursor=cursor,
                limit=limit,
                **filters,  # type: ignore[arg-type]
            )
        assert len(page.items) <= limit
        pages += 1
        rows += page.items
        if page.next_cursor is None:
            break
        assert len(page.items) == limit
        cursor = page.next_cursor
        assert pages < 1000
    return rows


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 500])
def test_pages_lose_and_repeat_no_row_when_rows_tie_on_the_sort_key(env: Env, limit: int) -> None:
    directory, admin, shown, hidden = _membership(env)
    rows = _all_pages(env, admin, directory, limit)
    ids = [row.id for row in rows]
    assert len(ids) == len(set(ids)), "a row was repeated"
    assert set(ids) == shown
    assert not set(ids) & hidden
    # Every page size gives the same order: the one the database gives in a single page.
    with env.ctx(admin) as ctx:
        whole = service.member_page(ctx, directory.id, limit=500)
    assert whole.next_cursor is None
    assert ids == [row.id for row in whole.items]
    # That order is by user, then role name, eligible before active.
    names = [(r.principal, r.role, r.member_type != MemberType.ELIGIBLE) for r in rows]
    assert [n[0] for n in names] == sorted(n[0] for n in names)
    for earlier, later in itertools.pairwise(names):
        if earlier[0] == later[0]:
            assert earlier[1] <= later[1]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"role_id": PASSWORD_ADMIN}, 5 * 4),
        ({"role_id": PASSWORD_ADMIN, "member_type": MemberType.ELIGIBLE}, 5 * 2),
        ({"member_type": MemberType.ACTIVE}, 5 * 3 * 2 + 3),
        ({"role_id": HELPDESK_ADMIN, "member_type": MemberType.ELIGIBLE}, 5),
        ({"role_id": GA}, 1),
    ],
)
def test_filtered_pages_are_complete(env: Env, filters: dict[str, object], expected: int) -> None:
    directory, admin, _shown, _hidden = _membership(env)
    rows = _all_pages(env, admin, directory, 3, **filters)
    assert len(rows) == len({r.id for r in rows}) == expected
    if "role_id" in filters:
        assert {r.role_id for r in rows} == {filters["role_id"]}
    if "member_type" in filters:
        assert {r.member_type for r in rows} == {filters["member_type"]}


def test_one_users_rows_page_by_role(env: Env) -> None:
    directory, admin, _shown, _hidden = _membership(env)
    with env.ctx(admin) as ctx:
        bob = next(
            r.principal_id
            for r in service.member_page(ctx, directory.id, limit=500).items
            if r.principal.startswith("bob@")
        )
    rows = _all_pages(env, admin, directory, 2, user_id=bob)
    assert {r.principal_id for r in rows} == {bob}
    assert len(rows) == 3 * 4 + 1
    assert [r.role for r in rows] == sorted(r.role for r in rows)


def test_a_cursor_is_only_one_the_server_handed_out_for_this_directory(env: Env) -> None:
    directory, admin, _shown, _hidden = _membership(env)
    other, other_admin = env.pim_directory()
    with env.ctx(admin) as ctx:
        cursor = service.member_page(ctx, directory.id, limit=2).next_cursor
    assert cursor is not None
    for bad in ("not-a-cursor", "MC4x", cursor + "A" * 100, "Mi4" + cursor[3:]):
        with env.ctx(admin) as ctx, pytest.raises(ValidationFailed) as refused:
            service.member_page(ctx, directory.id, cursor=bad, limit=2)
        assert refused.value.code == "invalid_cursor"
    with env.ctx(other_admin) as ctx, pytest.raises(ValidationFailed):
        service.member_page(ctx, other.id, cursor=cursor, limit=2)


def test_page_size_and_readers_only(env: Env) -> None:
    directory, admin = env.pim_directory()
    nobody = env.user(directory, "nobody")
    with env.ctx(admin) as ctx, pytest.raises(ValidationFailed):
        service.member_page(ctx, directory.id, limit=0)
    with env.ctx(nobody) as ctx, pytest.raises(Forbidden):
        service.member_page(ctx, directory.id, limit=10)
