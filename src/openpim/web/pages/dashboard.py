"""The PIM dashboard: alerts, members of privileged roles, reviews, recent activations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Response

from openpim.alerts import service as alerts
from openpim.assignments import service as membership
from openpim.assignments.models import MemberType
from openpim.kit.context import Ctx
from openpim.reviews import service as reviews
from openpim.summaries import service as summaries
from openpim.web.charts import per_day
from openpim.web.portal import PortalDep, Viewer
from openpim.web.routing import WebRoute
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

CHART_DAYS = 7


def _alerts(ctx: Ctx, viewer: Viewer) -> dict[str, Any]:
    open_alerts = [
        {"name": v.definition.name, "severity": str(v.definition.severity.value)}
        for v in alerts.list_alerts(ctx, viewer.directory_id)
        if v.enabled and v.incident is not None
    ]
    by_severity: dict[str, int] = {}
    for alert in open_alerts:
        by_severity[alert["severity"]] = by_severity.get(alert["severity"], 0) + 1
    order = {"high": 0, "medium": 1, "low": 2}
    open_alerts.sort(key=lambda a: (order.get(a["severity"], 3), a["name"]))
    return {"total": len(open_alerts), "by_severity": by_severity, "items": open_alerts}


def _reviews(ctx: Ctx, viewer: Viewer) -> dict[str, Any]:
    ongoing = reviews.ongoing_reviews(ctx, viewer.directory_id)
    return {
        "ongoing": len(ongoing),
        "items": [
            {
                "name": p.review.name,
                "role": p.role,
                "decided": p.decided,
                "total": p.total,
                "end_at": p.review.end_at,
            }
            for p in ongoing[:5]
        ],
    }


def _start_of_day(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@router.get("/dashboard")
def dashboard(portal: PortalDep) -> Response:
    with portal.read() as (ctx, viewer):
        mine = membership.user_roles(ctx, viewer.directory_id, viewer.user_id)
        context: dict[str, Any] = {
            "my_eligible": sum(1 for s in mine if s.member_type == MemberType.ELIGIBLE),
            "my_active": sum(
                1 for s in mine if s.member_type == MemberType.ACTIVE and s.state == "active"
            ),
            "awaiting": len(membership.awaiting_my_decision(ctx, viewer.directory_id)),
        }
        if viewer.pim_enabled and viewer.can_read_all:
            snapshot = summaries.role_counts(ctx, viewer.directory_id)
            privileged = [r for r in snapshot.roles if r.is_privileged and r.members]
            privileged.sort(key=lambda r: (-r.members, r.display_name))
            first = _start_of_day(ctx.now) - timedelta(days=CHART_DAYS - 1)
            counts = summaries.activations_by_day(
                ctx, viewer.directory_id, first, ctx.now + timedelta(seconds=1)
            )
            chart = per_day("Activations in the last 7 days", counts, first.date(), ctx.now.date())
            context.update(
                privileged=privileged,
                counted_at=snapshot.counted_at,
                totals={
                    "eligible": sum(r.eligible for r in snapshot.roles),
                    "permanent": sum(r.permanent for r in snapshot.roles),
                    "time_bound": sum(r.time_bound for r in snapshot.roles),
                    "activated": sum(r.activated for r in snapshot.roles),
                },
                chart=chart,
                alerts=_alerts(ctx, viewer),
                reviews=_reviews(ctx, viewer),
            )
        return render(portal.request, "dashboard.html", context)
