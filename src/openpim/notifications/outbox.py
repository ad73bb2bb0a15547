"""Queue an event for delivery in the caller's transaction: it exists only if the change does."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from openpim.kit.context import Ctx
from openpim.notifications.models import OutboxMessage


def jsonable(value: Any) -> Any:
    """Ids and instants as text, at any depth (a payload may list recipient ids)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def enqueue(
    ctx: Ctx,
    event_type: str,
    payload: dict[str, Any],
    *,
    directory_id: uuid.UUID | None = None,
) -> OutboxMessage:
    message = OutboxMessage(
        directory_id=directory_id,
        event_type=event_type,
        payload=jsonable(payload),
        created_at=ctx.now,
        available_at=ctx.now,
        attempts=0,
    )
    ctx.session.add(message)
    return message
