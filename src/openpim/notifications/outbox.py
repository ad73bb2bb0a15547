"""Queue an event for delivery in the caller's transaction: it exists only if the change does."""

from __future__ import annotations

import uuid
from typing import Any

from openpim.kit.context import Ctx
from openpim.notifications.models import OutboxMessage


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
        payload={k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in payload.items()},
        created_at=ctx.now,
        available_at=ctx.now,
        attempts=0,
    )
    ctx.session.add(message)
    return message
