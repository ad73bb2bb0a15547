"""Configuring channels: who may, what is checked, and secrets that never come back out."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from openpim.audit.models import AuditEvent
from openpim.kit.errors import Conflict, Forbidden, ValidationFailed
from openpim.notifications import channels
from openpim.notifications.crypto import unseal
from openpim.notifications.models import EmailChannel, WebhookChannel
from openpim.notifications.schemas import EmailChannelIn, WebhookIn, WebhookUpdate
from tests.factories import SECURITY_READER, Env

PASSWORD = "relay-password-42"


def _email(**fields: object) -> EmailChannelIn:
    base: dict[str, object] = {
        "host": "smtp.contoso.example",
        "port": 587,
        "security": "starttls",
        "username": "pim-relay",
        "password": PASSWORD,
        "from_address": "PIM <pim@contoso.example>",
    }
    return EmailChannelIn.model_validate({**base, **fields})


def _audit_text(env: Env) -> str:
    with env.runtime.db.reader() as s:
        rows = s.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
        return json.dumps([[r.action, r.detail] for r in rows])


def test_the_smtp_password_is_sealed_write_only_and_kept_when_left_out(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.ctx(admin) as ctx:
        out = channels.set_email_channel(ctx, directory.id, _email())
    assert out.password_set and "password" not in out.model_dump()
    with env.runtime.db.reader() as s:
        row = s.scalars(select(EmailChannel)).one()
        assert PASSWORD not in (row.password_sealed or "")
        assert unseal(env.runtime.settings, row.password_sealed or "") == PASSWORD

    data = EmailChannelIn.model_validate(
        {k: v for k, v in _email(port=2525).model_dump().items() if k != "password"}
    )
    with env.ctx(admin) as ctx:
        out = channels.set_email_channel(ctx, directory.id, data)
    assert out.port == 2525 and out.password_set
    with env.runtime.db.reader() as s:
        row = s.scalars(select(EmailChannel)).one()
        assert unseal(env.runtime.settings, row.password_sealed or "") == PASSWORD
    audit = _audit_text(env)
    assert "notifications.email_configured" in audit and PASSWORD not in audit


def test_email_settings_are_checked(env: Env) -> None:
    directory, admin = env.pim_directory()
    cases = [
        (_email(security="none"), "login_needs_tls"),
        (_email(password=None), "password_required"),
        (_email(from_address="not an address"), "invalid_email"),
        (_email(host="smtp .example"), "invalid_host"),
    ]
    for data, code in cases:
        with pytest.raises(ValidationFailed) as caught, env.ctx(admin) as ctx:
            channels.set_email_channel(ctx, directory.id, data)
        assert caught.value.code == code


def test_only_a_pra_changes_channels_and_readers_see_them_without_secrets(env: Env) -> None:
    directory, admin = env.pim_directory()
    reader = env.user(directory, "reader")
    env.permanent(reader, SECURITY_READER)
    plain = env.user(directory, "plain")
    with pytest.raises(Forbidden), env.ctx(reader) as ctx:
        channels.set_email_channel(ctx, directory.id, _email())
    with env.ctx(admin) as ctx:
        channels.set_email_channel(ctx, directory.id, _email())
        channels.create_webhook(
            ctx,
            directory.id,
            WebhookIn(name="chat", url=SecretStr("https://hooks.example/T1/B2/xyz")),
        )
    with env.ctx(reader) as ctx:
        seen = channels.overview(ctx, directory.id)
    dumped = seen.model_dump_json()
    assert PASSWORD not in dumped and "xyz" not in dumped
    assert seen.webhooks[0].url == "https://hooks.example/T1/…"
    with pytest.raises(Forbidden), env.ctx(plain) as ctx:
        channels.overview(ctx, directory.id)


def test_a_generated_webhook_secret_is_shown_once(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.ctx(admin) as ctx:
        created = channels.create_webhook(
            ctx,
            directory.id,
            WebhookIn(name="siem", url=SecretStr("http://127.0.0.1:9/in"), event_types=["role.*"]),
        )
    assert created.secret is not None and len(created.secret) >= 32
    with env.ctx(admin) as ctx:
        listed = channels.list_webhooks(ctx, directory.id)
    assert "secret" not in listed[0].model_dump() and listed[0].secret_set
    assert listed[0].event_types == ["role.*"]
    with env.runtime.db.reader() as s:
        row = s.scalars(select(WebhookChannel)).one()
        assert unseal(env.runtime.settings, row.secret_sealed) == created.secret
    assert created.secret not in _audit_text(env)


def test_webhook_changes_are_checked_and_audited(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.ctx(admin) as ctx:
        hook = channels.create_webhook(
            ctx, directory.id, WebhookIn(name="a", url=SecretStr("https://a.example/x"))
        )
        channels.create_webhook(
            ctx, directory.id, WebhookIn(name="b", url=SecretStr("https://b.example/x"))
        )
    bad = [
        (WebhookIn(name="c", url=SecretStr("ftp://a.example/x")), "invalid_webhook_url"),
        (WebhookIn(name="c", url=SecretStr("https://u:p@a.example/")), "invalid_webhook_url"),
        (
            WebhookIn(name="c", url=SecretStr("https://a.example"), secret=SecretStr("short")),
            "secret_too_short",
        ),
        (
            WebhookIn(name="c", url=SecretStr("https://a.example"), event_types=["Bad Type"]),
            "invalid_event_type",
        ),
    ]
    for data, code in bad:
        with pytest.raises(ValidationFailed) as caught, env.ctx(admin) as ctx:
            channels.create_webhook(ctx, directory.id, data)
        assert caught.value.code == code
    with pytest.raises(Conflict), env.ctx(admin) as ctx:
        channels.update_webhook(ctx, directory.id, hook.id, WebhookUpdate(name="b"))
    with env.ctx(admin) as ctx:
        out = channels.update_webhook(
            ctx,
            directory.id,
            hook.id,
            WebhookUpdate(secret=SecretStr("a-brand-new-secret-value"), enabled=False),
        )
        assert out.enabled is False
        channels.remove_webhook(ctx, directory.id, hook.id)
    audit = _audit_text(env)
    assert "notifications.webhook_changed" in audit and "notifications.webhook_removed" in audit
    assert "a-brand-new-secret-value" not in audit


def test_secrets_need_the_server_key(env: Env) -> None:
    directory, admin = env.pim_directory()
    env.runtime.settings = env.runtime.settings.model_copy(update={"secret_key": SecretStr("")})
    with pytest.raises(ValidationFailed) as caught, env.ctx(admin) as ctx:
        channels.set_email_channel(ctx, directory.id, _email())
    assert caught.value.code == "secret_key_not_set"
