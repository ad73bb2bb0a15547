"""Role requests: listing them, and deciding or cancelling pending ones."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from openpim.api.deps import (
    APPROVER,
    READER,
    REQUESTER_OR_MANAGER,
    SELF_OR_READER,
    SIGNED_IN,
    CallerDep,
    StrictRoute,
    access,
)
from openpim.api.scope import directory_of, user_of
from openpim.assignments import service as membership
from openpim.assignments.models import RequestStatus
from openpim.assignments.schemas import DecisionIn, RequestOut, StrictBody
from openpim.assignments.views import MAX_PAGE

router = APIRouter(tags=["requests"], route_class=StrictRoute)


class RequestListOut(BaseModel):
    value: list[RequestOut]


class CancelIn(StrictBody):
    justification: str | None = Field(default=None, max_length=500)


@router.get(
    "/requests",
    summary="Role requests, newest first: mine (mine=true), one user's, or everyone's (readers)",
    response_model=RequestListOut,
    openapi_extra=access(READER),
)
def list_requests(
    caller: CallerDep,
    mine: bool = False,
    user_id: uuid.UUID | None = None,
    status: Annotated[list[RequestStatus] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> RequestListOut:
    with caller.read() as ctx:
        principal = user_of(ctx) if mine else user_id
        rows = membership.list_requests(
            ctx,
            directory_of(ctx),
            principal_id=principal,
            status=[s.value for s in status] if status else None,
            limit=limit,
        )
        return RequestListOut(value=[RequestOut.model_validate(r) for r in rows])


@router.get(
    "/approvals",
    summary="Pending requests waiting for my decision",
    response_model=RequestListOut,
    openapi_extra=access(SIGNED_IN),
)
def awaiting_me(caller: CallerDep) -> RequestListOut:
    with caller.read() as ctx:
        rows = membership.awaiting_my_decision(ctx, directory_of(ctx))
        return RequestListOut(value=[RequestOut.model_validate(r) for r in rows])


@router.get(
    "/requests/{request_id}",
    summary="One request (mine, one I may decide, or any for readers)",
    response_model=RequestOut,
    openapi_extra=access(SELF_OR_READER),
)
def get_request(request_id: uuid.UUID, caller: CallerDep) -> RequestOut:
    with caller.read() as ctx:
        return RequestOut.model_validate(membership.get_request(ctx, directory_of(ctx), request_id))


@router.post(
    "/requests/{request_id}/approve",
    summary="Approve a pending request (a named approver, else a Privileged Role Administrator)",
    response_model=RequestOut,
    openapi_extra=access(APPROVER),
)
def approve(request_id: uuid.UUID, body: DecisionIn, caller: CallerDep) -> RequestOut:
    with caller.unit() as ctx:
        return RequestOut.model_validate(membership.approve(ctx, request_id, body.justification))


@router.post(
    "/requests/{request_id}/deny",
    summary="Deny a pending request",
    response_model=RequestOut,
    openapi_extra=access(APPROVER),
)
def deny(request_id: uuid.UUID, body: DecisionIn, caller: CallerDep) -> RequestOut:
    with caller.unit() as ctx:
        return RequestOut.model_validate(membership.deny(ctx, request_id, body.justification))


@router.post(
    "/requests/{request_id}/cancel",
    summary="Cancel a pending request (its requester, or a Privileged Role Administrator)",
    response_model=RequestOut,
    openapi_extra=access(REQUESTER_OR_MANAGER),
)
def cancel(request_id: uuid.UUID, caller: CallerDep, body: CancelIn | None = None) -> RequestOut:
    justification = body.justification if body is not None else None
    with caller.unit() as ctx:
        return RequestOut.model_validate(membership.cancel(ctx, request_id, justification))
