"""Failures that are not the receiver's: an event that cannot be rendered, a channel removed
after the fan-out, a server key rotated under stored secrets. None is lost silently."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from openpim.assignments.models import MemberType
from openpim.notifications import channels, deliverylog, fanout
from openpim.notifications.schemas import WebhookUpdate
from tests.assignments.helpers import assign
from tests.factories import PASSWORD_ADMIN, Env
from tests.notifications.helpers import (
    POLICY,
    deliver,
    deliveries,
    email_channel,
    events,
    legacy_recipients,
    webhook,
)
from tests.notifications.servers import SmtpServer


def test_an_event_that_cannot_be_rendered_is_retried_then_dead_and_retried_by_hand(
    env: Env, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, admin = env.pim_directory()
    email_channel(env, directory, smtp.port)
    legacy_recipients(env, directory)
    good, bad = env.user(directory, "good"), env.user(directory, "bad")
    real = fanout.render

    def render(spec: Any, facts: Any, **kwargs: Any) -> Any:
        if facts.context["principal_upn"] == bad.user_principal_name:
            raise KeyError("a template bug")
        return real(spec, facts, **kwargs)

    monkeypatch.setattr(fanout, "render", render)
    assign(env, admin, good, PASSWORD_ADMIN, MemberType.ELIGIBLE)
    assign(env, admin, bad, PASSWORD_ADMIN, MemberType.ELIGIBLE)
    for _ in range(POLICY.max_attempts):
        deliver(env)
        env.clock.advance(POLICY.max_delay)
    assert [r.recipients[0] for r in smtp.received] == [good.user_principal_name]
    with env.ctx() as ctx:
        (dead,) = deliverylog.dead_events(ctx, directory.id)
    assert dead["attempts"] == POLICY.max_attempts and "template bug" in dead["last_error"]

    monkeypatch.undo()
    with env.ctx() as ctx:
        deliverylog.retry_event(ctx, directory.id, dead["id"])
    assert deliver(env).delivered == 1
    assert smtp.received[-1].recipients == [bad.user_principal_name]


def test_a_channel_removed_after_the_fan_out_dead_letters_its_deliveries(env: Env) -> None:
    directory, admin = env.pim_directory()
    email_channel(env, directory, 9)
    legacy_recipients(env, directory)
    assign(env, admin, env.user(directory), PASSWORD_ADMIN, MemberType.ELIGIBLE)
    fanout_count = deliver(env, policy=POLICY)  # port 9: refused, retried later
    assert fanout_count.retrying == 1
    with env.ctx() as ctx:
        channels.remove_email_channel(ctx, directory.id)
    env.clock.advance(POLICY.max_delay)
    assert deliver(env).dead == 1
    (row,) = deliveries(env)
    assert row.last_error == "the directory's email channel was removed"


def test_a_rotated_server_key_fails_deliveries_loudly_until_secrets_are_entered_again(
    env: Env,
) -> None:
    directory, admin = env.pim_directory()
    hook = webhook(env, directory, "http://127.0.0.1:9/hook")
    assign(env, admin, env.user(directory), PASSWORD_ADMIN, MemberType.ELIGIBLE)
    env.runtime.settings = env.runtime.settings.model_copy(
        update={"secret_key": SecretStr("a-new-server-key-0123456789abcdef")}
    )
    assert deliver(env).retrying == 1
    (row,) = deliveries(env)
    assert "cannot be decrypted" in (row.last_error or "")
    assert events(env)[0].delivered_at is not None
    with env.ctx() as ctx:
        channels.update_webhook(
            ctx,
            directory.id,
            hook,
            WebhookUpdate(url=SecretStr("http://127.0.0.1:9/hook"), secret=SecretStr("s" * 20)),
        )
    env.clock.advance(POLICY.max_delay)
    again = deliver(env)
    assert again.retrying == 1  # readable now; port 9 refuses, which is the receiver's fault
    (row,) = deliveries(env)
    assert "cannot be decrypted" not in (row.last_error or "")
