"""Fan-out: each committed outbox event becomes one delivery per address and per webhook.

All in one transaction per batch, with no network in it: the event rows are locked (SKIP
LOCKED on PostgreSQL, the write lock on SQLite), their content rendered and stored, their
deliveries inserted and the rows marked done, or none of it. An event that cannot be rendered
is retried later on its own, without holding up the rest of the batch.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from openpim.assignments.models import RoleRequest
from openpim.directory.models import Directory, User
from openpim.kit.context import Ctx
from openpim.notifications.addresses import matches_event
from openpim.notifications.catalog import spec_for
from openpim.notifications.content import render
from openpim.notifications.facts import as_uuid, gather
from openpim.notifications.models import Delivery, EmailChannel, OutboxMessage, WebhookChannel
from openpim.notifications.recipients import Lookups, resolve
from openpim.roles.models import RoleDefinition

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


@dataclass
class _Plan:
    content: dict[str, Any]
    summary: dict[str, Any]
    rows: list[dict[str, Any]]


def _expand(ctx: Ctx, row: OutboxMessage, channels: _Channels | None, lookups: Lookups) -> _Plan:
    """Everything an event becomes, computed without writing anything."""
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
    content = render(spec, facts, base_url=ctx.settings.base_url)
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
                lookups=lookups,
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
    return _Plan(content, summary, rows)


def _preload(ctx: Ctx, rows: list[OutboxMessage]) -> list[Any]:
    """Load the users, roles, requests and directories the batch names, a query per kind.

    The facts and recipients then find them in the session's identity map instead of asking
    the database once per event. The map holds objects weakly: the caller keeps the returned
    list alive for the whole batch.
    """
    wanted: dict[type[Any], set[uuid.UUID]] = {
        User: set(),
        RoleDefinition: set(),
        RoleRequest: set(),
        Directory: set(),
    }
    keys = {
        "principal_id": User,
        "requested_by_id": User,
        "role_id": RoleDefinition,
        "request_id": RoleRequest,
    }
    for row in rows:
        if row.directory_id is not None:
            wanted[Directory].add(row.directory_id)
        payload = row.payload or {}
        for key, model in keys.items():
            value = as_uuid(payload.get(key))
            if value is not None:
                wanted[model].add(value)
    kept: list[Any] = []
    for model, id_set in wanted.items():
        ids = list(id_set)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            kept += ctx.session.scalars(select(model).where(model.id.in_(chunk))).all()
    return kept


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
    kept = _preload(ctx, list(rows))
    cache: dict[uuid.UUID, _Channels] = {}
    lookups = Lookups(ctx.session, now)
    deliveries: list[dict[str, Any]] = []
    # Reads only until the end: pending row updates need not be flushed before each query,
    # and one event's failure (a template bug, a bad payload) leaves the others untouched.
    with ctx.session.no_autoflush:
        for row in rows:
            channels = None
            if row.directory_id is not None:
                if row.directory_id not in cache:
                    cache[row.directory_id] = _channels(ctx.session, row.directory_id)
                channels = cache[row.directory_id]
            try:
                plan = _expand(ctx, row, channels, lookups)
            except SQLAlchemyError:
                raise  # the transaction is unusable: the whole batch is retried
            except Exception as exc:
                # A bug or bad payload in one event: keep it, say why, retry it later.
                error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("event %s (%s) not expanded: %s", row.id, row.event_type, error)
                row.attempts += 1
                row.last_error = error
                row.available_at = now + backoff(row.attempts)
                if row.attempts >= max_attempts:
                    row.dead_at = now
                    result.dead += 1
                result.failed += 1
                result.errors.append(error)
                continue
            row.content, row.summary = plan.content, plan.summary
            row.delivered_at, row.last_error = now, None
            deliveries += plan.rows
            result.expanded += 1
    ctx.session.flush()
    if deliveries:
        ctx.session.execute(insert(Delivery), deliveries)
    result.deliveries = len(deliveries)
    ctx.session.flush()
    del kept  # held until here: see _preload
    return result
