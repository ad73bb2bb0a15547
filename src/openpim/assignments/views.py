"""Read side of membership: my roles, a role's members, users in admin roles, requests."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    cast,
    literal,
    literal_column,
    null,
    or_,
    select,
    tuple_,
    union_all,
)

from openpim.assignments.models import (
    PENDING_STATUSES,
    Assignment,
    Eligibility,
    MemberType,
    RoleRequest,
)
from openpim.assignments.operations.approval import can_decide
from openpim.assignments.schemas import ScheduleOut
from openpim.auth.permissions import require_read_all, require_self_or_read_all
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.kit.errors import NotFound, ValidationFailed
from openpim.kit.pagination import require_page
from openpim.roles.models import RoleDefinition

MAX_PAGE = 500


def _state(start: datetime, end: datetime | None, now: datetime) -> str:
    if end is not None and end <= now:
        return "ended"
    return "active" if start <= now else "scheduled"


def _schedules(
    ctx: Ctx,
    model: type[Eligibility] | type[Assignment],
    *conditions: object,
    include_ended: bool = False,
    limit: int = MAX_PAGE,
) -> list[ScheduleOut]:
    stmt: Select = (  # type: ignore[type-arg]
        select(model, User.user_principal_name, RoleDefinition.display_name)
        .join(User, User.id == model.principal_id)
        .join(RoleDefinition, RoleDefinition.id == model.role_id)
        .where(*conditions)  # type: ignore[arg-type]
        .order_by(RoleDefinition.display_name, User.user_principal_name, model.start_at)
        .limit(min(limit, MAX_PAGE))
    )
    if not include_ended:
        stmt = stmt.where(or_(model.end_at.is_(None), model.end_at > ctx.now))
    out = []
    for row, upn, role_name in ctx.session.execute(stmt):
        is_assignment = isinstance(row, Assignment)
        out.append(
            ScheduleOut(
                id=row.id,
                member_type=MemberType.ACTIVE if is_assignment else MemberType.ELIGIBLE,
                assignment_type=row.assignment_type if is_assignment else None,
                principal_id=row.principal_id,
                principal=upn,
                role_id=row.role_id,
                role=role_name,
                start_at=row.start_at,
                end_at=row.end_at,
                state=_state(row.start_at, row.end_at, ctx.now),
                eligibility_id=row.eligibility_id if is_assignment else None,
                request_id=row.request_id,
                created_via=row.created_via,
                ended_reason=row.ended_reason,
            )
        )
    return out


def user_roles(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID) -> list[ScheduleOut]:
    """A user's current and scheduled eligibilities and active assignments ("My roles")."""
    require_self_or_read_all(ctx, directory_id, user_id)
    return _schedules(ctx, Eligibility, Eligibility.principal_id == user_id) + _schedules(
        ctx, Assignment, Assignment.principal_id == user_id
    )


# --- users in admin roles, a page at a time ------------------------------------------------
#
# Rows come in one order for every filter: user name, role name, eligible before active, start,
# id. The database does every comparison (its collation orders the names), the next page starts
# strictly after the last row's key, and the id settles ties, so no row is lost or repeated
# between pages. Each of the two tables is read in that order and cut at the page size before
# the two are merged, so a page never sorts a directory's whole membership: walking the users
# by name (the unique (directory, name) index) and probing each one's schedules finds the first
# rows at once, and a small role is read through its role index instead.

_MODELS: tuple[type[Eligibility], type[Assignment]] = (Eligibility, Assignment)
_RANK = {MemberType.ELIGIBLE: 0, MemberType.ACTIVE: 1}
CURSOR_MAX_LENGTH = 100


@dataclass(frozen=True)
class MemberPage:
    items: list[ScheduleOut]
    # Pass back as `cursor` for the next page; None on the last page.
    next_cursor: str | None


@dataclass(frozen=True)
class _Key:
    principal: str
    role: str
    rank: int
    start_at: datetime
    id: uuid.UUID


def _encode_cursor(rank: int, schedule_id: uuid.UUID) -> str:
    raw = f"{rank}.{schedule_id.hex}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _cursor_key(ctx: Ctx, directory_id: uuid.UUID, cursor: str) -> _Key:
    """The sort key of the row a cursor names, read again (names may have changed since)."""
    invalid = ValidationFailed(
        "The cursor is not one this server handed out.", code="invalid_cursor", field="cursor"
    )
    if len(cursor) > CURSOR_MAX_LENGTH:
        raise invalid
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        rank_text, hex_id = text.split(".")
        rank, schedule_id = int(rank_text), uuid.UUID(hex=hex_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid from None
    if rank not in (0, 1):
        raise invalid
    model = _MODELS[rank]
    row = ctx.session.execute(
        select(User.user_principal_name, RoleDefinition.display_name, model.start_at)
        .join(User, User.id == model.principal_id)
        .join(RoleDefinition, RoleDefinition.id == model.role_id)
        .where(model.id == schedule_id, model.directory_id == directory_id)
    ).one_or_none()
    if row is None:
        raise invalid
    return _Key(row[0], row[1], rank, row[2], schedule_id)


def _after(key: _Key, rank: int, model: type[Eligibility] | type[Assignment]) -> Any:
    """Rows of `model` (eligible or active, `rank`) that sort strictly after `key`."""
    names = tuple_(User.user_principal_name, RoleDefinition.display_name)
    if rank > key.rank:
        return names >= tuple_(literal(key.principal), literal(key.role))
    if rank < key.rank:
        return names > tuple_(literal(key.principal), literal(key.role))
    return tuple_(
        User.user_principal_name, RoleDefinition.display_name, model.start_at, model.id
    ) > tuple_(
        literal(key.principal),
        literal(key.role),
        literal(key.start_at, model.start_at.type),
        literal(key.id, model.id.type),
    )


def _member_rows(
    ctx: Ctx,
    rank: int,
    conditions: list[ColumnElement[bool]],
    after: _Key | None,
    limit: int,
) -> Select:  # type: ignore[type-arg]
    model = _MODELS[rank]
    upn, role = User.user_principal_name, RoleDefinition.display_name
    stmt = (
        select(
            literal_column(str(rank), Integer).label("rank"),
            model.id.label("id"),
            model.principal_id.label("principal_id"),
            model.role_id.label("role_id"),
            model.start_at.label("start_at"),
            model.end_at.label("end_at"),
            (
                Assignment.assignment_type
                if model is Assignment
                else cast(null(), Assignment.assignment_type.type)
            ).label("assignment_type"),
            (
                Assignment.eligibility_id
                if model is Assignment
                else cast(null(), Assignment.eligibility_id.type)
            ).label("eligibility_id"),
            model.request_id.label("request_id"),
            model.created_via.label("created_via"),
            model.ended_reason.label("ended_reason"),
            upn.label("principal"),
            role.label("role"),
        )
        .join(User, User.id == model.principal_id)
        .join(RoleDefinition, RoleDefinition.id == model.role_id)
        .where(
            *conditions,
            or_(model.end_at.is_(None), model.end_at > ctx.now),
        )
    )
    if after is not None:
        # The first column alone as well: an index can start there; the row comparison can't.
        stmt = stmt.where(upn >= after.principal, _after(after, rank, model))
    else:
        # Always true, but a range on the name lets SQLite's planner see that walking the
        # users in name order stops after a page; without it, it sorts every live schedule
        # of the directory (1.2 s at 100,000 users) to show the first 100.
        stmt = stmt.where(upn >= "")
    return stmt.order_by(upn, role, model.start_at, model.id).limit(limit + 1)


def member_page(
    ctx: Ctx,
    directory_id: uuid.UUID,
    *,
    role_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    member_type: MemberType | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> MemberPage:
    """Users in admin roles, a page at a time: current and scheduled eligibilities and active
    assignments, by user name, role name, eligible before active, start."""
    require_read_all(ctx, directory_id)
    require_page(limit, MAX_PAGE)
    after = _cursor_key(ctx, directory_id, cursor) if cursor else None
    selects = []
    for kind, rank in _RANK.items():
        if member_type is not None and member_type != kind:
            continue
        model = _MODELS[rank]
        conditions: list[ColumnElement[bool]] = [model.directory_id == directory_id]
        if role_id is not None:
            conditions.append(model.role_id == role_id)
        if user_id is not None:
            conditions.append(model.principal_id == user_id)
        selects.append(_member_rows(ctx, rank, conditions, after, limit))
    if len(selects) == 1:
        stmt = selects[0]
    else:
        # Each part ordered and cut in its own subquery (SQLite allows no ORDER BY or LIMIT
        # on the arms of a UNION), then merged: at most 2 * (limit + 1) rows are sorted here.
        parts = [select(*sub.c) for sub in (s.subquery() for s in selects)]
        merged = union_all(*parts).subquery()
        c = merged.c
        stmt = select(*c).order_by(c.principal, c.role, c.rank, c.start_at, c.id).limit(limit + 1)
    rows = ctx.session.execute(stmt).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [
        ScheduleOut(
            id=r.id,
            member_type=MemberType.ELIGIBLE if r.rank == 0 else MemberType.ACTIVE,
            assignment_type=r.assignment_type,
            principal_id=r.principal_id,
            principal=r.principal,
            role_id=r.role_id,
            role=r.role,
            start_at=r.start_at,
            end_at=r.end_at,
            state=_state(r.start_at, r.end_at, ctx.now),
            eligibility_id=r.eligibility_id,
            request_id=r.request_id,
            created_via=r.created_via,
            ended_reason=r.ended_reason,
        )
        for r in rows
    ]
    next_cursor = _encode_cursor(rows[-1].rank, rows[-1].id) if more and rows else None
    return MemberPage(items, next_cursor)


def schedules_statement(
    ctx: Ctx,
    directory_id: uuid.UUID,
    model: type[Eligibility] | type[Assignment],
    *,
    principal_id: uuid.UUID | None = None,
) -> Select[Any]:
    """Authorise now and return the directory's eligibilities or assignments (every state),
    for callers that filter and page themselves (Graph's schedules): one principal's (anyone
    may read their own) or everyone's (PIM's readers)."""
    if principal_id is None:
        require_read_all(ctx, directory_id)
    else:
        require_self_or_read_all(ctx, directory_id, principal_id)
    stmt = select(model).where(model.directory_id == directory_id)
    if principal_id is not None:
        stmt = stmt.where(model.principal_id == principal_id)
    return stmt


def get_schedule(
    ctx: Ctx,
    directory_id: uuid.UUID,
    model: type[Eligibility] | type[Assignment],
    schedule_id: uuid.UUID,
    *conditions: ColumnElement[bool],
) -> Eligibility | Assignment:
    """One eligibility or assignment (matching `conditions`, e.g. "live now"): for its member
    and PIM's readers."""
    row = ctx.session.execute(
        select(model).where(
            model.id == schedule_id, model.directory_id == directory_id, *conditions
        )
    ).scalar_one_or_none()
    if not isinstance(row, Eligibility | Assignment):
        raise NotFound(f"Schedule {schedule_id} does not exist.", code="schedule_not_found")
    require_self_or_read_all(ctx, directory_id, row.principal_id)
    return row


def requests_statement(
    ctx: Ctx,
    directory_id: uuid.UUID,
    *,
    principal_id: uuid.UUID | None = None,
    requested_by_id: uuid.UUID | None = None,
    member_type: MemberType | None = None,
) -> Select[Any]:
    """Authorise now and return requests, for callers that filter and page themselves:
    for one member or by one requester (anyone may see their own) or everyone's (readers)."""
    mine = [u for u in (principal_id, requested_by_id) if u is not None]
    if not mine:
        require_read_all(ctx, directory_id)
    for user_id in mine:
        require_self_or_read_all(ctx, directory_id, user_id)
    stmt = select(RoleRequest).where(RoleRequest.directory_id == directory_id)
    if principal_id is not None:
        stmt = stmt.where(RoleRequest.principal_id == principal_id)
    if requested_by_id is not None:
        stmt = stmt.where(RoleRequest.requested_by_id == requested_by_id)
    if member_type is not None:
        stmt = stmt.where(RoleRequest.member_type == member_type)
    return stmt


def list_requests(
    ctx: Ctx,
    directory_id: uuid.UUID,
    *,
    principal_id: uuid.UUID | None = None,
    status: Sequence[str] | None = None,
    limit: int = 100,
) -> list[RoleRequest]:
    """Requests of one user (anyone may see their own) or of everyone (readers)."""
    stmt = requests_statement(ctx, directory_id, principal_id=principal_id)
    if status:
        stmt = stmt.where(RoleRequest.status.in_(list(status)))
    stmt = stmt.order_by(RoleRequest.created_at.desc()).limit(min(limit, MAX_PAGE))
    return list(ctx.session.scalars(stmt))


def awaiting_my_decision(ctx: Ctx, directory_id: uuid.UUID) -> list[RoleRequest]:
    """Pending requests the caller may approve or deny (never their own)."""
    pending = ctx.session.scalars(
        select(RoleRequest)
        .where(RoleRequest.directory_id == directory_id, RoleRequest.status.in_(PENDING_STATUSES))
        .order_by(RoleRequest.created_at)
        .limit(MAX_PAGE)
    )
    return [r for r in pending if can_decide(ctx, r)]


def get_request(ctx: Ctx, directory_id: uuid.UUID, request_id: uuid.UUID) -> RoleRequest:
    """One request: for its member or requester, whoever may decide it, and PIM's readers."""
    request = ctx.session.get(RoleRequest, request_id)
    if request is None or request.directory_id != directory_id:
        raise NotFound(f"Request {request_id} does not exist.", code="request_not_found")
    me = ctx.actor.user_id
    if me is not None and me in (request.principal_id, request.requested_by_id):
        return request
    if not can_decide(ctx, request):
        require_read_all(ctx, directory_id)
    return request
