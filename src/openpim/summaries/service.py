"""Summaries the dashboard, the role list and the audit page show.

Member counts read every live schedule of a directory. They are read from the role indexes
alone (ix_eligibilities_role, ix_assignments_role carry start, principal and type), the
assignments per role from the range of schedules that have not ended, so the history of ended
activations is never read. They are cached per directory and keyed by the audit chain's last
sequence number: every membership change writes an audit event in the same transaction, so any
change anywhere gives a new key and a fresh count, and a quiet directory is counted once a
minute (the minute covers schedules that start or end by time alone).

Activations per day read the partial index of activation events (ix_audit_events_activations)
alone. A day that has ended never changes (events are stamped with the clock and appended), so
the directory-wide counts of ended days are kept in memory for an hour; only today's events
are counted again on each call.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Executable,
    Integer,
    String,
    TextualSelect,
    bindparam,
    column,
    distinct,
    func,
    literal_column,
    or_,
    select,
    text,
)

from openpim.assignments.models import Assignment, AssignmentType, Eligibility
from openpim.audit.models import AuditChainHead, AuditEvent
from openpim.audit.writer import CHAIN_HEAD_ID
from openpim.auth.permissions import require_read_all
from openpim.kit.clock import ensure_utc
from openpim.kit.context import Ctx
from openpim.kit.errors import Forbidden, ValidationFailed
from openpim.roles.models import RoleDefinition

ACTIVATED_ACTION = "activation.activated"
# Inline literal, not a bind: the partial index's condition must be visible to the planner
# (SQLite never uses a partial index for a bound value; PostgreSQL's generic plans neither).
_ACTIVATED: ColumnElement[str] = literal_column(f"'{ACTIVATED_ACTION}'", String)
ACTIVATIONS_INDEX = "ix_audit_events_activations"
CACHE_SIZE = 64
DAY_CACHE_SIZE = 4096
DAY_CACHE_TTL = timedelta(hours=1)
DAY_SETTLED = timedelta(minutes=5)
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
_DAY = timedelta(days=1)


def _live(model: type[Eligibility] | type[Assignment], now: datetime) -> ColumnElement[bool]:
    return (model.start_at <= now) & or_(model.end_at.is_(None), model.end_at > now)


def _count(ctx: Ctx, directory_id: uuid.UUID, now: datetime) -> list[RoleCounts]:
    roles = ctx.session.execute(
        select(RoleDefinition.id, RoleDefinition.display_name, RoleDefinition.is_privileged)
        .where(
            or_(RoleDefinition.is_built_in.is_(True), RoleDefinition.directory_id == directory_id)
        )
        .order_by(RoleDefinition.display_name)
    ).all()
    eligible = dict(
        ctx.session.execute(
            select(Eligibility.role_id, func.count(distinct(Eligibility.principal_id)))
            .where(Eligibility.directory_id == directory_id, _live(Eligibility, now))
            .group_by(Eligibility.role_id)
        ).all()
    )
    # Two ranges of ix_assignments_role per role: no end (permanent), and ends after now. The
    # ended activations in between (most of the table) are never read.
    role_ids = [role_id for role_id, _, _ in roles]
    assigned: dict[tuple[uuid.UUID, str, bool], int] = {}
    for permanent, live in ((True, Assignment.end_at.is_(None)), (False, Assignment.end_at > now)):
        rows = ctx.session.execute(
            select(
                Assignment.role_id,
                Assignment.assignment_type,
                func.count(distinct(Assignment.principal_id)),
            )
            .where(
                Assignment.directory_id == directory_id,
                Assignment.role_id.in_(role_ids),
                live,
                Assignment.start_at <= now,
            )
            .group_by(Assignment.role_id, Assignment.assignment_type)
        )
        for role_id, kind, n in rows:
            assigned[(role_id, kind, permanent)] = int(n)
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


_day_cache: OrderedDict[tuple[Any, ...], tuple[datetime, list[tuple[uuid.UUID | None, int]]]] = (
    OrderedDict()
)


def _midnight(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


_indexed: set[Any] = set()


def _sqlite_has_activations_index(ctx: Ctx) -> bool:
    """Whether SQLite may be told to use the activations index (a database not yet migrated
    lacks it, and INDEXED BY a missing index is an error)."""
    bind = ctx.session.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    if bind.engine.url in _indexed:
        return True
    found = ctx.session.execute(
        text("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = :name"),
        {"name": ACTIVATIONS_INDEX},
    ).first()
    if found is not None:
        _indexed.add(bind.engine.url)
    return found is not None


def _count_days(
    ctx: Ctx,
    directory_id: uuid.UUID,
    since: datetime,
    until: datetime,
    role_id: uuid.UUID | None,
    user_id: uuid.UUID | None,
) -> list[tuple[date, uuid.UUID | None, int]]:
    if user_id is None and _sqlite_has_activations_index(ctx):
        statement: Executable = _sqlite_days(directory_id, since, until, role_id)
    else:
        day = _day_expression(ctx).label("day")
        query = (
            select(day, AuditEvent.role_id, func.count())
            .where(
                AuditEvent.action == _ACTIVATED,
                AuditEvent.directory_id == directory_id,
                AuditEvent.occurred_at >= since,
                AuditEvent.occurred_at < until,
            )
            .group_by(day, AuditEvent.role_id)
        )
        if role_id is not None:
            query = query.where(AuditEvent.role_id == role_id)
        if user_id is not None:
            # One user's activations: their own index (target_user_id, occurred_at) is narrower.
            query = query.where(AuditEvent.target_user_id == user_id)
        statement = query
    return [
        (date.fromisoformat(str(d)), rid, int(n)) for d, rid, n in ctx.session.execute(statement)
    ]


_SQLITE_DAYS = (
    "SELECT substr(occurred_at, 1, 10) AS day, role_id, count(*) AS n "
    "FROM audit_events INDEXED BY ix_audit_events_activations "
    "WHERE action = 'activation.activated' AND directory_id = :directory_id "
    "AND occurred_at >= :since AND occurred_at < :until "
    "GROUP BY day, role_id"
)
_SQLITE_DAYS_OF_ROLE = _SQLITE_DAYS.replace(" GROUP BY", " AND role_id = :role_id GROUP BY")


def _sqlite_days(
    directory_id: uuid.UUID, since: datetime, until: datetime, role_id: uuid.UUID | None
) -> TextualSelect:
    """The same count for SQLite, told to use the activations index: its planner prefers
    ix_audit_events_action_time (it cannot see that the partial index covers the query) and
    then reads the table for every event, several times slower. SQLAlchemy renders no index
    hints for SQLite, hence the text; binds and results keep the columns' types."""
    statement = text(_SQLITE_DAYS_OF_ROLE if role_id is not None else _SQLITE_DAYS)
    binds = [
        bindparam("directory_id", directory_id, type_=AuditEvent.directory_id.type),
        bindparam("since", since, type_=AuditEvent.occurred_at.type),
        bindparam("until", until, type_=AuditEvent.occurred_at.type),
    ]
    if role_id is not None:
        binds.append(bindparam("role_id", role_id, type_=AuditEvent.role_id.type))
    return statement.bindparams(*binds).columns(
        column("day", String), column("role_id", AuditEvent.role_id.type), column("n", Integer)
    )


def _directory_days(
    ctx: Ctx, directory_id: uuid.UUID, since: datetime, until: datetime
) -> list[tuple[date, uuid.UUID | None, int]]:
    """The directory's activations in [since, until), ended days from the day cache."""
    first_full = _midnight(since) if _midnight(since) == since else _midnight(since) + _DAY
    # Only days that ended a while ago: a transaction begun before midnight may still commit.
    last_full = min(_midnight(until), _midnight(ctx.now - DAY_SETTLED))
    if last_full - first_full < _DAY:
        return _count_days(ctx, directory_id, since, until, None, None)
    engine_url = ctx.session.get_bind().engine.url
    days = [first_full + _DAY * i for i in range((last_full - first_full) // _DAY)]
    cached: dict[datetime, list[tuple[uuid.UUID | None, int]]] = {}
    with _cache_lock:
        for d in days:
            hit = _day_cache.get((engine_url, directory_id, d))
            if hit is not None and ctx.now - hit[0] < DAY_CACHE_TTL:
                cached[d] = hit[1]
    missing = [d for d in days if d not in cached]
    if missing:
        fresh: dict[datetime, list[tuple[uuid.UUID | None, int]]] = {d: [] for d in missing}
        block = _count_days(ctx, directory_id, missing[0], missing[-1] + _DAY, None, None)
        for counted, rid, n in block:
            key = datetime(counted.year, counted.month, counted.day, tzinfo=UTC)
            if key in fresh:
                fresh[key].append((rid, n))
        with _cache_lock:
            for d, counts in fresh.items():
                _day_cache[(engine_url, directory_id, d)] = (ctx.now, counts)
                _day_cache.move_to_end((engine_url, directory_id, d))
            while len(_day_cache) > DAY_CACHE_SIZE:
                _day_cache.popitem(last=False)
        cached.update(fresh)
    out = [(d.date(), rid, n) for d in days for rid, n in cached[d]]
    if since < first_full:
        out += _count_days(ctx, directory_id, since, first_full, None, None)
    if last_full < until:
        out += _count_days(ctx, directory_id, last_full, until, None, None)
    return out


def _role_names(ctx: Ctx, role_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Current role names, and for a role that no longer exists the name its events recorded."""
    if not role_ids:
        return {}
    names: dict[uuid.UUID, str] = dict(
        ctx.session.execute(
            select(RoleDefinition.id, RoleDefinition.display_name).where(
                RoleDefinition.id.in_(role_ids)
            )
        ).all()
    )
    gone = role_ids - names.keys()
    if gone:
        for gone_id, label in ctx.session.execute(
            select(AuditEvent.role_id, func.max(AuditEvent.role_label))
            .where(AuditEvent.role_id.in_(gone))
            .group_by(AuditEvent.role_id)
        ):
            if gone_id is not None and label:
                names[gone_id] = label
    return names


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
    directory's, for PIM's readers. Roles are named as they are called now.
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
    if role_id is None and user_id is None:
        rows = _directory_days(ctx, directory_id, since, until)
    else:
        rows = _count_days(ctx, directory_id, since, until, role_id, user_id)
    names = _role_names(ctx, {rid for _, rid, _ in rows if rid is not None})
    totals: dict[tuple[date, uuid.UUID | None], int] = {}
    for d, rid, n in rows:
        totals[(d, rid)] = totals.get((d, rid), 0) + n
    out = [
        DayCount(d, rid, names.get(rid, "(unknown role)") if rid else "(unknown role)", n)
        for (d, rid), n in totals.items()
    ]
    return sorted(out, key=lambda c: (c.day, c.role))


def clear_caches() -> None:
    """Forget every cached count (and which databases have the activations index): the next
    call counts from the database (benchmarks, tests)."""
    with _cache_lock:
        _cache.clear()
        _day_cache.clear()
        _indexed.clear()
