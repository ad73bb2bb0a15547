"""Audit history (PIM's readers), My audit (everyone): filters, pages, chart, CSV export."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from openpim.api.download import attachment
from openpim.audit import query as audit_query
from openpim.audit.actions import ACTION_GROUPS, KNOWN_ACTIONS
from openpim.directory import service as directory_service
from openpim.kit.context import Ctx
from openpim.kit.errors import ValidationFailed
from openpim.roles.service import list_roles
from openpim.summaries import service as summaries
from openpim.web import forms
from openpim.web.charts import per_day
from openpim.web.portal import PortalDep, Viewer
from openpim.web.routing import WebRoute
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

PAGE = 50
RANGES = {"today": "Today", "week": "Past week", "month": "Past month", "custom": "Custom range"}


@dataclass(frozen=True)
class Filters:
    range: str
    since: datetime
    until: datetime
    since_text: str
    until_text: str
    user: str
    role_id: uuid.UUID | None
    action: str

    def query(self, **extra: str) -> str:
        from urllib.parse import urlencode

        values = {
            "range": self.range,
            "since": self.since_text if self.range == "custom" else "",
            "until": self.until_text if self.range == "custom" else "",
            "user": self.user,
            "role": str(self.role_id) if self.role_id else "",
            "action": self.action,
            **extra,
        }
        return urlencode({k: v for k, v in values.items() if v})


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            "Enter a date such as 2026-01-05.", code="invalid_date", field=field
        ) from None


def parse_filters(
    now: datetime, range_: str, since: str, until: str, user: str, role: str, action: str
) -> Filters:
    today = datetime.combine(now.astimezone(UTC).date(), time(), tzinfo=UTC)
    end = now + timedelta(seconds=1)
    if range_ == "today":
        start = today
    elif range_ == "month":
        start = now - timedelta(days=30)
    elif range_ == "custom":
        first = _day(forms.text(since) or (now - timedelta(days=7)).date().isoformat(), "since")
        last = _day(forms.text(until) or now.date().isoformat(), "until")
        if last < first:
            raise ValidationFailed("The end date is before the start date.", field="until")
        start = datetime.combine(first, time(), tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), time(), tzinfo=UTC)
    else:
        range_ = "week"
        start = now - timedelta(days=7)
    chosen_action = forms.text(action) or ""
    if chosen_action and chosen_action not in KNOWN_ACTIONS:
        chosen_action = ""
    return Filters(
        range=range_,
        since=start,
        until=end,
        since_text=start.date().isoformat(),
        until_text=(end - timedelta(seconds=1)).date().isoformat(),
        user=forms.text(user) or "",
        role_id=forms.parse_id(role, "role"),
        action=chosen_action,
    )


def _audit_filter(
    ctx: Ctx, viewer: Viewer, f: Filters, mine: bool
) -> audit_query.AuditFilter | None:
    """The service filter, or None when the named user does not exist (nothing can match)."""
    target = None
    if f.user and not mine:
        found = directory_service.find_user_by_upn(ctx, viewer.directory_id, f.user)
        if found is None:
            return None
        target = found.id
    return audit_query.AuditFilter(
        since=f.since,
        until=f.until,
        target_user_id=target,
        role_id=f.role_id,
        actions=(f.action,) if f.action else (),
    )


Range = Annotated[str, Query(alias="range", pattern="^(today|week|month|custom)$")]
Short = Annotated[str, Query(max_length=64)]
UserQ = Annotated[str, Query(max_length=320)]


def _history(
    portal: PortalDep,
    mine: bool,
    range_: str,
    since: str,
    until: str,
    user: str,
    role: str,
    action: str,
    cursor: str,
) -> Response:
    with portal.read() as (ctx, viewer):
        f = parse_filters(ctx.now, range_, since, until, user, role, action)
        flt = _audit_filter(ctx, viewer, f, mine)
        page = audit_query.AuditPage([], None)
        chart = None
        if flt is not None:
            if mine:
                page = audit_query.my_events(ctx, flt, cursor=forms.text(cursor), limit=PAGE)
            else:
                page = audit_query.search_events(
                    ctx, viewer.directory_id, flt, cursor=forms.text(cursor), limit=PAGE
                )
            counts = summaries.activations_by_day(
                ctx,
                None if mine else viewer.directory_id,
                f.since,
                f.until,
                role_id=f.role_id,
                user_id=flt.target_user_id,
            )
            chart = per_day(
                "Activations per day by role",
                counts,
                f.since.date(),
                (f.until - timedelta(seconds=1)).date(),
            )
        base = "/my-audit" if mine else "/audit"
        context: dict[str, Any] = {
            "mine": mine,
            "base": base,
            "page": page,
            "chart": chart,
            "f": f,
            "ranges": RANGES,
            "groups": ACTION_GROUPS,
            "roles": list_roles(ctx, viewer.directory_id),
            "missing_user": flt is None,
            "first_page": not cursor,
            "export_url": f"{base}/export.csv?{f.query()}",
            "detail": audit_query.event_detail,
        }
        return render(portal.request, "audit.html", context)


@router.get("/audit")
def audit_history(
    portal: PortalDep,
    range_: Range = "week",
    since: Short = "",
    until: Short = "",
    user: UserQ = "",
    role: Short = "",
    action: Short = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    return _history(portal, False, range_, since, until, user, role, action, cursor)


@router.get("/my-audit")
def my_audit(
    portal: PortalDep,
    range_: Range = "week",
    since: Short = "",
    until: Short = "",
    role: Short = "",
    action: Short = "",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    return _history(portal, True, range_, since, until, "", role, action, cursor)


def _export(
    portal: PortalDep,
    mine: bool,
    range_: str,
    since: str,
    until: str,
    user: str,
    role: str,
    action: str,
) -> Response:
    with portal.read() as (ctx, viewer):
        f = parse_filters(ctx.now, range_, since, until, user, role, action)
        flt = _audit_filter(ctx, viewer, f, mine)
        if flt is None:
            flt = audit_query.AuditFilter(
                since=f.since, until=f.until, target_user_id=uuid.UUID(int=0)
            )
        statement = audit_query.export_statement(ctx, None if mine else viewer.directory_id, flt)
        stamp = ctx.now.strftime("%Y%m%dT%H%M%SZ")
    engine = portal.runtime.db.engine
    name = f"openpim-{'my-' if mine else ''}audit-{stamp}.csv"
    return attachment(audit_query.stream_csv(engine, statement), name)


@router.get("/audit/export.csv")
def audit_export(
    portal: PortalDep,
    range_: Range = "week",
    since: Short = "",
    until: Short = "",
    user: UserQ = "",
    role: Short = "",
    action: Short = "",
) -> Response:
    return _export(portal, False, range_, since, until, user, role, action)


@router.get("/my-audit/export.csv")
def my_audit_export(
    portal: PortalDep,
    range_: Range = "week",
    since: Short = "",
    until: Short = "",
    role: Short = "",
    action: Short = "",
) -> Response:
    return _export(portal, True, range_, since, until, "", role, action)
