"""Audit history: the directory's (readers), my own, the CSV export and chain verification."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from openpim.api.deps import READER, SIGNED_IN, CallerDep, StrictRoute, access
from openpim.api.download import attachment
from openpim.api.inputs import UtcDatetime
from openpim.api.scope import directory_of
from openpim.audit import query, verification
from openpim.audit.anchors import Anchor, parse_anchor, verified_head
from openpim.audit.models import AuditEvent
from openpim.kit.errors import ValidationFailed

router = APIRouter(tags=["audit"], route_class=StrictRoute)


class AuditEventOut(BaseModel):
    seq: int
    occurred_at: datetime
    action: str
    result: str
    actor_id: uuid.UUID | None
    actor: str
    target_user_id: uuid.UUID | None
    target: str | None
    role_id: uuid.UUID | None
    role: str | None
    request_id: uuid.UUID | None
    schedule_id: uuid.UUID | None
    justification: str | None
    ticket_number: str | None
    ticket_system: str | None
    start_at: datetime | None
    end_at: datetime | None  # None: no end (permanent), when the event is about a schedule
    detail: dict[str, Any] | None
    client_address: str | None
    http_request_id: str | None
    hash: str

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            seq=event.seq,
            occurred_at=event.occurred_at,
            action=event.action,
            result=event.result,
            actor_id=event.actor_id,
            actor=event.actor_label,
            target_user_id=event.target_user_id,
            target=event.target_label,
            role_id=event.role_id,
            role=event.role_label,
            request_id=event.request_id,
            schedule_id=event.schedule_id,
            justification=event.justification,
            ticket_number=event.ticket_number,
            ticket_system=event.ticket_system,
            start_at=event.start_at,
            end_at=event.end_at,
            detail=query.event_detail(event),
            client_address=event.client_address,
            http_request_id=event.http_request_id,
            hash=event.hash,
        )


class AuditPageOut(BaseModel):
    items: list[AuditEventOut]
    # Pass back as `cursor` for the next (older) page; null on the last page.
    next_cursor: str | None


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    last_seq: int
    first_broken_seq: int | None
    reason: str | None
    # SEQ:HASH of the verified head, to keep outside the database and pass back as `anchor`.
    head: str | None
    anchors_checked: int


MAX_ANCHORS = 100
AnchorParam = Annotated[
    list[str] | None,
    Query(
        description="SEQ:HASH recorded earlier (a verified `head`); the chain must still hold "
        f"that hash at that seq, which detects a history rewritten with recomputed hashes. "
        f"Repeatable, at most {MAX_ANCHORS}.",
    ),
]


def _anchors(texts: list[str] | None) -> list[Anchor]:
    texts = texts or []
    if len(texts) > MAX_ANCHORS:
        raise ValidationFailed(
            f"At most {MAX_ANCHORS} anchors per request ({len(texts)} given).",
            code="too_many_anchors",
        )
    try:
        return [parse_anchor(text) for text in texts]
    except ValueError as error:
        raise ValidationFailed(str(error), code="invalid_anchor") from None


async def audit_filter(
    since: Annotated[UtcDatetime | None, Query(description="From (inclusive)")] = None,
    until: Annotated[UtcDatetime | None, Query(description="To (exclusive)")] = None,
    user_id: Annotated[uuid.UUID | None, Query(description="The user the event is about")] = None,
    role_id: uuid.UUID | None = None,
    action: Annotated[list[str] | None, Query(max_length=64)] = None,
    actor_id: Annotated[uuid.UUID | None, Query(description="Who did it")] = None,
    result: Annotated[str | None, Query(max_length=16)] = None,
) -> query.AuditFilter:
    return query.AuditFilter(
        since=since,
        until=until,
        target_user_id=user_id,
        role_id=role_id,
        actions=tuple(action or ()),
        actor_id=actor_id,
        result=result,
    )


FilterDep = Annotated[query.AuditFilter, Depends(audit_filter)]
CursorParam = Annotated[str | None, Query(max_length=query.CURSOR_MAX_LENGTH)]
LimitParam = Annotated[int, Query(ge=1, le=query.MAX_PAGE)]


def _page_out(page: query.AuditPage) -> AuditPageOut:
    return AuditPageOut(
        items=[AuditEventOut.of(e) for e in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/audit/events",
    summary="Audit history of my directory, newest first, filtered (keyset pages)",
    response_model=AuditPageOut,
    openapi_extra=access(READER),
)
def events(
    caller: CallerDep, flt: FilterDep, cursor: CursorParam = None, limit: LimitParam = 100
) -> AuditPageOut:
    with caller.read() as ctx:
        page = query.search_events(ctx, directory_of(ctx), flt, cursor=cursor, limit=limit)
        return _page_out(page)


@router.get(
    "/audit/events.csv",
    summary="Audit history of my directory as CSV (streamed), same filters",
    response_class=StreamingResponse,
    openapi_extra=access(READER),
)
def events_csv(caller: CallerDep, flt: FilterDep) -> StreamingResponse:
    with caller.read() as ctx:
        statement = query.export_statement(ctx, directory_of(ctx), flt)
    return attachment(query.stream_csv(caller.runtime.db.engine, statement), "openpim-audit.csv")


@router.get(
    "/audit/verify",
    summary="Verify the audit hash chain end to end",
    response_model=VerifyOut,
    openapi_extra=access(READER),
)
def verify(caller: CallerDep, anchor: AnchorParam = None) -> VerifyOut:
    anchors = _anchors(anchor)
    with caller.read() as ctx:
        result = verification.verify(ctx, directory_of(ctx), anchors)
    head = verified_head(result)
    return VerifyOut(
        ok=result.ok,
        checked=result.checked,
        last_seq=result.last_seq,
        first_broken_seq=result.first_broken_seq,
        reason=result.reason,
        head=None if head is None else str(head),
        anchors_checked=len(set(anchors)) if result.ok else 0,
    )


@router.get(
    "/me/audit",
    summary="My audit: what happened to me and what I did, newest first",
    response_model=AuditPageOut,
    openapi_extra=access(SIGNED_IN),
)
def my_audit(
    caller: CallerDep, flt: FilterDep, cursor: CursorParam = None, limit: LimitParam = 100
) -> AuditPageOut:
    with caller.read() as ctx:
        return _page_out(query.my_events(ctx, flt, cursor=cursor, limit=limit))


@router.get(
    "/me/audit.csv",
    summary="My audit as CSV (streamed)",
    response_class=StreamingResponse,
    openapi_extra=access(SIGNED_IN),
)
def my_audit_csv(caller: CallerDep, flt: FilterDep) -> StreamingResponse:
    with caller.read() as ctx:
        statement = query.export_statement(ctx, None, flt)
    return attachment(query.stream_csv(caller.runtime.db.engine, statement), "openpim-my-audit.csv")
