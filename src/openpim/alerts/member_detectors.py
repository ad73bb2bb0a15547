"""The alerts about who holds roles: too many Global Administrators, unused roles, stale
accounts, fewer than two Privileged Role Administrators.

They ignore disabled users: a disabled user holds no role (access/service.py), so is no risk.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import and_, func, or_, select

from openpim.alerts.findings import Finding, dedupe, iso, member_key, memberships, of_type
from openpim.assignments.models import Assignment, AssignmentType, MemberType
from openpim.directory.models import AccountKind
from openpim.kit.context import Ctx
from openpim.roles import ids

# --- 2. too many Global Administrators --------------------------------------------------------


def too_many_global_admins(
    ctx: Ctx, directory_id: uuid.UUID, thresholds: dict[str, int]
) -> list[Finding]:
    now = ctx.now
    members = memberships(directory_id, now).subquery()
    all_admins = ctx.session.execute(
        select(func.count(func.distinct(members.c.principal_id)))
    ).scalar_one()
    rows = ctx.session.execute(
        memberships(directory_id, now, role_ids={ids.GLOBAL_ADMINISTRATOR})
    ).all()
    ga_users = {row.principal_id for row in rows}
    count = len(ga_users)
    percent = (100.0 * count / all_admins) if all_admins else 0.0
    if not (
        count > thresholds["global_admin_count"] and percent > thresholds["global_admin_percent"]
    ):
        return []
    summary = {"global_admins": count, "all_admins": int(all_admins), "percent": round(percent, 2)}
    return dedupe(
        [
            Finding(
                key=member_key(row.principal_id, row.role_id, row.member_type),
                user_id=row.principal_id,
                user_label=row.user_principal_name,
                role_id=row.role_id,
                role_label=row.display_name,
                member_type=row.member_type,
                schedule_id=row.schedule_id,
                onset_at=row.start_at,
                detail={**summary, "convertible": row.member_type == MemberType.ACTIVE},
            )
            for row in rows
        ]
    )


def _unused_detail(row: Any, days: int, horizon: datetime) -> dict[str, Any]:
    return {
        "last_activation_at": iso(row.last_activation_at),
        # No activation found back to this instant (the search stops there).
        "no_activation_since": None if row.last_activation_at else iso(horizon),
        "member_since": iso(row.start_at),
        "days_without_activation": days,
    }


def _stale_detail(row: Any, days: int) -> dict[str, Any]:
    return {"last_sign_in_at": iso(row.last_sign_in_at), "days_without_sign_in": days}


def _lean_finding(row: Any, onset: datetime, detail: Any) -> Finding:
    return Finding(
        key=member_key(row.principal_id, row.role_id, row.member_type),
        user_id=row.principal_id,
        role_id=row.role_id,
        member_type=row.member_type,
        schedule_id=row.schedule_id,
        onset_at=onset,
        detail=detail,
    )


# --- 5. administrators not using their privileged roles ----------------------------------------

# How far back, beyond the threshold, the last activation is looked for. Bounding the search
# keeps the scan proportional to recent history instead of to every activation ever made; an
# older last activation is reported as "none since <horizon>", and its onset taken as the
# horizon (so a dismissal older than this is looked at again).
ACTIVATION_LOOKBACK = timedelta(days=90)


def unused_roles(ctx: Ctx, directory_id: uuid.UUID, thresholds: dict[str, int]) -> list[Finding]:
    now = ctx.now
    days = timedelta(days=thresholds["days"])
    cutoff = now - days
    horizon = cutoff - ACTIVATION_LOOKBACK
    m = memberships(directory_id, now, privileged_only=True, lean=True).subquery()
    last = (
        select(
            Assignment.principal_id,
            Assignment.role_id,
            func.max(Assignment.start_at).label("last_activation_at"),
        )
        .where(
            Assignment.directory_id == directory_id,
            of_type(AssignmentType.ACTIVATED),
            Assignment.start_at > horizon,
            Assignment.start_at <= now,
        )
        .group_by(Assignment.principal_id, Assignment.role_id)
        .subquery()
    )
    stmt = (
        select(
            m.c.principal_id,
            m.c.role_id,
            m.c.member_type,
            m.c.schedule_id,
            m.c.start_at,
            last.c.last_activation_at,
        )
        .outerjoin(
            last, and_(last.c.principal_id == m.c.principal_id, last.c.role_id == m.c.role_id)
        )
        .where(
            m.c.start_at < cutoff,
            or_(last.c.last_activation_at.is_(None), last.c.last_activation_at < cutoff),
        )
    )
    findings = []
    # Core execution on the connection: tens of thousands of plain rows, no ORM layer.
    for row in ctx.session.connection().execute(stmt).all():
        reference = max(row.start_at, row.last_activation_at or horizon)
        detail = partial(_unused_detail, row, (now - reference).days, horizon)
        findings.append(_lean_finding(row, reference + days, detail))
    return dedupe(findings)


# --- 6. potential stale accounts in a privileged role ------------------------------------------


def stale_accounts(ctx: Ctx, directory_id: uuid.UUID, thresholds: dict[str, int]) -> list[Finding]:
    now = ctx.now
    days = timedelta(days=thresholds["days"])
    cutoff = now - days
    m = memberships(directory_id, now, privileged_only=True, lean=True).subquery()
    seen = func.coalesce(m.c.last_sign_in_at, m.c.user_created_at)
    findings = []
    for row in ctx.session.connection().execute(select(m).where(seen < cutoff)).all():
        reference = row.last_sign_in_at or row.user_created_at
        detail = partial(_stale_detail, row, (now - reference).days)
        findings.append(_lean_finding(row, reference + days, detail))
    return dedupe(findings)


# --- 7. fewer than two Privileged Role Administrators ------------------------------------------


def too_few_pras(ctx: Ctx, directory_id: uuid.UUID, _t: dict[str, int]) -> list[Finding]:
    rows = ctx.session.execute(
        memberships(directory_id, ctx.now, role_ids={ids.PRIVILEGED_ROLE_ADMINISTRATOR})
    ).all()
    holders = sorted(
        {
            (row.principal_id, row.user_principal_name)
            for row in rows
            if row.account_kind == AccountKind.ORGANIZATIONAL
        },
        key=lambda h: h[1],
    )
    if len(holders) >= 2:
        return []
    return [
        Finding(
            # The count is part of the key: losing the last one is a new occurrence.
            key=f"pra_holders:{len(holders)}",
            user_id=holders[0][0] if holders else None,
            user_label=holders[0][1] if holders else None,
            role_id=ids.PRIVILEGED_ROLE_ADMINISTRATOR,
            role_label="Privileged Role Administrator",
            detail={"holders": [upn for _, upn in holders], "count": len(holders)},
        )
    ]
