"""Configuring a directory's notification channels: its SMTP relay and its webhooks.

Reading needs a PIM reader role, changing needs an active PRA (or the operator). Secrets are
sealed on the way in and never come back out; the audit says a secret was set or changed,
never what it is.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from sqlalchemy import select

from openpim.audit.writer import AuditEntry, record
from openpim.auth.permissions import require_manage, require_read_all
from openpim.directory.models import Directory
from openpim.kit.context import Ctx
from openpim.kit.errors import Conflict, NotFound, ValidationFailed
from openpim.notifications import addresses
from openpim.notifications.crypto import seal
from openpim.notifications.models import EmailChannel, WebhookChannel
from openpim.notifications.outbox import enqueue
from openpim.notifications.schemas import (
    EmailChannelIn,
    EmailChannelOut,
    NotificationSettingsOut,
    Security,
    WebhookCreated,
    WebhookFormat,
    WebhookIn,
    WebhookOut,
    WebhookUpdate,
)

SECRET_MIN_LENGTH = 16
# What the audit says about a write-only value: that it changed, never what it is.
SET, CHANGED, REMOVED = "set", "changed", "removed"
MAX_WEBHOOKS = 20


def _directory(ctx: Ctx, directory_id: uuid.UUID, *, lock: bool = False) -> None:
    statement = select(Directory.id).where(Directory.id == directory_id)
    if lock:
        # Serialises channel changes per directory: two first-time saves would otherwise race
        # to insert the one email row.
        statement = statement.with_for_update()
    if ctx.session.execute(statement).first() is None:
        raise NotFound("No such directory.", code="directory_not_found")


def _audit(ctx: Ctx, directory_id: uuid.UUID, action: str, detail: dict[str, Any]) -> None:
    record(ctx, AuditEntry(action=action, directory_id=directory_id, detail=detail))


# --- email ----------------------------------------------------------------------------------


def email_out(row: EmailChannel) -> EmailChannelOut:
    return EmailChannelOut(
        id=row.id,
        directory_id=row.directory_id,
        enabled=row.enabled,
        host=row.host,
        port=row.port,
        security=Security(row.security),
        username=row.username,
        password_set=row.password_sealed is not None,
        from_address=row.from_address,
        updated_at=row.updated_at,
        updated_by=row.updated_by_label,
    )


def _email_row(ctx: Ctx, directory_id: uuid.UUID) -> EmailChannel | None:
    return ctx.session.execute(
        select(EmailChannel).where(EmailChannel.directory_id == directory_id)
    ).scalar_one_or_none()


def get_email_channel(ctx: Ctx, directory_id: uuid.UUID) -> EmailChannelOut | None:
    require_read_all(ctx, directory_id)
    _directory(ctx, directory_id)
    row = _email_row(ctx, directory_id)
    return email_out(row) if row is not None else None


def set_email_channel(ctx: Ctx, directory_id: uuid.UUID, data: EmailChannelIn) -> EmailChannelOut:
    """Create or replace the SMTP settings. A password left out of `data` is kept."""
    require_manage(ctx, directory_id)
    _directory(ctx, directory_id, lock=True)
    row = _email_row(ctx, directory_id)
    values: dict[str, Any] = {
        "enabled": data.enabled,
        "host": addresses.check_host(data.host),
        "port": data.port,
        "security": data.security.value,
        "username": (data.username or "").strip() or None,
        "from_address": addresses.check_from_address(data.from_address),
    }
    keep_password = "password" not in data.model_fields_set
    password = None if data.password is None else data.password.get_secret_value()
    if password == "":
        password = None
    has_password = (
        (row is not None and row.password_sealed is not None)
        if keep_password
        else (password is not None)
    )
    if values["username"] is not None and not has_password:
        raise ValidationFailed(
            "A user name needs a password.", code="password_required", field="password"
        )
    if values["username"] is None and has_password and not keep_password:
        raise ValidationFailed(
            "A password needs a user name.", code="username_required", field="username"
        )
    if values["username"] is not None and data.security == Security.NONE:
        raise ValidationFailed(
            "Logging in without TLS would send the password in clear text: use starttls or tls.",
            code="login_needs_tls",
            field="security",
        )
    created = row is None
    if row is None:
        row = EmailChannel(directory_id=directory_id, created_at=ctx.now)
        ctx.session.add(row)
    changes = {k: v for k, v in values.items() if getattr(row, k, None) != v}
    for key, value in values.items():
        setattr(row, key, value)
    if values["username"] is None:
        if row.password_sealed is not None:
            changes["password"] = REMOVED
        row.password_sealed = None
    elif not keep_password:
        assert password is not None
        row.password_sealed = seal(ctx.settings, password)
        changes["password"] = SET
    if not changes and not created:
        return email_out(row)
    row.updated_at = ctx.now
    row.updated_by_label = ctx.actor.label
    ctx.session.flush()
    _audit(
        ctx,
        directory_id,
        "notifications.email_configured",
        {"created": created, "changes": sorted(changes), **_public(changes)},
    )
    return email_out(row)


def _public(changes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in changes.items() if k not in ("password", "secret", "url")}


def remove_email_channel(ctx: Ctx, directory_id: uuid.UUID) -> None:
    require_manage(ctx, directory_id)
    _directory(ctx, directory_id, lock=True)
    row = _email_row(ctx, directory_id)
    if row is None:
        raise NotFound("No email channel is configured.", code="email_channel_not_found")
    ctx.session.delete(row)
    ctx.session.flush()
    _audit(ctx, directory_id, "notifications.email_removed", {"host": row.host})


# --- webhooks -------------------------------------------------------------------------------


def webhook_out(row: WebhookChannel) -> WebhookOut:
    return WebhookOut(
        id=row.id,
        directory_id=row.directory_id,
        name=row.name,
        url=row.url_display,
        format=WebhookFormat(row.format),
        enabled=row.enabled,
        event_types=list(row.event_types or []),
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by_label,
    )


def list_webhooks(ctx: Ctx, directory_id: uuid.UUID) -> list[WebhookOut]:
    require_read_all(ctx, directory_id)
    _directory(ctx, directory_id)
    rows = ctx.session.scalars(
        select(WebhookChannel)
        .where(WebhookChannel.directory_id == directory_id)
        .order_by(WebhookChannel.name)
    )
    return [webhook_out(row) for row in rows]


def _webhook(ctx: Ctx, directory_id: uuid.UUID, webhook_id: uuid.UUID) -> WebhookChannel:
    row = ctx.session.get(WebhookChannel, webhook_id)
    if row is None or row.directory_id != directory_id:
        raise NotFound("No such webhook in this directory.", code="webhook_not_found")
    return row


def get_webhook(ctx: Ctx, directory_id: uuid.UUID, webhook_id: uuid.UUID) -> WebhookOut:
    require_read_all(ctx, directory_id)
    return webhook_out(_webhook(ctx, directory_id, webhook_id))


def _name(value: str) -> str:
    name = value.strip()
    if not name or any(ord(ch) < 32 for ch in name):
        raise ValidationFailed("The name must be 1 to 100 printable characters.", field="name")
    return name


def _secret(value: str) -> str:
    if len(value) < SECRET_MIN_LENGTH:
        raise ValidationFailed(
            f"The webhook secret must be at least {SECRET_MIN_LENGTH} characters.",
            code="secret_too_short",
            field="secret",
        )
    return value


def _unique_name(ctx: Ctx, directory_id: uuid.UUID, name: str, own: uuid.UUID | None) -> None:
    clash = ctx.session.execute(
        select(WebhookChannel.id).where(
            WebhookChannel.directory_id == directory_id, WebhookChannel.name == name
        )
    ).scalar_one_or_none()
    if clash is not None and clash != own:
        raise Conflict(f"A webhook named {name!r} exists.", code="webhook_name_taken")


def create_webhook(ctx: Ctx, directory_id: uuid.UUID, data: WebhookIn) -> WebhookCreated:
    require_manage(ctx, directory_id)
    _directory(ctx, directory_id, lock=True)
    name = _name(data.name)
    _unique_name(ctx, directory_id, name, None)
    count = len(
        ctx.session.execute(
            select(WebhookChannel.id).where(WebhookChannel.directory_id == directory_id)
        ).all()
    )
    if count >= MAX_WEBHOOKS:
        raise Conflict(f"At most {MAX_WEBHOOKS} webhooks per directory.", code="too_many_webhooks")
    url = addresses.check_webhook_url(data.url.get_secret_value())
    generated = data.secret is None
    secret = (
        secrets.token_urlsafe(32)
        if data.secret is None
        else _secret(data.secret.get_secret_value())
    )
    row = WebhookChannel(
        directory_id=directory_id,
        name=name,
        url_sealed=seal(ctx.settings, url),
        url_display=addresses.redact_url(url),
        format=data.format.value,
        secret_sealed=seal(ctx.settings, secret),
        enabled=data.enabled,
        event_types=addresses.check_event_patterns(data.event_types),
        created_at=ctx.now,
        updated_at=ctx.now,
        updated_by_label=ctx.actor.label,
    )
    ctx.session.add(row)
    ctx.session.flush()
    _audit(
        ctx,
        directory_id,
        "notifications.webhook_added",
        {
            "webhook_id": str(row.id),
            "name": name,
            "url": row.url_display,
            "format": row.format,
            "secret_generated": generated,
        },
    )
    out = webhook_out(row)
    return WebhookCreated(**out.model_dump(), secret=secret if generated else None)


def update_webhook(
    ctx: Ctx, directory_id: uuid.UUID, webhook_id: uuid.UUID, data: WebhookUpdate
) -> WebhookOut:
    require_manage(ctx, directory_id)
    _directory(ctx, directory_id, lock=True)
    row = _webhook(ctx, directory_id, webhook_id)
    changes: dict[str, Any] = {}
    if data.name is not None and _name(data.name) != row.name:
        _unique_name(ctx, directory_id, _name(data.name), row.id)
        row.name = changes["name"] = _name(data.name)
    if data.url is not None:
        url = addresses.check_webhook_url(data.url.get_secret_value())
        row.url_sealed = seal(ctx.settings, url)
        row.url_display = changes["url_display"] = addresses.redact_url(url)
        changes["url"] = CHANGED
    if data.format is not None and data.format.value != row.format:
        row.format = changes["format"] = data.format.value
    if data.secret is not None:
        row.secret_sealed = seal(ctx.settings, _secret(data.secret.get_secret_value()))
        changes["secret"] = CHANGED
    if data.enabled is not None and data.enabled != row.enabled:
        row.enabled = changes["enabled"] = data.enabled
    if data.event_types is not None:
        patterns = addresses.check_event_patterns(data.event_types)
        if patterns != list(row.event_types or []):
            row.event_types = changes["event_types"] = patterns
    if not changes:
        return webhook_out(row)
    row.updated_at = ctx.now
    row.updated_by_label = ctx.actor.label
    ctx.session.flush()
    _audit(
        ctx,
        directory_id,
        "notifications.webhook_changed",
        {"webhook_id": str(row.id), "changes": sorted(changes), **_public(changes)},
    )
    return webhook_out(row)


def remove_webhook(ctx: Ctx, directory_id: uuid.UUID, webhook_id: uuid.UUID) -> None:
    require_manage(ctx, directory_id)
    _directory(ctx, directory_id, lock=True)
    row = _webhook(ctx, directory_id, webhook_id)
    ctx.session.delete(row)
    ctx.session.flush()
    _audit(
        ctx,
        directory_id,
        "notifications.webhook_removed",
        {"webhook_id": str(row.id), "name": row.name, "url": row.url_display},
    )


# --- overview and test messages ---------------------------------------------------------------

TEST_EVENT = "notifications.test"


def overview(ctx: Ctx, directory_id: uuid.UUID) -> NotificationSettingsOut:
    return NotificationSettingsOut(
        email=get_email_channel(ctx, directory_id), webhooks=list_webhooks(ctx, directory_id)
    )


def send_test(
    ctx: Ctx,
    directory_id: uuid.UUID,
    *,
    email: str | None = None,
    webhook_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Queue a test message to one address (through the email channel) or to one webhook."""
    require_manage(ctx, directory_id)
    _directory(ctx, directory_id)
    if (email is None) == (webhook_id is None):
        raise ValidationFailed(
            "Name either an email address or a webhook to test.", code="test_target_required"
        )
    payload: dict[str, Any] = {"actor": ctx.actor.label, "webhook_ids": []}
    if email is not None:
        address = email.strip()
        if not addresses.is_address(address):
            raise ValidationFailed(
                f"{email!r} is not an email address.", code="invalid_email", field="email"
            )
        if _email_row(ctx, directory_id) is None:
            raise NotFound("No email channel is configured.", code="email_channel_not_found")
        payload["recipient_emails"] = [addresses.canonical_address(address)]
        target = addresses.canonical_address(address)
    else:
        assert webhook_id is not None
        hook = _webhook(ctx, directory_id, webhook_id)
        payload["webhook_ids"] = [str(hook.id)]
        target = f"webhook {hook.name}"
    message_id = enqueue(ctx, TEST_EVENT, payload, directory_id=directory_id)
    _audit(ctx, directory_id, "notifications.test_sent", {"to": target})
    return message_id
