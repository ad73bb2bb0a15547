"""The role requests PIM would have written for the seeded schedules, made in the database.

The schedule generator gives every schedule PIM made a request id (request_id), and an
activation its member ended early a second one (ended_by_request_id). Once the schedules are
loaded, four INSERT ... SELECT statements write the matching requests in one pass each, the way
the services would have: adminAssign (Provisioned) for eligibilities and assigned roles, by
the directory's first admin; selfActivate (Provisioned, MFA proved) for activations and
selfDeactivate (Revoked) for early ends, by the member. Nothing goes through Python per row,
so a million requests cost seconds.

On PostgreSQL the schedules' foreign keys to role_requests are dropped before the schedules are
loaded (their requests do not exist yet), and role_requests' own for the inserts; all are
added back, validated in one pass each, afterwards.
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Insert, Table, Uuid, insert, literal, null, select
from sqlalchemy.schema import AddConstraint, DropConstraint, ForeignKeyConstraint

from openpim.assignments.models import (
    Assignment,
    AssignmentType,
    Eligibility,
    MemberType,
    RequestAction,
    RequestStatus,
    RoleRequest,
)
from openpim.devtools.bulk import BulkLoader
from openpim.devtools.dataset import Population
from openpim.directory.models import User

ADMIN_JUSTIFICATION = "Granted through PIM (generated dataset)"
ACTIVATION_JUSTIFICATION = "Routine administration (generated dataset)"

_COLUMNS = (
    "id", "directory_id", "action", "member_type", "principal_id", "role_id", "requested_by_id",
    "requested_by_label", "status", "start_at", "end_at", "justification", "target_schedule_id",
    "result_schedule_id", "eligibility_id", "created_at", "mfa_verified",
)  # fmt: skip


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def _dropped_fks() -> list[ForeignKeyConstraint]:
    """The schedules' foreign keys to role_requests, and role_requests' own (checking those
    row by row would triple the time of the inserts)."""
    fks = list(_table(RoleRequest).foreign_key_constraints)
    for model in (Eligibility, Assignment):
        fks += [
            fk
            for fk in _table(model).foreign_key_constraints
            if fk.referred_table.name == "role_requests"
        ]
    return fks


def drop_request_foreign_keys(loader: BulkLoader) -> None:
    """PostgreSQL: let schedules name requests that are inserted after them."""
    if loader.dialect != "postgresql":
        return  # the loader runs SQLite with foreign keys off
    for fk in _dropped_fks():
        drop = DropConstraint(fk, if_exists=True)
        loader.execute(str(drop.compile(dialect=loader.engine.dialect)))


def restore_request_foreign_keys(loader: BulkLoader) -> None:
    """Add the dropped keys back; PostgreSQL validates each in one pass over the table."""
    if loader.dialect != "postgresql":
        return
    for fk in _dropped_fks():
        loader.execute(str(AddConstraint(fk).compile(dialect=loader.engine.dialect)))


def _first_admins(pop: Population) -> dict[str, tuple[uuid.UUID, str]]:
    """Each directory's first admin (who enabled PIM and made its assignments)."""
    first: dict[str, tuple[uuid.UUID, str]] = {}
    for admin in pop.admins:
        key = uuid.UUID(admin["directory_id"]).hex
        first.setdefault(key, (uuid.UUID(admin["id"]), admin["user_principal_name"]))
    return first


def _from(**values: Any) -> list[Any]:
    """The SELECT list for one request: a value (column or literal) per request column."""
    missing = set(_COLUMNS) - set(values)
    assert not missing, missing
    return [values[name] for name in _COLUMNS]


def _statements(pop: Population) -> list[Insert]:
    requests, users, a = _table(RoleRequest), _table(User), _table(Assignment)
    into = [requests.c[name] for name in _COLUMNS]
    out: list[Insert] = []
    for directory_hex, (admin_id, admin_upn) in _first_admins(pop).items():
        for member_type, s in (
            (MemberType.ELIGIBLE, _table(Eligibility)),
            (MemberType.ACTIVE, a),
        ):
            conditions = [s.c.directory_id == uuid.UUID(directory_hex), s.c.request_id.is_not(None)]
            if member_type == MemberType.ACTIVE:
                conditions.append(s.c.assignment_type == AssignmentType.ASSIGNED.value)
            assigned = select(
                *_from(
                    id=s.c.request_id,
                    directory_id=s.c.directory_id,
                    action=literal(RequestAction.ADMIN_ASSIGN.value),
                    member_type=literal(member_type.value),
                    principal_id=s.c.principal_id,
                    role_id=s.c.role_id,
                    requested_by_id=literal(admin_id, Uuid()),
                    requested_by_label=literal(admin_upn),
                    status=literal(RequestStatus.PROVISIONED.value),
                    start_at=s.c.start_at,
                    end_at=s.c.end_at,
                    justification=literal(ADMIN_JUSTIFICATION),
                    target_schedule_id=null(),
                    result_schedule_id=s.c.id,
                    eligibility_id=null(),
                    created_at=s.c.created_at,
                    mfa_verified=literal(False),
                )
            ).where(*conditions)
            out.append(insert(requests).from_select(into, assigned))
    by_member = {
        "directory_id": a.c.directory_id,
        "member_type": literal(MemberType.ACTIVE.value),
        "principal_id": a.c.principal_id,
        "role_id": a.c.role_id,
        "requested_by_id": a.c.principal_id,
        "requested_by_label": users.c.user_principal_name,
        "eligibility_id": a.c.eligibility_id,
    }
    activated = a.c.assignment_type == AssignmentType.ACTIVATED.value
    activations = (
        select(
            *_from(
                **by_member,
                id=a.c.request_id,
                action=literal(RequestAction.SELF_ACTIVATE.value),
                status=literal(RequestStatus.PROVISIONED.value),
                start_at=a.c.start_at,
                end_at=a.c.end_at,
                justification=literal(ACTIVATION_JUSTIFICATION),
                target_schedule_id=null(),
                result_schedule_id=a.c.id,
                created_at=a.c.created_at,
                mfa_verified=literal(True),
            )
        )
        .join(users, users.c.id == a.c.principal_id)
        .where(activated, a.c.request_id.is_not(None))
    )
    deactivations = (
        select(
            *_from(
                **by_member,
                id=a.c.ended_by_request_id,
                action=literal(RequestAction.SELF_DEACTIVATE.value),
                status=literal(RequestStatus.REVOKED.value),
                start_at=null(),
                end_at=null(),
                justification=null(),
                target_schedule_id=a.c.id,
                result_schedule_id=null(),
                created_at=a.c.end_at,
                mfa_verified=literal(False),
            )
        )
        .join(users, users.c.id == a.c.principal_id)
        .where(activated, a.c.ended_by_request_id.is_not(None))
    )
    out.append(insert(requests).from_select(into, activations))
    out.append(insert(requests).from_select(into, deactivations))
    return out


def add_requests(loader: BulkLoader, pop: Population) -> int:
    """Write the requests of the loaded schedules; returns how many."""
    before = int(loader.scalar("SELECT count(*) FROM role_requests"))
    for statement in _statements(pop):
        compiled = statement.compile(
            dialect=loader.engine.dialect, compile_kwargs={"literal_binds": True}
        )
        loader.execute(str(compiled))
    return int(loader.scalar("SELECT count(*) FROM role_requests")) - before
