"""Queue an event for delivery in the caller's transaction: it exists only if the change does."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert

from openpim.db import direct
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


@dataclass(frozen=True)
class Message:
    """One event to queue (enqueue_many); `message_id` names it beforehand when given."""

    event_type: str
    payload: dict[str, Any]
    directory_id: uuid.UUID | None = None
    message_id: uuid.UUID | None = None


def enqueue(
    ctx: Ctx,
    event_type: str,
    payload: dict[str, Any],
    *,
    directory_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Queue `event_type` in the caller's transaction; returns the message's id.

    `message_id` lets a caller name the message beforehand (a marker row that points at it).
    """
    return enqueue_many(ctx, [Message(event_type, payload, directory_id, message_id)])[0]


def enqueue_many(ctx: Ctx, messages: Sequence[Message]) -> list[uuid.UUID]:
    """Queue every message in one statement, in the caller's transaction; returns their ids.

    A Core INSERT on the driver connection (db.direct) rather than ORM adds: a message is
    written once and never changed in the same transaction, and the ORM flush cost more than
    the insert on the activation path.
    """
    if not messages:
        return []
    rows = [
        {
            "id": message.message_id or uuid.uuid4(),
            "directory_id": message.directory_id,
            "event_type": message.event_type,
            "payload": jsonable(message.payload),
            "created_at": ctx.now,
            "available_at": ctx.now,
            "attempts": 0,
        }
        for message in messages
    ]
    direct.execute(ctx.session.connection(), _INSERT, rows if len(rows) > 1 else rows[0])
    return [row["id"] for row in rows]


_INSERT = insert(cast(Table, OutboxMessage.__table__))
