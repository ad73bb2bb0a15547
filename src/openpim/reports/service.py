"""History and reports: activation history, assignment changes, per-role statistics.

PIM's readers (PRA, Global Administrator, Security Administrator, Security Reader, Global
Reader) see the whole directory; anyone else may ask for their own history only (a filter on
their own user id). Statistics are for readers.

Pages are keyset-paginated (an opaque cursor), exports stream (export.py): `*_export` checks
authorisation now and returns a generator that reads on its own connection later.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from openpim.auth.permissions import can_read_all, require_read_all
from openpim.directory.models import Directory
from openpim.kit.clock import ensure_utc
from openpim.kit.context import Actor, Ctx
from openpim.kit.errors import Forbidden, ValidationFailed
from openpim.kit.pagination import cursor_instant, cursor_number, require_page
from openpim.reports import export
from openpim.reports.history import (
    ACTIVATION_COLUMNS,
    ACTIVATION_TEXT,
    CHANGE_COLUMNS,
    CHANGE_TEXT,
    ReportFilter,
    activation_after,
    activation_row,
    activation_statement,
    change_after,
    change_row,
    change_statement,
    checked,
)
from openpim.reports.statistics import closed_days
from openpim.reports.statistics.report import role_statistics
from openpim.reports.statistics.results import RoleStatistics

if TYPE_CHECKING:
    from openpim.runtime import Runtime

MAX_PAGE = 500
DEFAULT_STATS_RANGE = timedelta(days=30)
FORMATS = ("csv", "json")

__all__ = [
    "ACTIVATION_COLUMNS",
    "CHANGE_COLUMNS",
    "ReportFilter",
    "ReportPage",
    "activation_export",
    "activation_history",
    "assignment_changes",
    "change_export",
    "statistics",
    "statistics_export",
]


@dataclass(frozen=True)
class ReportPage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _authorise(ctx: Ctx, directory_id: uuid.UUID, flt: ReportFilter) -> ReportFilter:
    """Readers see everything; others only their own rows (and must say so in the filter)."""
    flt = checked(flt)
    if can_read_all(ctx, directory_id):
        return flt
    own = ctx.actor.user_id
    if own is None or ctx.actor.directory_id != directory_id:
        raise Forbidden("Only signed-in users of this directory have a history.", code="not_a_user")
    if flt.user_id not in (None, own):
        raise Forbidden(
            "Reading other users' history needs a PIM reader role.", code="not_pim_reader"
        )
    return replace(flt, user_id=own)


def _encode(instant: datetime, key: str) -> str:
    raw = f"{ensure_utc(instant).isoformat()}|{key}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        instant, key = text.split("|")
        return cursor_instant(instant), key
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "The cursor is not one this server handed out.", code="invalid_cursor", field="cursor"
        ) from None


def _limit(limit: int) -> int:
    require_page(limit, MAX_PAGE)
    return limit


def activation_history(
    ctx: Ctx,
    directory_id: uuid.UUID,
    flt: ReportFilter | None = None,
    *,
    cursor: str | None = None,
    limit: int = 100,
) -> ReportPage:
    """Activations, newest first: requested and actual window, how each ended, approver."""
    flt = _authorise(ctx, directory_id, flt or ReportFilter())
    stmt = activation_statement(directory_id, flt)
    if cursor:
        instant, key = _decode(cursor)
        try:
            stmt = stmt.where(activation_after(instant, uuid.UUID(key)))
        except ValueError:
            raise ValidationFailed("Bad cursor.", code="invalid_cursor", field="cursor") from None
    rows = ctx.session.execute(stmt.limit(_limit(limit) + 1)).all()
    items = [activation_row(r, ctx.now) for r in rows[:limit]]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return ReportPage(items, _encode(last.start_at, str(last.id)) if last is not None else None)


def assignment_changes(
    ctx: Ctx,
    directory_id: uuid.UUID,
    flt: ReportFilter | None = None,
    *,
    cursor: str | None = None,
    limit: int = 100,
) -> ReportPage:
    """Membership changes from the audit history, newest first."""
    flt = _authorise(ctx, directory_id, flt or ReportFilter())
    stmt = change_statement(directory_id, flt)
    if cursor:
        instant, key = _decode(cursor)
        try:
            seq = cursor_number(key, minimum=1)
        except ValueError:
            raise ValidationFailed("Bad cursor.", code="invalid_cursor", field="cursor") from None
        stmt = stmt.where(change_after(instant, seq))
    rows = ctx.session.execute(stmt.limit(_limit(limit) + 1)).all()
    items = [change_row(r) for r in rows[:limit]]
    more = len(rows) > limit
    last = rows[limit - 1] if more else None
    return ReportPage(items, _encode(last.occurred_at, str(last.seq)) if last is not None else None)


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValidationFailed("format must be csv or json.", code="invalid_format", field="format")
    return fmt


def activation_export(
    ctx: Ctx, engine: Engine, directory_id: uuid.UUID, flt: ReportFilter, fmt: str = "csv"
) -> Iterator[str]:
    """Authorise now; the returned generator streams the whole report later."""
    flt = _authorise(ctx, directory_id, flt)
    fmt, now = _format(fmt), ctx.now
    batches = export.stream_rows(
        engine, activation_statement(directory_id, flt), lambda r: activation_row(r, now)
    )
    if fmt == "json":
        return export.to_json(batches)
    return export.to_csv(ACTIVATION_COLUMNS, batches, free_text=ACTIVATION_TEXT)


def change_export(
    ctx: Ctx, engine: Engine, directory_id: uuid.UUID, flt: ReportFilter, fmt: str = "csv"
) -> Iterator[str]:
    flt = _authorise(ctx, directory_id, flt)
    fmt = _format(fmt)
    batches = export.stream_rows(engine, change_statement(directory_id, flt), change_row)
    if fmt == "json":
        return export.to_json(batches)
    return export.to_csv(CHANGE_COLUMNS, batches, free_text=CHANGE_TEXT)


def statistics(
    ctx: Ctx,
    directory_id: uuid.UUID,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    role_id: uuid.UUID | None = None,
) -> RoleStatistics:
    """Per-role statistics over [since, until) (default: the last 30 days). Readers only."""
    require_read_all(ctx, directory_id)
    flt = checked(ReportFilter(since=since, until=until))
    end = flt.until or ctx.now
    start = flt.since or end - DEFAULT_STATS_RANGE
    return role_statistics(ctx.session, directory_id, start, end, ctx.now, role_id)


# The statistics page's closed days are counted again this often, well inside their hour in
# the cache (closed_days.CACHE_TTL), for the default range and each PIM directory.
STATISTICS_REFRESH = timedelta(minutes=20)


def refresh_statistics(runtime: Runtime, *, now: datetime | None = None) -> int:
    """Keep the default statistics range counted in this process (the housekeeping loop).

    Returns the number of directories refreshed (0 when the last refresh is recent enough).
    """
    instant = now or runtime.clock.now()
    key = runtime.db.engine.url
    last = closed_days.refreshed_at.get(key)
    if last is not None and last <= instant < last + STATISTICS_REFRESH:
        return 0
    refreshed = 0
    with runtime.read(Actor.system("system:statistics")) as ctx:
        directories = ctx.session.scalars(
            select(Directory.id).where(Directory.pim_enabled_at.is_not(None))
        ).all()
        for directory_id in directories:
            closed_days.refresh_closed_days(
                ctx.session,
                directory_id,
                instant - DEFAULT_STATS_RANGE - timedelta(days=1),
                instant,
            )
            refreshed += 1
    closed_days.refreshed_at[key] = instant
    return refreshed


STAT_DAY_COLUMNS = ("day", "activations", "distinct_users", "eligible", "permanent")
STAT_ROLE_COLUMNS = (
    "role_id", "role", "activations", "distinct_users", "average_seconds", "eligible", "permanent",
)  # fmt: skip


def statistics_export(stats: RoleStatistics, part: str, fmt: str = "csv") -> Iterator[str]:
    """The days or the per-role summary of computed statistics, as CSV or JSON."""
    _format(fmt)
    if part == "days":
        columns: tuple[str, ...] = STAT_DAY_COLUMNS
        rows = [{**p.__dict__, "day": p.day.isoformat()} for p in stats.days]
    elif part == "roles":
        columns = STAT_ROLE_COLUMNS
        rows = [{**s.__dict__, "role_id": str(s.role_id)} for s in stats.roles]
    else:
        raise ValidationFailed("part must be days or roles.", code="invalid_part", field="part")
    return export.to_csv(columns, [rows]) if fmt == "csv" else export.to_json([rows])
