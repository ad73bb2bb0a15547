"""The access check as one statement: token, permission to ask, and the answer together.

The check needs the caller's token, and for a question about someone else also the caller's
reader roles and the other user's directory, before it can read the roles asked about. Asked
one by one that is two to four statements. Here one statement answers all of it: the token row
(tokens.TOKEN_BY_HASH) with three scalar subqueries beside it, the caller's roles now, the
asked-about user's roles at the instant asked, and that user's directory, all through the one
"holds a role active" predicate (access.service.active_at). Asking about oneself (the common
case) needs neither the caller's reader roles nor the target's directory: CASE keeps the
database from running those subqueries at all.

PostgreSQL runs it on an asyncio connection (access.pgfast); SQLite on the driver connection
(db.direct) of one connection held for the event loop (access.sqlitefast), where role ids come
back as one comma-separated text per list. The rules applied to the answer are the ones of
access.checks (`*_fast`), in the same order: invalid token, then a bad instant, then "may ask
about this user"; tests hold the paths to the same answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, cast

from sqlalchemy import Connection, Select, Table, Uuid, bindparam, case, func, null, select

from openpim.access.checks import instant_of, not_a_user, not_found, not_pim_reader
from openpim.access.service import active_at, role_uuid
from openpim.assignments.models import Assignment
from openpim.auth import tokens
from openpim.auth.models import AuthToken
from openpim.config import Settings
from openpim.db import direct
from openpim.db.base import UTCDateTime
from openpim.directory.models import User
from openpim.kit.context import Actor
from openpim.roles.ids import PIM_READER_ROLES

_assignments = cast(Table, Assignment.__table__)
_users = cast(Table, User.__table__)
_tokens = cast(Table, AuthToken.__table__)
_target = bindparam("target_id", type_=Uuid())

RoleList = Callable[[Any], frozenset[uuid.UUID]]


def statement(
    aggregate: Callable[[Any], Any],
    token_hash: Any = None,
    now: Any = None,
    target: Any = None,
    at: Any = None,
) -> Select[Any]:
    """The statement, with `aggregate` folding a user's active role ids into one value.

    The four inputs are bind parameters by default; the batched form (access.pgfast) passes
    the columns of its unnested arrays instead.
    """
    if token_hash is None:
        token_hash = bindparam("token_hash")
        now = bindparam("now", type_=UTCDateTime())
        target = _target
        at = bindparam("at", type_=UTCDateTime())
    # correlate_except: in the batched form the inputs are columns of the enclosing query.
    token = tokens.token_by_hash(token_hash).correlate_except(_tokens, _users).subquery("token")

    def roles(user_id: Any, instant: Any) -> Any:
        return (
            select(aggregate(_assignments.c.role_id))
            .where(active_at(user_id, instant))
            .correlate_except(_assignments)
            .scalar_subquery()
        )

    about_someone_else = token.c.user_id != target
    return select(
        *token.c,
        case((about_someone_else, roles(token.c.user_id, now)), else_=null()).label("caller_roles"),
        roles(target, at).label("target_roles"),
        case(
            (
                about_someone_else,
                select(_users.c.directory_id)
                .where(_users.c.id == target)
                .correlate_except(_users)
                .scalar_subquery(),
            ),
            else_=null(),
        ).label("target_directory_id"),
    )


POSTGRESQL_STATEMENT = statement(func.array_agg)
SQLITE_STATEMENT = statement(func.group_concat)


def roles_of_array(value: Any) -> frozenset[uuid.UUID]:
    """PostgreSQL's array_agg: a list of UUIDs, or NULL for none."""
    return frozenset(value or ())


def roles_of_text(value: Any) -> frozenset[uuid.UUID]:
    """SQLite's group_concat: role ids as stored (hex), comma-separated, or NULL for none."""
    return frozenset(role_uuid(v) for v in value.split(",")) if value else frozenset()


@dataclass(frozen=True)
class Answer:
    roles: frozenset[uuid.UUID]
    actor: Actor
    touch_due: bool


class AsyncAccessReader(Protocol):
    """What the app holds for the event loop's access checks (pgfast, sqlitefast)."""

    async def check(
        self,
        raw_token: str,
        user_id: uuid.UUID,
        now: datetime,
        at: datetime | None,
        settings: Settings,
    ) -> Answer: ...


def parameters(
    raw_token: str, user_id: uuid.UUID, now: datetime, at: datetime | None
) -> dict[str, Any]:
    return {
        **tokens.token_lookup(raw_token),
        "now": now,
        "target_id": user_id,
        # An unusable instant is refused by judge(); the statement just needs some value.
        "at": _usable(at) or now,
    }


def judge(
    row: Any,
    now: datetime,
    at: datetime | None,
    user_id: uuid.UUID,
    settings: Settings,
    roles_of: RoleList,
) -> Answer:
    """The access-check rules on one statement row (None when no token matched)."""
    actor, touch_due = tokens.judge_token(row, now, settings)
    instant_of(now, at)  # a bad instant is refused after the token, as on the other path
    if actor.user_id != user_id:
        if actor.user_id is None or actor.directory_id is None:
            raise not_a_user()
        if not roles_of(row.caller_roles) & PIM_READER_ROLES:
            raise not_pim_reader()
        if row.target_directory_id is None or row.target_directory_id != actor.directory_id:
            raise not_found()
    return Answer(roles_of(row.target_roles), actor, touch_due)


def check_sqlite(
    conn: Connection,
    raw_token: str,
    user_id: uuid.UUID,
    now: datetime,
    at: datetime | None,
    settings: Settings,
) -> Answer:
    """The whole check in one statement on SQLite's driver connection."""
    row = direct.first(conn, SQLITE_STATEMENT, parameters(raw_token, user_id, now, at))
    return judge(row, now, at, user_id, settings, roles_of_text)


def _usable(at: datetime | None) -> datetime | None:
    if at is None or at.tzinfo is None or at.utcoffset() is None:
        return None
    return at
