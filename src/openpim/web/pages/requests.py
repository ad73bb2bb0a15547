"""My requests, and approvals: approve or deny with a justification, cancel."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Response

from openpim.assignments import service as membership
from openpim.assignments.models import PENDING_STATUSES, RequestStatus, RoleRequest
from openpim.kit.context import Ctx
from openpim.kit.errors import DomainError
from openpim.roles.service import list_roles
from openpim.web import forms
from openpim.web.portal import Portal, PortalDep, Viewer
from openpim.web.routing import WebRoute, is_htmx, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import MESSAGES, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

STATUS_GROUPS: dict[str, tuple[str, ...]] = {
    "pending": tuple(PENDING_STATUSES),
    "approved": (RequestStatus.GRANTED, RequestStatus.PROVISIONED, RequestStatus.REVOKED),
    "denied": (RequestStatus.DENIED, RequestStatus.FAILED),
    "canceled": (RequestStatus.CANCELED, RequestStatus.TIMED_OUT),
}
ACTION_LABELS = {
    "selfActivate": "Activation",
    "selfDeactivate": "Deactivation",
    "selfExtend": "Extension",
    "selfRenew": "Renewal",
    "adminAssign": "Assignment by an admin",
    "adminUpdate": "Change by an admin",
    "adminRemove": "Removal by an admin",
    "adminExtend": "Extension by an admin",
    "adminRenew": "Renewal by an admin",
}


def role_names(ctx: Ctx, viewer: Viewer) -> dict[uuid.UUID, str]:
    return {r.id: r.display_name for r in list_roles(ctx, viewer.directory_id)}


def _group_of(status: str) -> str:
    for name, members in STATUS_GROUPS.items():
        if status in members:
            return name
    return "other"


@router.get("/my-requests")
def my_requests(
    portal: PortalDep,
    status: Annotated[str, Query(pattern="^(all|pending|approved|denied|canceled)$")] = "all",
) -> Response:
    with portal.read() as (ctx, viewer):
        statuses = None if status == "all" else list(STATUS_GROUPS[status])
        rows = membership.list_requests(
            ctx, viewer.directory_id, principal_id=viewer.user_id, status=statuses, limit=200
        )
        return render(
            portal.request,
            "my_requests.html",
            {
                "rows": rows,
                "status": status,
                "roles": role_names(ctx, viewer),
                "labels": ACTION_LABELS,
                "group_of": _group_of,
                "groups": ["all", *STATUS_GROUPS],
            },
        )


def _approvals(
    portal: Portal,
    *,
    error: str | None = None,
    status: int = 200,
    message: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    with portal.read() as (ctx, viewer):
        decidable = membership.awaiting_my_decision(ctx, viewer.directory_id)
        own = membership.list_requests(
            ctx, viewer.directory_id, principal_id=viewer.user_id, status=list(PENDING_STATUSES)
        )
        context: dict[str, Any] = {
            "decidable": decidable,
            "own": own,
            "roles": role_names(ctx, viewer),
            "labels": ACTION_LABELS,
            "error": error,
        }
        if message:
            context["message"] = message
        return render(
            portal.request, "approvals.html", context, status_code=status, headers=headers
        )


@router.get("/approvals")
def approvals(portal: PortalDep) -> Response:
    return _approvals(portal)


def _done(portal: Portal, key: str, back: str) -> Response:
    if is_htmx(portal.request) and back == "/approvals":
        return _approvals(portal, message=MESSAGES[key], headers={"HX-Push-Url": back})
    return redirect(portal.request, f"{back}?msg={key}")


@router.post("/requests/{request_id}/decide")
def decide(
    portal: PortalDep,
    _csrf: CsrfProtected,
    request_id: uuid.UUID,
    decision: Annotated[str, Form(pattern="^(approve|deny)$")],
    justification: Annotated[str, Form(max_length=600)] = "",
) -> Response:
    operation = membership.approve if decision == "approve" else membership.deny
    try:
        with portal.unit() as (ctx, _viewer):
            operation(ctx, request_id, forms.text(justification))
    except DomainError as exc:
        return _approvals(portal, error=exc.message, status=exc.status)
    return _done(portal, "approved" if decision == "approve" else "denied", "/approvals")


@router.post("/requests/{request_id}/cancel")
def cancel(
    portal: PortalDep,
    _csrf: CsrfProtected,
    request_id: uuid.UUID,
    back: Annotated[str, Form(max_length=100)] = "/my-requests",
) -> Response:
    with portal.unit() as (ctx, _viewer):
        request: RoleRequest = membership.cancel(ctx, request_id, "canceled in the portal")
        assert request.status == RequestStatus.CANCELED
    return _done(portal, "request_canceled", forms.safe_next(back, "/my-requests"))
