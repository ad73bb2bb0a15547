"""Lookups shared by the assignment operations (loading, locking, overlap and holder checks)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, exists, func, or_, select
from sqlalchemy.orm import Session

from openpim.assignments.models import (
    Assignment,
    AssignmentType,
    Eligibility,
    MemberType,
    RequestStatus,
    RoleRequest,
)
from openpim.db import direct
from openpim.directory.models import Directory, User
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, NotFound
from openpim.roles.models import RoleDefinition

Schedule = Eligibility | Assignment
S = TypeVar("S", Eligibility, Assignment)


def schedule_model(member_type: MemberType) -> type[Eligibility] | type[Assignment]:
    return Eligibility if member_type == MemberType.ELIGIBLE else Assignment


# The hot lookups (self-activation runs them all) are built once: building a statement costs
# more Python time than running it on SQLite.
_DIRECTORY_LOCKED = (
    select(Directory).where(Directory.id == bindparam("directory_id")).with_for_update()
)
_directory_by_id = Directory.id == bindparam("directory_id")
_role_by_id = RoleDefinition.id == bindparam("role_id")
# What self-activation checks about the acting user, the directory and the role, in one row
# (none when the user is missing); read on the driver connection (db.direct).
_ACTIVATION_PARTIES = select(
    User.directory_id.label("user_directory_id"),
    User.enabled,
    User.user_principal_name,
    select(Directory.id).where(_directory_by_id).scalar_subquery().label("directory_found"),
    select(Directory.pim_enabled_at).where(_directory_by_id).scalar_subquery().label("pim_since"),
    select(RoleDefinition.display_name).where(_role_by_id).scalar_subquery().label("role_name"),
    select(RoleDefinition.directory_id).where(_role_by_id).scalar_subquery().label("role_owner"),
).where(User.id == bindparam("user_id"))


def activation_parties(
    ctx: Ctx, user_id: uuid.UUID, directory_id: uuid.UUID, role_id: uuid.UUID
) -> Any | None:
    """One row: the user's directory_id, enabled and user_principal_name; whether the
    directory exists (directory_found) and since when PIM is on there (pim_since); the role's
    role_name (None: no such role) and role_owner (None: built in). The caller applies the
    rules, with the refusals below."""
    params = {"user_id": user_id, "directory_id": directory_id, "role_id": role_id}
    return direct.first(ctx.session.connection(), _ACTIVATION_PARTIES, params)


def user_not_found(user_id: uuid.UUID) -> NotFound:
    return NotFound(f"User {user_id} does not exist in this directory.", code="user_not_found")


def directory_not_found(directory_id: uuid.UUID) -> NotFound:
    return NotFound(f"Directory {directory_id} does not exist.", code="directory_not_found")


def role_not_found(role_id: uuid.UUID) -> NotFound:
    return NotFound(f"Role {role_id} does not exist.", code="role_not_found")


def role_visible_in(owner_directory_id: uuid.UUID | None, directory_id: uuid.UUID) -> bool:
    """A built-in role (no owner) is seen everywhere; a custom role in its own directory."""
    return owner_directory_id is None or owner_directory_id == directory_id


def load_directory(ctx: Ctx, directory_id: uuid.UUID, *, lock: bool = False) -> Directory:
    directory: Directory | None
    if lock:
        params = {"directory_id": directory_id}
        directory = ctx.session.execute(_DIRECTORY_LOCKED, params).scalar_one_or_none()
    else:  # no query when this transaction has loaded it already
        directory = ctx.session.get(Directory, directory_id)
    if directory is None:
        raise directory_not_found(directory_id)
    return directory


def load_user(ctx: Ctx, directory_id: uuid.UUID, user_id: uuid.UUID) -> User:
    user = ctx.session.get(User, user_id)
    if user is None or user.directory_id != directory_id:
        raise user_not_found(user_id)
    return user


def load_role(ctx: Ctx, directory_id: uuid.UUID, role_id: uuid.UUID) -> RoleDefinition:
    role = ctx.session.get(RoleDefinition, role_id)
    if role is None or not role_visible_in(role.directory_id, directory_id):
        raise role_not_found(role_id)
    return role


def load_request(ctx: Ctx, request_id: uuid.UUID) -> RoleRequest:
    request = ctx.session.get(RoleRequest, request_id)
    if request is None:
        raise NotFound(f"Request {request_id} does not exist.", code="request_not_found")
    return request


def current_or_future(
    session: Session,
    model: type[S],
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    now: datetime,
    *,
    lock: bool = False,
) -> list[S]:
    """Schedules of (principal, role) that have not ended by `now` (active or starting later)."""
    stmt = (
        select(model)
        .where(
            model.principal_id == principal_id,
            model.role_id == role_id,
            or_(model.end_at.is_(None), model.end_at > now),
        )
        .order_by(model.start_at)
    )
    if lock:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt))


def overlapping(
    session: Session,
    model: type[S],
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    start: datetime,
    end: datetime | None,
    *,
    exclude_id: uuid.UUID | None = None,
) -> list[S]:
    """Schedules of (principal, role) that share any instant with [start, end)."""
    conditions = [
        model.principal_id == principal_id,
        model.role_id == role_id,
        or_(model.end_at.is_(None), model.end_at > start),
        model.end_at.is_(None) | (model.end_at > model.start_at),
    ]
    if end is not None:
        conditions.append(model.start_at < end)
    if exclude_id is not None:
        conditions.append(model.id != exclude_id)
    return list(session.scalars(select(model).where(*conditions)))


_COVERS = (
    Eligibility.principal_id == bindparam("principal_id"),
    Eligibility.role_id == bindparam("role_id"),
    Eligibility.start_at <= bindparam("at"),
    or_(Eligibility.end_at.is_(None), Eligibility.end_at > bindparam("at")),
)
# The eligibility lasting longest wins: a permanent one, else the latest end.
_LONGEST_FIRST = (Eligibility.end_at.is_(None).desc(), Eligibility.end_at.desc())
_COVERING = select(Eligibility).where(*_COVERS).order_by(*_LONGEST_FIRST).limit(1)
# Self-activation needs only the id and end, read on the driver connection (db.direct).
_COVERING_WINDOW_LOCKED = (
    select(Eligibility.id, Eligibility.end_at)
    .where(*_COVERS)
    .order_by(*_LONGEST_FIRST)
    .limit(1)
    .with_for_update()
)
_COVERING_LOCKED = _COVERING.with_for_update()


def find_eligibility_covering(
    ctx: Ctx, principal_id: uuid.UUID, role_id: uuid.UUID, at: datetime, *, lock: bool
) -> Eligibility | None:
    stmt = _COVERING_LOCKED if lock else _COVERING
    params = {"principal_id": principal_id, "role_id": role_id, "at": at}
    return ctx.session.execute(stmt, params).scalar_one_or_none()


def lock_eligibility_window(
    ctx: Ctx, principal_id: uuid.UUID, role_id: uuid.UUID, at: datetime
) -> Any | None:
    """find_eligibility_covering(lock=True) as a row of (id, end_at) only."""
    params = {"principal_id": principal_id, "role_id": role_id, "at": at}
    return direct.first(ctx.session.connection(), _COVERING_WINDOW_LOCKED, params)


def running_activations_of(ctx: Ctx, eligibility_id: uuid.UUID, now: datetime) -> list[Assignment]:
    """Activations drawn on an eligibility that are active now or scheduled to start."""
    stmt = select(Assignment).where(
        Assignment.eligibility_id == eligibility_id,
        or_(Assignment.end_at.is_(None), Assignment.end_at > now),
    )
    return list(ctx.session.scalars(stmt))


def able_approvers(
    session: Session,
    directory_id: uuid.UUID,
    approvers: Iterable[uuid.UUID],
    requester_ids: Iterable[uuid.UUID | None],
) -> list[uuid.UUID]:
    """The named approvers who can decide a request: enabled users of its directory, not the
    member or requester themselves (nobody decides their own request)."""
    cannot = set(requester_ids)
    candidates = [a for a in approvers if a not in cannot]
    if not candidates:
        return []
    return list(
        session.scalars(
            select(User.id).where(
                User.id.in_(candidates),
                User.directory_id == directory_id,
                User.enabled.is_(True),
            )
        )
    )


def other_lasting_holders(
    ctx: Ctx,
    directory_id: uuid.UUID,
    role_id: uuid.UUID,
    excluded_user_id: uuid.UUID,
    until: datetime,
) -> int:
    """Enabled users other than `excluded_user_id` holding the role now and still after `until`."""
    now = ctx.now
    lasting = Assignment.end_at.is_(None) | (Assignment.end_at > until)
    stmt = (
        select(func.count(func.distinct(Assignment.principal_id)))
        .join(User, User.id == Assignment.principal_id)
        .where(
            Assignment.directory_id == directory_id,
            Assignment.role_id == role_id,
            Assignment.principal_id != excluded_user_id,
            Assignment.start_at <= now,
            lasting,
            User.enabled.is_(True),
        )
    )
    return int(ctx.session.execute(stmt).scalar_one())


_PENDING_OF = select(RoleRequest.id).where(
    RoleRequest.principal_id == bindparam("principal_id"),
    RoleRequest.role_id == bindparam("role_id"),
    RoleRequest.member_type == bindparam("member_type", type_=RoleRequest.member_type.type),
    # Two comparisons rather than IN: an IN list is expanded per execution, which the
    # driver-level path (db.direct) does not do.
    or_(
        RoleRequest.status == RequestStatus.PENDING_APPROVAL.value,
        RoleRequest.status == RequestStatus.PENDING_ADMIN_DECISION.value,
    ),
)
_PENDING = _PENDING_OF.limit(1)
_PENDING_MESSAGE = (
    "There is already a pending request for this role; wait for its decision or cancel it."
)


def ensure_no_conflicting_pending(
    ctx: Ctx, principal_id: uuid.UUID, role_id: uuid.UUID, member_type: MemberType
) -> None:
    """Friendly check before the unique index catches a duplicate pending request."""
    params = {"principal_id": principal_id, "role_id": role_id, "member_type": member_type}
    if ctx.session.execute(_PENDING, params).first() is not None:
        raise Conflict(_PENDING_MESSAGE, code="request_pending")


# overlapping(Assignment, ...) with an end, and the pending check for active membership, in one
# round trip: whether each finds anything (activation needs no more than that).
_ACTIVE_OVERLAP = select(Assignment.id).where(
    Assignment.principal_id == bindparam("principal_id"),
    Assignment.role_id == bindparam("role_id"),
    or_(Assignment.end_at.is_(None), Assignment.end_at > bindparam("start")),
    Assignment.end_at.is_(None) | (Assignment.end_at > Assignment.start_at),
    Assignment.start_at < bindparam("end", type_=Assignment.start_at.type),
)
_ACTIVATION_BLOCKERS = select(exists(_ACTIVE_OVERLAP), exists(_PENDING_OF))


def activation_blockers(
    ctx: Ctx, principal_id: uuid.UUID, role_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[bool, bool]:
    """(an activation overlaps [start, end), an active-membership request is pending)."""
    params = {
        "principal_id": principal_id,
        "role_id": role_id,
        "start": start,
        "end": end,
        "member_type": MemberType.ACTIVE,
    }
    row = direct.first(ctx.session.connection(), _ACTIVATION_BLOCKERS, params)
    assert row is not None  # a SELECT of two EXISTS always has its row
    return bool(row[0]), bool(row[1])


def raise_pending_conflict() -> None:
    """The 409 ensure_no_conflicting_pending raises, for callers that checked another way."""
    raise Conflict(_PENDING_MESSAGE, code="request_pending")


def current_of_type(
    session: Session,
    member_type: MemberType,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    now: datetime,
    *,
    lock: bool = False,
) -> list[Schedule]:
    """current_or_future for eligibility or active membership, chosen by member type."""
    if member_type == MemberType.ELIGIBLE:
        return list(current_or_future(session, Eligibility, principal_id, role_id, now, lock=lock))
    return list(current_or_future(session, Assignment, principal_id, role_id, now, lock=lock))


def overlapping_of_type(
    session: Session,
    member_type: MemberType,
    principal_id: uuid.UUID,
    role_id: uuid.UUID,
    start: datetime,
    end: datetime | None,
    *,
    exclude_id: uuid.UUID | None = None,
) -> list[Schedule]:
    if member_type == MemberType.ELIGIBLE:
        return list(
            overlapping(
                session, Eligibility, principal_id, role_id, start, end, exclude_id=exclude_id
            )
        )
    return list(
        overlapping(session, Assignment, principal_id, role_id, start, end, exclude_id=exclude_id)
    )


def is_assigned(schedule: Schedule) -> bool:
    """An active membership given by an admin (not an activation of an eligibility)."""
    return isinstance(schedule, Assignment) and schedule.assignment_type == AssignmentType.ASSIGNED
