"""The two short transactions around sending: claiming a batch and recording its outcome."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from openpim.kit.context import Actor
from openpim.notifications import mail
from openpim.notifications.crypto import SecretUnreadable, unseal
from openpim.notifications.fanout import EMAIL
from openpim.notifications.models import (
    Delivery,
    DeliveryAttempt,
    EmailChannel,
    OutboxMessage,
    WebhookChannel,
)
from openpim.notifications.webhooks import SendResult
from openpim.runtime import Runtime

if TYPE_CHECKING:
    from openpim.notifications.delivery import DeliveryPolicy

CLAIM_ACTOR = Actor.system("system:notifications")
_deliveries = cast(Table, Delivery.__table__)
_attempts = cast(Table, DeliveryAttempt.__table__)
_UNREADABLE = (
    "a stored channel secret cannot be decrypted with the current OPENPIM_SECRET_KEY; "
    "enter it again"
)


@dataclass(frozen=True)
class Item:
    id: uuid.UUID
    outbox_id: uuid.UUID
    directory_id: uuid.UUID
    event_type: str
    channel: str
    recipient: str
    webhook_id: uuid.UUID | None
    attempts: int
    attempt_id: uuid.UUID
    content: dict[str, Any]
    payload: dict[str, Any]
    occurred_at: datetime
    # Why it cannot be sent at all (channel gone, secret unreadable), found while claiming.
    problem: str | None = None
    problem_final: bool = False


@dataclass(frozen=True)
class Hook:
    format: str
    url: str
    secret: str


@dataclass
class Batch:
    token: uuid.UUID
    worker: str
    items: list[Item] = field(default_factory=list)
    smtp: dict[uuid.UUID, mail.SmtpConfig] = field(default_factory=dict)
    hooks: dict[uuid.UUID, Hook] = field(default_factory=dict)


@dataclass
class Outcome:
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    released: int = 0
    # Rows whose claim another worker took over meanwhile (our lease had run out).
    lost: int = 0


def due_clause(now: datetime) -> Any:
    return (
        Delivery.delivered_at.is_(None),
        Delivery.dead_at.is_(None),
        Delivery.available_at <= now,
        or_(Delivery.locked_until.is_(None), Delivery.locked_until <= now),
    )


def claim(
    runtime: Runtime, *, limit: int, lease: timedelta, worker: str, smtp_timeout: float = 15.0
) -> Batch:
    batch = Batch(token=uuid.uuid4(), worker=worker)
    with runtime.unit(CLAIM_ACTOR) as ctx:
        now = ctx.now
        s = ctx.session
        ids = s.scalars(
            select(Delivery.id)
            .where(*due_clause(now))
            .order_by(Delivery.available_at, Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not ids:
            return batch
        s.execute(
            update(Delivery)
            .where(Delivery.id.in_(ids))
            .values(
                locked_until=now + lease,
                claim_token=batch.token,
                attempts=Delivery.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        # An attempt still "sending" belongs to a worker that died: its lease ran out.
        s.execute(
            update(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(ids), DeliveryAttempt.outcome == "sending")
            .values(
                outcome="abandoned",
                finished_at=now,
                error="the worker stopped before recording a result; its lease ran out",
            )
            .execution_options(synchronize_session=False)
        )
        rows = s.execute(
            select(
                Delivery.id,
                Delivery.outbox_id,
                Delivery.directory_id,
                Delivery.event_type,
                Delivery.channel,
                Delivery.recipient,
                Delivery.webhook_id,
                Delivery.attempts,
                OutboxMessage.content,
                OutboxMessage.payload,
                OutboxMessage.created_at,
            )
            .join(OutboxMessage, OutboxMessage.id == Delivery.outbox_id)
            .where(Delivery.id.in_(ids))
            .order_by(Delivery.available_at, Delivery.id)
        ).all()
        problems = _load_channels(s, runtime, batch, rows, smtp_timeout)
        attempt_rows = []
        for row in rows:
            attempt_id = uuid.uuid4()
            problem = problems.get(row.id)
            batch.items.append(
                Item(
                    id=row.id,
                    outbox_id=row.outbox_id,
                    directory_id=row.directory_id,
                    event_type=row.event_type,
                    channel=row.channel,
                    recipient=row.recipient,
                    webhook_id=row.webhook_id,
                    attempts=row.attempts,
                    attempt_id=attempt_id,
                    content=row.content or {},
                    payload=row.payload or {},
                    occurred_at=row.created_at,
                    problem=problem[0] if problem else None,
                    problem_final=problem[1] if problem else False,
                )
            )
            attempt_rows.append(
                {
                    "id": attempt_id,
                    "delivery_id": row.id,
                    "number": row.attempts,
                    "worker": worker,
                    "claim_token": batch.token,
                    "started_at": now,
                    "outcome": "sending",
                }
            )
        s.execute(insert(DeliveryAttempt), attempt_rows)
    return batch


def _load_channels(
    s: Session, runtime: Runtime, batch: Batch, rows: Any, smtp_timeout: float
) -> dict[uuid.UUID, tuple[str, bool]]:
    """SMTP settings and webhooks the batch needs, secrets unsealed; problems per delivery."""
    problems: dict[uuid.UUID, tuple[str, bool]] = {}
    directories = {r.directory_id for r in rows if r.channel == EMAIL}
    email_rows = {
        e.directory_id: e
        for e in s.scalars(select(EmailChannel).where(EmailChannel.directory_id.in_(directories)))
    }
    hook_ids = {r.webhook_id for r in rows if r.webhook_id is not None}
    hook_rows = {
        h.id: h for h in s.scalars(select(WebhookChannel).where(WebhookChannel.id.in_(hook_ids)))
    }
    settings = runtime.settings
    for directory_id, e in email_rows.items():
        try:
            password = unseal(settings, e.password_sealed) if e.password_sealed else None
        except SecretUnreadable:
            continue
        batch.smtp[directory_id] = mail.SmtpConfig(
            host=e.host,
            port=e.port,
            security=e.security,
            username=e.username,
            password=password,
            from_address=e.from_address,
            timeout=smtp_timeout,
        )
    for hook_id, h in hook_rows.items():
        try:
            batch.hooks[hook_id] = Hook(
                h.format, unseal(settings, h.url_sealed), unseal(settings, h.secret_sealed)
            )
        except SecretUnreadable:
            continue
    for r in rows:
        if r.channel == EMAIL:
            email = email_rows.get(r.directory_id)
            if email is None:
                problems[r.id] = ("the directory's email channel was removed", True)
            elif not email.enabled:
                problems[r.id] = ("the directory's email channel is disabled", True)
            elif r.directory_id not in batch.smtp:
                problems[r.id] = (_UNREADABLE, False)
        else:
            hook = hook_rows.get(r.webhook_id)
            if hook is None:
                problems[r.id] = ("the webhook was removed", True)
            elif not hook.enabled:
                problems[r.id] = ("the webhook is disabled", True)
            elif hook.id not in batch.hooks:
                problems[r.id] = (_UNREADABLE, False)
    return problems


def _final_update(**values: Any) -> Any:
    return (
        _deliveries.update()
        .where(
            _deliveries.c.id == bindparam("b_id"),
            _deliveries.c.claim_token == bindparam("b_token"),
        )
        .values(**values)
    )


def record(
    runtime: Runtime,
    batch: Batch,
    results: dict[uuid.UUID, SendResult | None],
    *,
    policy: DeliveryPolicy,
    rng: random.Random | None = None,
) -> Outcome:
    outcome = Outcome()
    delivered: list[dict[str, Any]] = []
    retry: list[dict[str, Any]] = []
    dead: list[dict[str, Any]] = []
    released: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    with runtime.unit(CLAIM_ACTOR) as ctx:
        now = ctx.now
        for item in batch.items:
            result = results.get(item.id)
            key = {"b_id": item.id, "b_token": batch.token}
            if result is None:
                released.append(key)
                attempts.append(_attempt(item, "released", "not tried: batch time ran out"))
            elif result.ok:
                delivered.append(key)
                attempts.append(_attempt(item, "delivered", None, result.status_code))
            elif result.permanent or item.attempts >= policy.max_attempts:
                dead.append({**key, "b_error": result.error})
                attempts.append(_attempt(item, "dead", result.error, result.status_code))
            else:
                retry.append(
                    {
                        **key,
                        "b_error": result.error,
                        "b_at": now + policy.backoff(item.attempts, rng),
                    }
                )
                attempts.append(_attempt(item, "failed", result.error, result.status_code))
        conn = ctx.session.connection()
        free = {"locked_until": None, "claim_token": None}
        at_type = _deliveries.c.available_at.type
        if delivered:
            r = conn.execute(_final_update(delivered_at=now, last_error=None, **free), delivered)
            outcome.delivered = _count(r.rowcount, delivered)
        if retry:
            stmt = _final_update(
                available_at=bindparam("b_at", type_=at_type),
                last_error=bindparam("b_error"),
                **free,
            )
            outcome.retrying = _count(conn.execute(stmt, retry).rowcount, retry)
        if dead:
            stmt = _final_update(dead_at=now, last_error=bindparam("b_error"), **free)
            outcome.dead = _count(conn.execute(stmt, dead).rowcount, dead)
        if released:
            stmt = _final_update(attempts=_deliveries.c.attempts - 1, **free)
            outcome.released = _count(conn.execute(stmt, released).rowcount, released)
        outcome.lost = len(batch.items) - (
            outcome.delivered + outcome.retrying + outcome.dead + outcome.released
        )
        if attempts:
            conn.execute(
                _attempts.update()
                .where(_attempts.c.id == bindparam("b_id"))
                .values(
                    outcome=bindparam("b_outcome"),
                    finished_at=now,
                    error=bindparam("b_error"),
                    status_code=bindparam("b_status"),
                ),
                attempts,
            )
    return outcome


def _attempt(
    item: Item, outcome: str, error: str | None, status: int | None = None
) -> dict[str, Any]:
    return {"b_id": item.attempt_id, "b_outcome": outcome, "b_error": error, "b_status": status}


def _count(rowcount: int, rows: list[dict[str, Any]]) -> int:
    # A driver that cannot count an executemany says -1: assume every row matched.
    return rowcount if rowcount >= 0 else len(rows)
