"""The delivery log: every delivery with its status and attempts, and retrying dead letters.

PIM's readers read it; only an active Privileged Role Administrator retries (the service
decides, the page only hides buttons).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response

from openpim.kit.errors import ValidationFailed
from openpim.notifications import deliverylog
from openpim.notifications.schemas import DeliveryStatus
from openpim.web import forms
from openpim.web.pages.notifications.messages import redirect_message
from openpim.web.portal import PortalDep
from openpim.web.routing import WebRoute, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

DELIVERIES = "/notifications/deliveries"
PAGE = 50
STATUS_LABELS = {
    "pending": "Pending",
    "sending": "Sending",
    "delivered": "Delivered",
    "dead": "Dead-lettered",
}

StatusQ = Annotated[str, Query(pattern="^(all|pending|sending|delivered|dead)$")]
ChannelQ = Annotated[str, Query(pattern="^(all|email|webhook)$")]


def _query(status: str, channel: str, **extra: str) -> str:
    values = {"status": status, "channel": channel, **extra}
    return urlencode({k: v for k, v in values.items() if v and v != "all"})


@router.get(DELIVERIES)
def deliveries_page(
    portal: PortalDep,
    status: StatusQ = "all",
    channel: ChannelQ = "all",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    flt = deliverylog.DeliveryFilter(
        status=None if status == "all" else DeliveryStatus(status),
        channel=None if channel == "all" else channel,
    )
    with portal.read() as (ctx, viewer):
        error = None
        try:
            page = deliverylog.list_deliveries(
                ctx, viewer.directory_id, flt, limit=PAGE, cursor=forms.text(cursor)
            )
        except ValidationFailed as exc:  # a cursor from somewhere else
            error = exc.message
            page = deliverylog.list_deliveries(ctx, viewer.directory_id, flt, limit=PAGE)
        dead_events = deliverylog.dead_events(ctx, viewer.directory_id)
        context: dict[str, Any] = {
            "page": page,
            "status": status,
            "channel": channel,
            "statuses": ["all", *STATUS_LABELS],
            "status_labels": STATUS_LABELS,
            "first_page": not cursor,
            "query": _query,
            "dead_events": dead_events,
            "error": error,
            "message": redirect_message(portal),
        }
        return render(portal.request, "notification_deliveries.html", context)


@router.get(DELIVERIES + "/{delivery_id}")
def delivery_page(portal: PortalDep, delivery_id: uuid.UUID) -> Response:
    with portal.read() as (ctx, viewer):
        detail = deliverylog.get_delivery(ctx, viewer.directory_id, delivery_id)
        context = {"d": detail, "status_labels": STATUS_LABELS, "message": redirect_message(portal)}
        return render(portal.request, "notification_delivery.html", context)


@router.post(DELIVERIES + "/retry-dead")
def retry_dead(portal: PortalDep, _csrf: CsrfProtected) -> Response:
    with portal.unit() as (ctx, viewer):
        count = deliverylog.retry_dead(ctx, viewer.directory_id)
    return redirect(
        portal.request, f"{DELIVERIES}?msg={'retried_all' if count else 'nothing_dead'}"
    )


@router.post(DELIVERIES + "/{delivery_id}/retry")
def retry_delivery(portal: PortalDep, _csrf: CsrfProtected, delivery_id: uuid.UUID) -> Response:
    with portal.unit() as (ctx, viewer):
        deliverylog.retry_delivery(ctx, viewer.directory_id, delivery_id)
    return redirect(portal.request, f"{DELIVERIES}/{delivery_id}?msg=retried")


@router.post("/notifications/events/{event_id}/retry")
def retry_event(portal: PortalDep, _csrf: CsrfProtected, event_id: uuid.UUID) -> Response:
    with portal.unit() as (ctx, viewer):
        deliverylog.retry_event(ctx, viewer.directory_id, event_id)
    return redirect(portal.request, f"{DELIVERIES}?msg=event_retried")
