"""Summaries the dashboard, the role list and the audit page show.

Member counts scan a directory's schedules (no index narrows "live now" on its own), which at a
million assignments costs a few hundred milliseconds. They are cached per directory and keyed by
the audit chain's last sequence number: every membership change writes an audit event in the
same transaction, so any change anywhere gives a new key and a fresh count, and a quiet
directory is counted once a minute (the minute covers schedules that start or end by time alone).

Activations per day read the audit history through its (action, occurred_at) index.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, distinct, func, or_, select

from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.audit.models import AuditChainHead, AuditEvent
from openpim.audit.writer import CHAIN_HEAD_ID
from openpim.auth.permissions import require_read_all
from openpim.kit.clock import ensure_utc
from openpim.kit.context import Ctx
from openpim.kit.errors import Forbidden, ValidationFailed
from openpim.roles.models import RoleDefinition

ACTIVATED_ACTION = "activation.activated"
CACHE_SIZE = 64
MAX_DAYS = 400


@dataclass(frozen=True)
class RoleCounts:
    role_id: uuid.UUID
    display_name: str
    is_privileged: bool
    eligible: int
    permanent: int  # assigned with no end
    time_bound: int  # assigned with an end
    activated: int  # active now through an activation

    @property
    def members(self) -> int:
        """Users holding the role: eligible plus assigned (activations come from eligibility)."""
        return self.eligible + self.permanent + self.time_bound


@dataclass(frozen=True)
class CountsSnapshot:
    roles: list[RoleCounts]
    counted_at: datetime

    def by_role(self) -> dict[uuid.UUID, RoleCounts]:
        return {r.role_id: r for r in self.roles}


@dataclass(frozen=True)
class DayCount:
    day: date
    role_id: uuid.UUID | None
    role: str
    count: int


_cache: OrderedDict[tuple[Any, ...], CountsSnapshot] = OrderedDict()
_cache_lock = threading.Lock()


def _live(model: type[Eligibility] | type[Assignment], now: datetime) -> ColumnElement[bool]:
    return (model.start_at <= now) & or_(model.end_at.is_(None), model.end_at > now)


def _count(ctx: Ctx, directory_id: uuid.UUID, now: datetime) -> list[RoleCounts]:
    eligible = dict(
        ctx.session.execute(
            select(Eligibility.role_id, func.count(distinct(Eligibility.principal_id)))
            .where(Eligibility.directory_id == directory_id, _live(Eligibility, now))
            .group_by(Eligibility.role_id)
        ).all()
    )
    assigned: dict[tuple[uuid.UUID, str, bool], int] = {}
    rows = ctx.session.execute(
        select(
            Assignment.role_id,
            Assignment.assignment_type,
            Assignment.end_at.is_(None),
            func.count(distinct(Assignment.principal_id)),
        )
        .where(Assignment.directory_id == directory_id, _live(Assignment, now))
        .group_by(Assignment.role_id, Assignment.assignment_type, Assignment.end_at.is_(None))
    )
    for role_id, kind, permanent, n in rows:
        assigned[(role_id, kind, bool(permanent))] = int(n)
    roles = ctx.session.execute(
        select(RoleDefinition.id, RoleDefinition.display_name, RoleDefinition.is_privileged)
        .where(
            or_(RoleDefinition.is_built_in.is_(True), RoleDefinition.directory_id == directory_id)
        )
        .order_by(RoleDefinition.display_name)
    )
    out = []
    for role_id, name, privileged in roles:
        out.append(
            RoleCounts(
                role_id=role_id,
                display_name=name,
                is_privileged=bool(privileged),
                eligible=int(eligible.get(role_id, 0)),
                permanent=assigned.get((role_id, AssignmentType.ASSIGNED, True), 0),
                time_bound=assigned.get((role_id, AssignmentType.ASSIGNED, False), 0),
                activated=assigned.get((role_id, AssignmentType.ACTIVATED, False), 0)
                + assigned.get((role_id, AssignmentType.ACTIVATED, True), 0),
            )
        )
    return out


def role_counts(ctx: Ctx, directory_id: uuid.UUID) -> CountsSnapshot:
    """Every role the directory sees with its live member counts. PIM's readers only."""
    require_read_all(ctx, directory_id)
    now = ctx.now
    last_seq = ctx.session.execute(
        select(AuditChainHead.last_seq).where(AuditChainHead.id == CHAIN_HEAD_ID)
    ).scalar_one_or_none()
    key = (ctx.session.get_bind().engine.url, directory_id, last_seq, int(now.timestamp() // 60))
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    snapshot = CountsSnapshot(_count(ctx, directory_id, now), now)
    with _cache_lock:
        _cache[key] = snapshot
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return snapshot


def _day_expression(ctx: Ctx) -> ColumnElement[str]:
    if ctx.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", AuditEvent.occurred_at), "YYYY-MM-DD")
    # SQLite keeps naive UTC text 'YYYY-MM-DD HH:MM:SS...' (db/base.py UTCDateTime).
    return func.substr(AuditEvent.occurred_at, 1, 10)


def activations_by_day(
    ctx: Ctx,
    directory_id: uuid.UUID | None,
    since: datetime,
    until: datetime,
    *,
    role_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> list[DayCount]:
    """Activations per UTC day and role in [since, until).

    `directory_id` None counts the caller's own activations (My audit); otherwise the
    directory's, for PIM's readers.
    """
    since, until = ensure_utc(since), ensure_utc(until)
    if until <= since or until - since > timedelta(days=MAX_DAYS):
        raise ValidationFailed(
            f"The range must be positive and at most {MAX_DAYS} days.",
            code="invalid_range",
            field="until",
        )
    if directory_id is None:
        if ctx.actor.user_id is None or ctx.actor.directory_id is None:
            raise Forbidden("Only a signed-in user has activations.", code="not_a_user")
        directory_id, user_id = ctx.actor.directory_id, ctx.actor.user_id
    else:
        require_read_all(ctx, directory_id)
    day = _day_expression(ctx).label("day")
    statement = (
        select(day, AuditEvent.role_id, AuditEvent.role_label, func.count())
        .where(
            AuditEvent.action == ACTIVATED_ACTION,
            AuditEvent.occurred_at >= since,
            AuditEvent.occurred_at < until,
            AuditEvent.directory_id == directory_id,
        )
        .group_by(day, AuditEvent.role_id, AuditEvent.role_label)
    )
    if role_id is not None:
        statement = statement.where(AuditEvent.role_id == role_id)
    if user_id is not None:
        statement = statement.where(AuditEvent.target_user_id == user_id)
    out = [
        DayCount(date.fromisoformat(str(d)), rid, label or "(unknown role)", int(n))
        for d, rid, label, n in ctx.session.execute(statement)
    ]
    return sorted(out, key=lambda c: (c.day, c.role))
