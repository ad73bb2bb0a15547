"""Fan-out: each committed outbox event becomes one delivery per address and per webhook.

All in one transaction per batch, with no network in it: the event row is locked (SKIP LOCKED
on PostgreSQL, the write lock on SQLite), its content rendered and stored, its deliveries
inserted and the row marked done, or none of it. Each event runs in a savepoint, so one event
that cannot be rendered is retried later without holding up the rest of the batch.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from openpim.kit.context import Ctx
from openpim.notifications.addresses import matches_event
from openpim.notifications.catalog import spec_for
from openpim.notifications.content import render
from openpim.notifications.facts import as_uuid, gather
from openpim.notifications.models import Delivery, EmailChannel, OutboxMessage, WebhookChannel
from openpim.notifications.recipients import resolve

log = logging.getLogger("openpim.notifications")

EMAIL = "email"
WEBHOOK = "webhook"
# Fixed forever: delivery ids (Message-ID, X-OpenPIM-Delivery) are derived under it.
DELIVERY_NAMESPACE = uuid.UUID("3b0c7f4e-5a8e-4d8c-9c1e-6f1f2d9a7b10")


def delivery_id(outbox_id: uuid.UUID, channel: str, recipient: str) -> uuid.UUID:
    """The same event to the same recipient always has the same id."""
    return uuid.uuid5(DELIVERY_NAMESPACE, f"{outbox_id}:{channel}:{recipient.casefold()}")


@dataclass
class FanoutResult:
    claimed: int = 0
    expanded: int = 0
    failed: int = 0
    dead: int = 0
    deliveries: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass
class _Channels:
    email: EmailChannel | None
    webhooks: list[WebhookChannel]


def _channels(session: Session, directory_id: uuid.UUID) -> _Channels:
    email = session.execute(
        select(EmailChannel).where(EmailChannel.directory_id == directory_id)
    ).scalar_one_or_none()
    hooks = session.scalars(
        select(WebhookChannel)
        .where(WebhookChannel.directory_id == directory_id, WebhookChannel.enabled.is_(True))
        .order_by(WebhookChannel.name)
    ).all()
    return _Channels(email if email is not None and email.enabled else None, list(hooks))


def _expand(ctx: Ctx, row: OutboxMessage, channels: _Channels | None) -> int:
    now = ctx.now
    spec = spec_for(row.event_type)
    payload = dict(row.payload or {})
    facts = gather(
        ctx.session,
        event_type=row.event_type,
        payload=payload,
        directory_id=row.directory_id,
        occurred_at=row.created_at,
    )
    row.content = render(spec, facts, base_url=ctx.settings.base_url)
    summary: dict[str, Any] = {"emails": 0, "webhooks": 0}
    rows: list[dict[str, Any]] = []

    def add(channel: str, recipient: str, webhook_id: uuid.UUID | None) -> None:
        rows.append(
            {
                "id": delivery_id(row.id, channel, recipient),
                "outbox_id": row.id,
                "directory_id": row.directory_id,
                "event_type": row.event_type,
                "channel": channel,
                "recipient": recipient,
                "webhook_id": webhook_id,
                "created_at": now,
                "available_at": now,
                "attempts": 0,
            }
        )

    if row.directory_id is None or channels is None:
        summary["skipped"] = "the event belongs to no directory"
    else:
        if channels.email is None:
            summary["email_skipped"] = "no email channel is configured or it is disabled"
        else:
            recipients = resolve(
                ctx.session,
                spec=spec,
                event_type=row.event_type,
                payload=payload,
                directory_id=row.directory_id,
                facts=facts,
                now=now,
            )
            for address in recipients.addresses:
                add(EMAIL, address, None)
            summary["emails"] = len(recipients.addresses)
            if recipients.truncated:
                summary["truncated"] = recipients.truncated
            if recipients.why_none:
                summary["email_skipped"] = recipients.why_none
        # A payload naming webhooks (a test message) goes to those only, and [] to none.
        only = (
            {u for u in (as_uuid(v) for v in payload["webhook_ids"] or []) if u}
            if "webhook_ids" in payload
            else None
        )
        for hook in channels.webhooks:
            if (only is not None and hook.id not in only) or not matches_event(
                list(hook.event_types or []), row.event_type
            ):
                continue
            add(WEBHOOK, str(hook.id), hook.id)
            summary["webhooks"] += 1
    if rows:
        ctx.session.execute(insert(Delivery), rows)
    row.summary = summary
    row.delivered_at = now
    row.last_error = None
    return len(rows)


def fan_out_batch(
    ctx: Ctx,
    *,
    limit: int,
    max_attempts: int,
    backoff: Callable[[int], timedelta],
) -> FanoutResult:
    """Expand up to `limit` due outbox events inside the caller's unit of work."""
    now: datetime = ctx.now
    result = FanoutResult()
    rows = ctx.session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.delivered_at.is_(None),
            OutboxMessage.dead_at.is_(None),
            OutboxMessage.available_at <= now,
        )
        .order_by(OutboxMessage.available_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    result.claimed = len(rows)
    cache: dict[uuid.UUID, _Channels] = {}
    for row in rows:
        channels = None
        if row.directory_id is not None:
            if row.directory_id not in cache:
                cache[row.directory_id] = _channels(ctx.session, row.directory_id)
            channels = cache[row.directory_id]
        try:
            with ctx.session.begin_nested():
                result.deliveries += _expand(ctx, row, channels)
            result.expanded += 1
        except Exception as exc:
            # A bug or bad payload in one event: keep it, say why, retry it later.
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning(
                "notification event %s (%s) not expanded: %s", row.id, row.event_type, error
            )
            row.attempts += 1
            row.last_error = error
            row.available_at = now + backoff(row.attempts)
            if row.attempts >= max_attempts:
                row.dead_at = now
                result.dead += 1
            result.failed += 1
            result.errors.append(error)
    ctx.session.flush()
    return result
