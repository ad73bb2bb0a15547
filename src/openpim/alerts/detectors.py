"""One detector per alert: a read-only query that returns the alert's current findings.

This module holds the alerts about assignments and settings (outside PIM, too-frequent
activation, roles without MFA) and the registry; the membership alerts are in
member_detectors.py. The outside-PIM alert counts disabled users too: a row written behind
PIM's back is evidence even when its user is disabled.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select

from openpim.alerts.definitions import AlertType
from openpim.alerts.findings import Detector, Finding, iso, live, of_type
from openpim.alerts.member_detectors import (
    stale_accounts,
    too_few_pras,
    too_many_global_admins,
    unused_roles,
)
from openpim.assignments.models import (
    Assignment,
    AssignmentType,
    MemberType,
    RequestAction,
    RequestStatus,
    RoleRequest,
)
from openpim.audit.models import AuditEvent
from openpim.directory.models import User
from openpim.kit.context import Ctx
from openpim.policies.models import RolePolicy
from openpim.policies.service import read_directory_settings
from openpim.roles import ids
from openpim.roles.models import RoleDefinition

BOOTSTRAP_EVENT = "assignment.created"

__all__ = ["DETECTORS", "Finding", "bootstrap_assignment_id"]


# --- 1. roles assigned outside PIM ------------------------------------------------------------


def bootstrap_assignment_id(ctx: Ctx) -> uuid.UUID | None:
    """The schedule the one bootstrap of this deployment created, from the audit chain.

    Bootstrap is refused once any directory exists, so exactly one genuine bootstrap event can
    exist, and it is the earliest of its kind. A forged later event (someone who can write the
    tables can also append a row) is never the earliest, so it cannot bless a second row.
    """
    row = ctx.session.execute(
        select(
            AuditEvent.schedule_id,
            AuditEvent.target_user_id,
            AuditEvent.role_id,
            AuditEvent.start_at,
            AuditEvent.detail,
        )
        .where(AuditEvent.action == BOOTSTRAP_EVENT)
        .order_by(AuditEvent.occurred_at, AuditEvent.seq)
        .limit(1)
    ).first()
    if row is None or row.schedule_id is None or row.role_id != ids.GLOBAL_ADMINISTRATOR:
        return None
    try:
        detail = json.loads(row.detail or "{}")
    except ValueError:
        return None
    if not isinstance(detail, dict) or detail.get("created_via") != "bootstrap":
        return None
    assignment = ctx.session.get(Assignment, row.schedule_id)
    if (
        assignment is None
        or assignment.principal_id != row.target_user_id
        or assignment.role_id != ids.GLOBAL_ADMINISTRATOR
        or assignment.start_at != row.start_at
        or assignment.request_id is not None
        or assignment.created_via != "bootstrap"
    ):
        return None
    return assignment.id


_REQUEST_ACTIONS_BY_TYPE = {
    AssignmentType.ASSIGNED: (RequestAction.ADMIN_ASSIGN, RequestAction.ADMIN_RENEW),
    AssignmentType.ACTIVATED: (RequestAction.SELF_ACTIVATE,),
}
_GRANTING = (RequestStatus.PROVISIONED, RequestStatus.GRANTED)


def _made_by_pim(a: type[Assignment], r: Any) -> ColumnElement[bool]:
    """The request exists, is granted, is for the same member and role, and names this row.

    Every term is on a NOT NULL column or guarded by IS NOT NULL, so the whole is never NULL
    (a NULL would silently drop the row from NOT (...)).
    """
    return and_(
        r.id.is_not(None),
        r.result_schedule_id.is_not(None),
        r.result_schedule_id == a.id,
        r.principal_id == a.principal_id,
        r.role_id == a.role_id,
        r.directory_id == a.directory_id,
        r.member_type == MemberType.ACTIVE,
        r.status.in_(_GRANTING),
        or_(
            and_(
                a.assignment_type == AssignmentType.ASSIGNED,
                r.action.in_(_REQUEST_ACTIONS_BY_TYPE[AssignmentType.ASSIGNED]),
            ),
            and_(
                a.assignment_type == AssignmentType.ACTIVATED,
                r.action.in_(_REQUEST_ACTIONS_BY_TYPE[AssignmentType.ACTIVATED]),
            ),
        ),
    )


def _outside_reason(row: Any) -> str:
    if row.request_id is None:
        return "no PIM request made this assignment"
    if row.found_request_id is None:
        return "the request it names does not exist"
    return "the request it names did not grant this assignment"


def _outside_detail(row: Any) -> dict[str, Any]:
    return {
        "reason": _outside_reason(row),
        "assignment_type": row.assignment_type,
        "created_via": row.created_via,
        "request_id": str(row.request_id) if row.request_id else None,
        "start_at": iso(row.start_at),
        "end_at": iso(row.end_at),
        # Only assigned rows can be converted; an activation is removed.
        "convertible": row.assignment_type == AssignmentType.ASSIGNED,
    }


def outside_pim(ctx: Ctx, directory_id: uuid.UUID, _t: dict[str, int]) -> list[Finding]:
    now = ctx.now
    r = RoleRequest.__table__.alias("r")
    stmt = (
        select(
            Assignment.id,
            Assignment.principal_id,
            Assignment.role_id,
            Assignment.assignment_type,
            Assignment.created_via,
            Assignment.created_at,
            Assignment.start_at,
            Assignment.end_at,
            Assignment.request_id,
            r.c.id.label("found_request_id"),
        )
        .outerjoin(r, r.c.id == Assignment.request_id)
        .where(
            Assignment.directory_id == directory_id,
            live(Assignment, now),
            not_(_made_by_pim(Assignment, r.c)),
        )
    )
    # Core execution on the connection (no ORM layer); names are added for stored items only.
    rows = ctx.session.connection().execute(stmt).all()
    blessed = bootstrap_assignment_id(ctx) if rows else None
    return [
        Finding(
            key=str(row.id),
            user_id=row.principal_id,
            role_id=row.role_id,
            member_type=MemberType.ACTIVE,
            schedule_id=row.id,
            onset_at=row.created_at,
            detail=partial(_outside_detail, row),
        )
        for row in rows
        if row.id != blessed
    ]


# --- 3. roles activated too frequently --------------------------------------------------------


def too_frequent_activation(
    ctx: Ctx, directory_id: uuid.UUID, thresholds: dict[str, int]
) -> list[Finding]:
    now = ctx.now
    since = now - timedelta(hours=thresholds["window_hours"])
    counted = (
        select(
            Assignment.principal_id,
            Assignment.role_id,
            func.count().label("activations"),
            func.min(Assignment.start_at).label("first_at"),
            func.max(Assignment.start_at).label("last_at"),
        )
        .where(
            Assignment.directory_id == directory_id,
            of_type(AssignmentType.ACTIVATED),
            Assignment.start_at > since,
            Assignment.start_at <= now,
        )
        .group_by(Assignment.principal_id, Assignment.role_id)
        .having(func.count() >= thresholds["activation_count"])
        .subquery()
    )
    rows = ctx.session.execute(
        select(counted, User.user_principal_name, RoleDefinition.display_name)
        .join(User, User.id == counted.c.principal_id)
        .join(RoleDefinition, RoleDefinition.id == counted.c.role_id)
    ).all()
    return sorted(
        (
            Finding(
                key=f"{row.principal_id}:{row.role_id}",
                user_id=row.principal_id,
                user_label=row.user_principal_name,
                role_id=row.role_id,
                role_label=row.display_name,
                # A new activation after a dismissal is a new occurrence.
                onset_at=row.last_at,
                detail={
                    "activations": int(row.activations),
                    "first_at": iso(row.first_at),
                    "last_at": iso(row.last_at),
                    "window_hours": thresholds["window_hours"],
                },
            )
            for row in rows
        ),
        key=lambda f: f.key,
    )


# --- 4. roles that don't require MFA on activation --------------------------------------------


def roles_without_mfa(ctx: Ctx, directory_id: uuid.UUID, _t: dict[str, int]) -> list[Finding]:
    lacking = [
        s
        for s in read_directory_settings(ctx.session, directory_id)
        if not s.require_mfa_on_activation
    ]
    if not lacking:
        return []
    role_ids = [s.role_id for s in lacking]
    changed = dict(
        ctx.session.execute(
            select(RolePolicy.role_id, RolePolicy.updated_at).where(
                RolePolicy.directory_id == directory_id, RolePolicy.role_id.in_(role_ids)
            )
        ).all()
    )
    names = dict(
        ctx.session.execute(
            select(RoleDefinition.id, RoleDefinition.display_name).where(
                RoleDefinition.id.in_(role_ids)
            )
        ).all()
    )
    return [
        Finding(
            key=str(s.role_id),
            role_id=s.role_id,
            role_label=names.get(s.role_id),
            # Switching MFA off again after a dismissal is a new occurrence.
            onset_at=changed.get(s.role_id),
            detail={"require_mfa_on_activation": False},
        )
        for s in sorted(lacking, key=lambda s: str(s.role_id))
    ]


DETECTORS: dict[AlertType, Detector] = {
    AlertType.OUTSIDE_PIM: outside_pim,
    AlertType.TOO_MANY_GLOBAL_ADMINS: too_many_global_admins,
    AlertType.TOO_FREQUENT_ACTIVATION: too_frequent_activation,
    AlertType.NO_MFA_ON_ACTIVATION: roles_without_mfa,
    AlertType.UNUSED_ROLES: unused_roles,
    AlertType.STALE_ACCOUNTS: stale_accounts,
    AlertType.TOO_FEW_PRAS: too_few_pras,
}
