"""History and reports: activation history, assignment changes, per-role statistics.

Each report is a tab with the audit page's filters (date range, role, user), keyset pages from
the reports service, and CSV/JSON downloads streamed by the service's export functions. PIM's
readers see the directory; anyone else sees their own activations and changes (the service
narrows the filter) and no statistics (the service refuses).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from openpim.api.download import CSV, attachment
from openpim.directory import service as directory_service
from openpim.kit.context import Ctx
from openpim.kit.errors import ValidationFailed
from openpim.reports import service as reports
from openpim.reports.history import ReportFilter
from openpim.reports.statistics.results import RoleStatistics
from openpim.roles.service import list_roles
from openpim.summaries import service as summaries
from openpim.web import forms
from openpim.web.charts import DayChart, per_day
from openpim.web.pages.audit import RANGES, Filters, parse_filters
from openpim.web.portal import Portal, PortalDep, Viewer
from openpim.web.routing import WebRoute
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE = 50
TABS = (
    ("activations", "/reports", "Activation history"),
    ("changes", "/reports/changes", "Assignment changes"),
    ("statistics", "/reports/statistics", "Per-role statistics"),
)
CHANGE_LABELS = {
    "added": "Added",
    "removed": "Removed",
    "converted": "Converted",
    "extended": "Extended",
    "renewed": "Renewed",
    "updated": "Updated",
    "expired": "Expired",
}
Format = Literal["csv", "json"]
Part = Literal["days", "roles"]
_MEDIA = {"csv": CSV, "json": "application/json"}

Range = Annotated[str, Query(alias="range", pattern="^(today|week|month|custom)$")]
Short = Annotated[str, Query(max_length=64)]
UserQ = Annotated[str, Query(max_length=320)]
Cursor = Annotated[str, Query(max_length=200)]


def _filters(ctx: Ctx, range_: str, since: str, until: str, user: str, role: str) -> Filters:
    return parse_filters(ctx.now, range_, since, until, user, role, "")


def _page_filters(
    ctx: Ctx, range_: str, since: str, until: str, user: str, role: str
) -> tuple[Filters, str | None]:
    """The filters, or the default ones and the reason when the form's are not valid."""
    try:
        return _filters(ctx, range_, since, until, user, role), None
    except ValidationFailed as exc:
        fallback = _filters(ctx, range_ if range_ != "custom" else "week", "", "", user, "")
        return fallback, exc.message


def _report_filter(ctx: Ctx, viewer: Viewer, f: Filters) -> ReportFilter | None:
    """The service's filter; None when the named user does not exist (nothing can match).

    A user name is only looked up for PIM's readers: for anyone else the service keeps the
    report to their own rows whatever the form says.
    """
    user_id = None
    if f.user and viewer.can_read_all:
        found = directory_service.find_user_by_upn(ctx, viewer.directory_id, f.user)
        if found is None:
            return None
        user_id = found.id
    return ReportFilter(since=f.since, until=f.until, role_id=f.role_id, user_id=user_id)


def _when(value: str | None) -> datetime | None:
    """The reports' ISO-8601 text back to an instant, for the local-time macro."""
    return datetime.fromisoformat(value) if value else None


def _span(value: int | float | str | None) -> timedelta | None:
    return None if value is None or value == "" else timedelta(seconds=float(value))


def _context(
    ctx: Ctx,
    viewer: Viewer,
    tab: str,
    f: Filters,
    cursor: str,
    missing_user: bool,
    error: str | None,
) -> dict[str, Any]:
    base = dict((key, href) for key, href, _ in TABS)[tab]
    return {
        "tab": tab,
        "tabs": [t for t in TABS if t[0] != "statistics" or viewer.can_read_all],
        "base": base,
        "f": f,
        "ranges": RANGES,
        "roles": list_roles(ctx, viewer.directory_id),
        "missing_user": missing_user,
        "error": error,
        "first_page": not cursor,
        "when": _when,
        "span": _span,
        "change_labels": CHANGE_LABELS,
    }


def _history(
    portal: Portal,
    tab: Literal["activations", "changes"],
    range_: str,
    since: str,
    until: str,
    user: str,
    role: str,
    cursor: str,
) -> Response:
    with portal.read() as (ctx, viewer):
        f, error = _page_filters(ctx, range_, since, until, user, role)
        flt = _report_filter(ctx, viewer, f)
        page = reports.ReportPage([], None)
        if flt is not None and error is None:
            read = (
                reports.activation_history if tab == "activations" else reports.assignment_changes
            )
            try:
                page = read(ctx, viewer.directory_id, flt, cursor=forms.text(cursor), limit=PAGE)
            except ValidationFailed as exc:  # a cursor from somewhere else
                error = exc.message
        context = _context(ctx, viewer, tab, f, cursor, flt is None, error)
        export = "activations" if tab == "activations" else "changes"
        context.update(
            page=page,
            exports={fmt: f"/reports/{export}/export.{fmt}?{f.query()}" for fmt in ("csv", "json")},
        )
        return render(portal.request, f"reports_{tab}.html", context)


@router.get("/reports")
def activation_history(
    portal: PortalDep,
    range_: Range = "week",
    since: Short = "",
    until: Short = "",
    user: UserQ = "",
    role: Short = "",
    cursor: Cursor = "",
) -> Response:
    return _history(portal, "activations", range_, since, until, user, role, cursor)


@router.get("/reports/changes")
def assignment_changes(
    portal: PortalDep,
    range_: Range = "week",
    since: Short = "",
    until: Short = "",
    user: UserQ = "",
    role: Short = "",
    cursor: Cursor = "",
) -> Response:
    return _history(portal, "changes", range_, since, until, user, role, cursor)


def _charts(ctx: Ctx, viewer: Viewer, stats: RoleStatistics) -> tuple[DayChart, DayChart]:
    """Activations per day, one series per role (as the audit page draws them), and the
    members held at the end of each day, eligible and permanent stacked."""
    first, last = stats.days[0].day, stats.days[-1].day
    counts = summaries.activations_by_day(
        ctx, viewer.directory_id, stats.since, stats.until, role_id=stats.role_id
    )
    activity = per_day("Activations per day by role", counts, first, last)
    members = DayChart(
        "Members at the end of each day: eligible and permanent",
        [p.day for p in stats.days],
        [
            ("Eligible", [p.eligible for p in stats.days]),
            ("Permanent", [p.permanent for p in stats.days]),
        ],
    )
    return activity, members


def _stats(portal: Portal, range_: str, since: str, until: str, role: str) -> Response:
    with portal.read() as (ctx, viewer):
        f, error = _page_filters(ctx, range_, since, until, "", role)
        try:
            stats = reports.statistics(
                ctx, viewer.directory_id, since=f.since, until=f.until, role_id=f.role_id
            )
        except ValidationFailed as exc:  # more than the 366 days the service covers
            error = exc.message
            f = _filters(ctx, "month", "", "", "", str(f.role_id or ""))
            stats = reports.statistics(
                ctx, viewer.directory_id, since=f.since, until=f.until, role_id=f.role_id
            )
        context = _context(ctx, viewer, "statistics", f, "", False, error)
        activity, members = _charts(ctx, viewer, stats)
        query = f.query()
        context.update(
            stats=stats,
            activity=activity,
            members=members,
            exports={
                (part, fmt): f"/reports/statistics/{part}/export.{fmt}?{query}"
                for part in ("days", "roles")
                for fmt in ("csv", "json")
            },
        )
        return render(portal.request, "reports_statistics.html", context)


@router.get("/reports/statistics")
def role_statistics(
    portal: PortalDep,
    range_: Range = "month",
    since: Short = "",
    until: Short = "",
    role: Short = "",
) -> Response:
    return _stats(portal, range_, since, until, role)


# --- exports: the service streams; the page only names the file ---------------------------------


def _stamp(ctx: Ctx) -> str:
    return ctx.now.strftime("%Y%m%dT%H%M%SZ")


def _history_export(
    portal: Portal,
    report: Literal["activations", "changes"],
    fmt: Format,
    range_: str,
    since: str,
    until: str,
    user: str,
    role: str,
) -> Response:
    with portal.read() as (ctx, viewer):
        f = _filters(ctx, range_, since, until, user, role)
        flt = _report_filter(ctx, viewer, f)
        if flt is None:  # an unknown user: the same columns, no rows
            flt = ReportFilter(since=f.since, until=f.until, user_id=uuid.UUID(int=0))
        export = reports.activation_export if report == "activations" else reports.change_export
        chunks = export(ctx, portal.runtime.db.engine, viewer.directory_id, flt, fmt)
        name = f"openpim-{'activations' if report == 'activations' else 'assignment-changes'}"
        name += f"-{_stamp(ctx)}.{fmt}"
    return attachment(chunks, name, _MEDIA[fmt])


@router.get("/reports/activations/export.{fmt}")
def activation_export(
    portal: PortalDep,
    fmt: Format,
    range_: Range = "week",
    since: Short = "",
    until: Short = "",
    user: UserQ = "",
    role: Short = "",
) -> Response:
    return _history_export(portal, "activations", fmt, range_, since, until, user, role)


@router.get("/reports/changes/export.{fmt}")
def change_export(
    portal: PortalDep,
    fmt: Format,
    range_: Range = "week",
    since: Short = "",
    until: Short = "",
    user: UserQ = "",
    role: Short = "",
) -> Response:
    return _history_export(portal, "changes", fmt, range_, since, until, user, role)


@router.get("/reports/statistics/{part}/export.{fmt}")
def statistics_export(
    portal: PortalDep,
    part: Part,
    fmt: Format,
    range_: Range = "month",
    since: Short = "",
    until: Short = "",
    role: Short = "",
) -> Response:
    with portal.read() as (ctx, viewer):
        f = _filters(ctx, range_, since, until, "", role)
        stats = reports.statistics(
            ctx, viewer.directory_id, since=f.since, until=f.until, role_id=f.role_id
        )
        name = f"openpim-statistics-{part}-{_stamp(ctx)}.{fmt}"
    return attachment(reports.statistics_export(stats, part, fmt), name, _MEDIA[fmt])
