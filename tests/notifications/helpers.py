"""Shortcuts for the notification tests: channels, delivery rounds, and what the tables hold."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta
from typing import Any

from pydantic import SecretStr
from sqlalchemy import select

from openpim.directory.models import Directory
from openpim.notifications import channels, delivery
from openpim.notifications.delivery import DeliveryCounts, DeliveryPolicy
from openpim.notifications.models import Delivery, DeliveryAttempt, OutboxMessage
from openpim.notifications.schemas import EmailChannelIn, WebhookIn
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from tests.factories import PASSWORD_ADMIN, Env

POLICY = DeliveryPolicy(
    max_attempts=4,
    base_delay=timedelta(seconds=30),
    max_delay=timedelta(minutes=5),
    lease=timedelta(minutes=5),
    smtp_timeout=2.0,
    http_timeout=0.5,
    http_connect_timeout=0.5,
)
SECRET = "webhook-shared-secret-0123456789"


def email_channel(env: Env, directory: Directory, port: int, **fields: Any) -> None:
    data = EmailChannelIn(
        host="127.0.0.1",
        port=port,
        security=fields.pop("security", "none"),
        from_address=fields.pop("from_address", "Contoso PIM <pim@contoso.example>"),
        **fields,
    )
    with env.ctx() as ctx:
        channels.set_email_channel(ctx, directory.id, data)


def webhook(env: Env, directory: Directory, url: str, **fields: Any) -> uuid.UUID:
    data = WebhookIn(
        name=fields.pop("name", "siem"),
        url=SecretStr(url),
        secret=SecretStr(fields.pop("secret", SECRET)),
        **fields,
    )
    with env.ctx() as ctx:
        return channels.create_webhook(ctx, directory.id, data).id


def deliver(env: Env, *, limit: int = 200, policy: DeliveryPolicy = POLICY) -> DeliveryCounts:
    return delivery.drain(env.runtime, limit=limit, policy=policy, rng=random.Random(7))


def deliveries(env: Env, **where: Any) -> list[Delivery]:
    with env.runtime.db.reader() as s:
        query = select(Delivery).filter_by(**where).order_by(Delivery.created_at, Delivery.id)
        rows = list(s.scalars(query))
        s.expunge_all()
        return rows


def attempts(env: Env, delivery_id: uuid.UUID) -> list[DeliveryAttempt]:
    with env.runtime.db.reader() as s:
        rows = list(
            s.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.number, DeliveryAttempt.started_at)
            )
        )
        s.expunge_all()
        return rows


def events(env: Env, event_type: str | None = None) -> list[OutboxMessage]:
    with env.runtime.db.reader() as s:
        query = select(OutboxMessage).order_by(OutboxMessage.created_at)
        if event_type is not None:
            query = query.where(OutboxMessage.event_type == event_type)
        rows = list(s.scalars(query))
        s.expunge_all()
        return rows


def legacy_recipients(env: Env, directory: Directory, role_id: uuid.UUID = PASSWORD_ADMIN) -> None:
    """The role's notification rules set to whom OpenPIM emailed before it had them: a
    membership change to the member only, an activation to the admins only. For tests of the
    delivery machinery, where one email per change keeps the counts plain."""
    off = {"default_recipients": False}
    rules = {
        "eligible_assignment": {"admin": off},
        "active_assignment": {"admin": off},
        "activation": {"requestor": off},
    }
    with env.ctx() as ctx:
        update_role_settings(
            ctx,
            directory.id,
            role_id,
            RoleSettingsUpdate.model_validate({"notification_rules": rules}),
        )
