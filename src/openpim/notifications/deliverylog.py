"""The delivery log (what went where, what failed and why) and retrying by hand.

Pages are keyset-paginated on (created_at, id) descending, newest first, with an opaque
cursor, like the audit history. Reading needs a PIM reader role; retrying needs an active PRA.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, tuple_, update

from openpim.audit.writer import AuditEntry, record
from openpim.auth.permissions import require_manage, require_read_all
from openpim.kit.clock import ensure_utc
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, NotFound, ValidationFailed
from openpim.kit.pagination import cursor_instant
from openpim.notifications.models import Delivery, DeliveryAttempt, OutboxMessage, WebhookChannel
from openpim.notifications.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    DeliveryPage,
    DeliveryStatus,
)

MAX_PAGE = 200
DEFAULT_PAGE = 50
MAX_BULK_RETRY = 10_000


@dataclass(frozen=True)
class DeliveryFilter:
    status: DeliveryStatus | None = None
    event_type: str | None = None
    channel: str | None = None
    recipient: str | None = None


def _encode(created_at: datetime, id_: uuid.UUID) -> str:
    raw = f"{ensure_utc(created_at).isoformat()}|{id_}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        instant, id_text = text.split("|")
        return cursor_instant(instant), uuid.UUID(id_text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationFailed(
            "The cursor is not one this server handed out.", code="invalid_cursor", field="cursor"
        ) from None


def status_of(row: Delivery, now: datetime) -> DeliveryStatus:
    if row.delivered_at is not None:
        return DeliveryStatus.DELIVERED
    if row.dead_at is not None:
        return DeliveryStatus.DEAD
    if row.locked_until is not None and row.locked_until > now:
        return DeliveryStatus.SENDING
    return DeliveryStatus.PENDING


def _status_clause(status: DeliveryStatus, now: datetime) -> Any:
    if status == DeliveryStatus.DELIVERED:
        return Delivery.delivered_at.is_not(None)
    if status == DeliveryStatus.DEAD:
        return Delivery.dead_at.is_not(None)
    undone = and_(Delivery.delivered_at.is_(None), Delivery.dead_at.is_(None))
    leased = and_(Delivery.locked_until.is_not(None), Delivery.locked_until > now)
    return and_(undone, leased if status == DeliveryStatus.SENDING else ~leased)


def _out(ctx: Ctx, rows: list[Delivery]) -> list[DeliveryOut]:
    outbox_ids = {r.outbox_id for r in rows}
    subjects = {
        oid: (content or {}).get("subject")
        for oid, content in ctx.session.execute(
            select(OutboxMessage.id, OutboxMessage.content).where(OutboxMessage.id.in_(outbox_ids))
        )
    }
    hook_ids = {r.webhook_id for r in rows if r.webhook_id is not None}
    names = {
        hook_id: name
        for hook_id, name in ctx.session.execute(
            select(WebhookChannel.id, WebhookChannel.name).where(WebhookChannel.id.in_(hook_ids))
        )
    }
    return [
        DeliveryOut(
            id=r.id,
            outbox_id=r.outbox_id,
            event_type=r.event_type,
            channel=r.channel,
            recipient=(
                f"webhook {names.get(r.webhook_id, r.recipient)}"
                if r.webhook_id is not None
                else r.recipient
            ),
            status=status_of(r, ctx.now),
            subject=subjects.get(r.outbox_id),
            attempts=r.attempts,
            created_at=r.created_at,
            available_at=r.available_at,
            delivered_at=r.delivered_at,
            dead_at=r.dead_at,
            last_error=r.last_error,
        )
        for r in rows
    ]


def list_deliveries(
    ctx: Ctx,
    directory_id: uuid.UUID,
    flt: DeliveryFilter | None = None,
    *,
    limit: int = DEFAULT_PAGE,
    cursor: str | None = None,
) -> DeliveryPage:
    require_read_all(ctx, directory_id)
    if not 1 <= limit <= MAX_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_PAGE}.", field="limit")
    flt = flt or DeliveryFilter()
    query = select(Delivery).where(Delivery.directory_id == directory_id)
    if flt.status is not None:
        query = query.where(_status_clause(flt.status, ctx.now))
    if flt.event_type:
        query = query.where(Delivery.event_type == flt.event_type)
    if flt.channel:
        query = query.where(Delivery.channel == flt.channel)
    if flt.recipient:
        query = query.where(Delivery.recipient == flt.recipient)
    if cursor:
        created_at, id_ = _decode(cursor)
        query = query.where(tuple_(Delivery.created_at, Delivery.id) < (created_at, id_))
    rows = list(
        ctx.session.scalars(
            query.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = _encode(rows[-1].created_at, rows[-1].id) if more else None
    return DeliveryPage(items=_out(ctx, rows), next_cursor=next_cursor)


def _load(ctx: Ctx, directory_id: uuid.UUID, delivery_id: uuid.UUID) -> Delivery:
    row = ctx.session.get(Delivery, delivery_id)
    if row is None or row.directory_id != directory_id:
        raise NotFound("No such delivery in this directory.", code="delivery_not_found")
    return row


def get_delivery(ctx: Ctx, directory_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryDetail:
    require_read_all(ctx, directory_id)
    row = _load(ctx, directory_id, delivery_id)
    tries = ctx.session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == row.id)
        .order_by(DeliveryAttempt.number, DeliveryAttempt.started_at)
    )
    (out,) = _out(ctx, [row])
    return DeliveryDetail(
        **out.model_dump(), attempt_log=[AttemptOut.model_validate(a) for a in tries]
    )


def retry_delivery(ctx: Ctx, directory_id: uuid.UUID, delivery_id: uuid.UUID) -> DeliveryOut:
    """Give a dead-lettered delivery a fresh series of attempts, starting now."""
    require_manage(ctx, directory_id)
    row = _load(ctx, directory_id, delivery_id)
    changed = ctx.session.execute(
        update(Delivery)
        .where(Delivery.id == row.id, Delivery.dead_at.is_not(None))
        .values(dead_at=None, available_at=ctx.now, attempts=0, locked_until=None)
        .execution_options(synchronize_session="fetch")
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            "Only a dead-lettered delivery can be retried by hand.", code="delivery_not_dead"
        )
    ctx.session.refresh(row)
    record(
        ctx,
        AuditEntry(
            action="notifications.delivery_retried",
            directory_id=directory_id,
            detail={"delivery_id": str(row.id), "event_type": row.event_type},
        ),
    )
    (out,) = _out(ctx, [row])
    return out


def retry_dead(ctx: Ctx, directory_id: uuid.UUID) -> int:
    """Retry every dead-lettered delivery of the directory (after fixing a channel)."""
    require_manage(ctx, directory_id)
    ids = list(
        ctx.session.scalars(
            select(Delivery.id)
            .where(Delivery.directory_id == directory_id, Delivery.dead_at.is_not(None))
            .limit(MAX_BULK_RETRY)
        )
    )
    if not ids:
        return 0
    ctx.session.execute(
        update(Delivery)
        .where(Delivery.id.in_(ids), Delivery.dead_at.is_not(None))
        .values(dead_at=None, available_at=ctx.now, attempts=0, locked_until=None)
        .execution_options(synchronize_session=False)
    )
    record(
        ctx,
        AuditEntry(
            action="notifications.delivery_retried",
            directory_id=directory_id,
            detail={"count": len(ids), "all_dead": True},
        ),
    )
    return len(ids)


def retry_event(ctx: Ctx, directory_id: uuid.UUID, outbox_id: uuid.UUID) -> None:
    """Retry an event whose expansion kept failing (a rendering bug fixed since)."""
    require_manage(ctx, directory_id)
    row = ctx.session.get(OutboxMessage, outbox_id)
    if row is None or row.directory_id != directory_id:
        raise NotFound("No such event in this directory.", code="event_not_found")
    if row.dead_at is None:
        raise Conflict("Only a dead-lettered event can be retried by hand.", code="event_not_dead")
    row.dead_at = None
    row.attempts = 0
    row.available_at = ctx.now
    ctx.session.flush()
    record(
        ctx,
        AuditEntry(
            action="notifications.event_retried",
            directory_id=directory_id,
            detail={"outbox_id": str(row.id), "event_type": row.event_type},
        ),
    )


def dead_events(
    ctx: Ctx, directory_id: uuid.UUID, *, limit: int = DEFAULT_PAGE
) -> list[dict[str, Any]]:
    """Events that could not be expanded at all: shown next to the log so none hides."""
    require_read_all(ctx, directory_id)
    rows = ctx.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.directory_id == directory_id, OutboxMessage.dead_at.is_not(None))
        .order_by(OutboxMessage.created_at.desc())
        .limit(min(limit, MAX_PAGE))
    )
    return [
        {
            "id": r.id,
            "event_type": r.event_type,
            "created_at": r.created_at,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "dead_at": r.dead_at,
        }
        for r in rows
    ]
