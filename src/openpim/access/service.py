"""The one answer to "which roles does user U hold active at time t".

The API, the authorisation checks, alerts, reviews and tokens all ask this function and never
write their own query. It is a read-time predicate (start_at <= t < end_at), so the answer never
lags behind the worker. SQLAlchemy Core with a cached statement keeps it cheap.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from openpim.assignments.models import Assignment
from openpim.directory.models import User

_assignments = Assignment.__table__
_users = User.__table__

_ACTIVE_ROLES = (
    select(_assignments.c.role_id)
    .select_from(_assignments.join(_users, _users.c.id == _assignments.c.principal_id))
    .where(
        _assignments.c.principal_id == bindparam("user_id"),
        _assignments.c.start_at <= bindparam("at"),
        or_(_assignments.c.end_at.is_(None), _assignments.c.end_at > bindparam("at")),
        _users.c.enabled.is_(True),
    )
    .distinct()
)

_IS_ACTIVE = (
    select(_assignments.c.id)
    .select_from(_assignments.join(_users, _users.c.id == _assignments.c.principal_id))
    .where(
        and_(
            _assignments.c.principal_id == bindparam("user_id"),
            _assignments.c.role_id == bindparam("role_id"),
            _assignments.c.start_at <= bindparam("at"),
            or_(_assignments.c.end_at.is_(None), _assignments.c.end_at > bindparam("at")),
            _users.c.enabled.is_(True),
        )
    )
    .limit(1)
)


def active_role_ids(db: Session | Connection, user_id: uuid.UUID, at: datetime) -> set[uuid.UUID]:
    """Role ids the user holds active at `at`. A disabled user holds none."""
    rows = db.execute(_ACTIVE_ROLES, {"user_id": user_id, "at": at})
    return {row[0] for row in rows}


def is_active(
    db: Session | Connection, user_id: uuid.UUID, role_id: uuid.UUID, at: datetime
) -> bool:
    row = db.execute(_IS_ACTIVE, {"user_id": user_id, "role_id": role_id, "at": at}).first()
    return row is not None
