"""History and reports: activation history, assignment changes, per-role statistics.

Readers see the directory; anyone else gets their own rows only. Every report has a paged JSON
form and a streamed export (`format=csv` or `format=json`) with the same filters.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from openpim.api.deps import READER, SELF_OR_READER, CallerDep, StrictRoute, UtcDatetime, access
from openpim.api.download import CSV, attachment
from openpim.api.scope import directory_of
from openpim.reports import service as reports
from openpim.reports.history import ReportFilter
from openpim.reports.statistics.results import RoleStatistics

router = APIRouter(tags=["reports"], route_class=StrictRoute)

Format = Literal["csv", "json"]
_MEDIA = {"csv": CSV, "json": "application/json"}


async def report_filter(
    since: Annotated[UtcDatetime | None, Query(description="From (inclusive)")] = None,
    until: Annotated[UtcDatetime | None, Query(description="To (exclusive)")] = None,
    role_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
) -> ReportFilter:
    return ReportFilter(since=since, until=until, role_id=role_id, user_id=user_id)


FilterDep = Annotated[ReportFilter, Depends(report_filter)]
CursorParam = Annotated[str | None, Query(max_length=200)]
LimitParam = Annotated[int, Query(ge=1, le=reports.MAX_PAGE)]


class ReportPageOut(BaseModel):
    items: list[dict[str, Any]]
    # Pass back as `cursor` for the next (older) page; null on the last page.
    next_cursor: str | None


class DayOut(BaseModel):
    day: date
    activations: int
    distinct_users: int
    eligible: int
    permanent: int


class RoleSummaryOut(BaseModel):
    role_id: uuid.UUID
    role: str
    activations: int
    distinct_users: int
    average_seconds: float | None
    eligible: int
    permanent: int


class StatisticsOut(BaseModel):
    since: datetime
    until: datetime
    role_id: uuid.UUID | None
    roles: list[RoleSummaryOut]
    days: list[DayOut]

    @classmethod
    def of(cls, s: RoleStatistics) -> StatisticsOut:
        return cls(
            since=s.since,
            until=s.until,
            role_id=s.role_id,
            roles=[RoleSummaryOut(**r.__dict__) for r in s.roles],
            days=[DayOut(**d.__dict__) for d in s.days],
        )


def _stream(chunks: Iterator[str], name: str, fmt: str) -> StreamingResponse:
    return attachment(chunks, f"openpim-{name}.{fmt}", _MEDIA[fmt])


@router.get(
    "/reports/activations",
    summary="Activation history, newest first: requested and actual window, end, approver",
    response_model=ReportPageOut,
    openapi_extra=access(SELF_OR_READER),
)
def activations(
    caller: CallerDep, flt: FilterDep, cursor: CursorParam = None, limit: LimitParam = 100
) -> ReportPageOut:
    with caller.read() as ctx:
        page = reports.activation_history(ctx, directory_of(ctx), flt, cursor=cursor, limit=limit)
        return ReportPageOut(items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/reports/activations/export",
    summary="Activation history as CSV or JSON (streamed, same filters)",
    response_class=StreamingResponse,
    openapi_extra=access(SELF_OR_READER),
)
def activations_export(
    caller: CallerDep, flt: FilterDep, format: Format = "csv"
) -> StreamingResponse:
    with caller.read() as ctx:
        chunks = reports.activation_export(
            ctx, caller.runtime.db.engine, directory_of(ctx), flt, format
        )
    return _stream(chunks, "activations", format)


@router.get(
    "/reports/assignment-changes",
    summary="Membership changes (added, removed, converted, extended, renewed, expired)",
    response_model=ReportPageOut,
    openapi_extra=access(SELF_OR_READER),
)
def changes(
    caller: CallerDep, flt: FilterDep, cursor: CursorParam = None, limit: LimitParam = 100
) -> ReportPageOut:
    with caller.read() as ctx:
        page = reports.assignment_changes(ctx, directory_of(ctx), flt, cursor=cursor, limit=limit)
        return ReportPageOut(items=page.items, next_cursor=page.next_cursor)


@router.get(
    "/reports/assignment-changes/export",
    summary="Membership changes as CSV or JSON (streamed, same filters)",
    response_class=StreamingResponse,
    openapi_extra=access(SELF_OR_READER),
)
def changes_export(caller: CallerDep, flt: FilterDep, format: Format = "csv") -> StreamingResponse:
    with caller.read() as ctx:
        chunks = reports.change_export(
            ctx, caller.runtime.db.engine, directory_of(ctx), flt, format
        )
    return _stream(chunks, "assignment-changes", format)


@router.get(
    "/reports/statistics",
    summary="Per-role statistics over a date range (default the last 30 days, at most 366)",
    response_model=StatisticsOut,
    openapi_extra=access(READER),
)
def statistics(
    caller: CallerDep,
    since: UtcDatetime | None = None,
    until: UtcDatetime | None = None,
    role_id: uuid.UUID | None = None,
) -> StatisticsOut:
    with caller.read() as ctx:
        stats = reports.statistics(
            ctx, directory_of(ctx), since=since, until=until, role_id=role_id
        )
        return StatisticsOut.of(stats)


@router.get(
    "/reports/statistics/export",
    summary="Per-role statistics as CSV or JSON: part=days (the series) or part=roles",
    response_class=StreamingResponse,
    openapi_extra=access(READER),
)
def statistics_export(
    caller: CallerDep,
    since: UtcDatetime | None = None,
    until: UtcDatetime | None = None,
    role_id: uuid.UUID | None = None,
    part: Literal["days", "roles"] = "days",
    format: Format = "csv",
) -> StreamingResponse:
    with caller.read() as ctx:
        stats = reports.statistics(
            ctx, directory_of(ctx), since=since, until=until, role_id=role_id
        )
    return _stream(reports.statistics_export(stats, part, format), f"statistics-{part}", format)
