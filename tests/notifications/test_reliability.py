"""At least once, never lost: outages, crashes, flaky receivers, dead letters, rollbacks."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from openpim.assignments.models import MemberType
from openpim.directory.models import Directory, User
from openpim.notifications import delivery, deliverylog, mail
from openpim.notifications.delivery import DeliveryPolicy
from tests.assignments.helpers import activate, assign
from tests.factories import PASSWORD_ADMIN, Env
from tests.notifications.helpers import (
    POLICY,
    SECRET,
    attempts,
    deliver,
    deliveries,
    email_channel,
    events,
    legacy_recipients,
    webhook,
)
from tests.notifications.servers import Receiver, SmtpServer, WebhookServer

REPO = Path(__file__).resolve().parents[2]


def _members(env: Env, directory: Directory, admin: User, count: int) -> list[User]:
    """`count` users just made eligible: one assignment.added email each."""
    users = [env.user(directory) for _ in range(count)]
    for user in users:
        assign(env, admin, user, PASSWORD_ADMIN, MemberType.ELIGIBLE)
    return users


def _addresses(smtp: SmtpServer) -> Counter[str]:
    return Counter(r.recipients[0] for r in smtp.received)


def test_smtp_down_for_a_while_then_back_delivers_everything_once(
    env: Env, smtp: SmtpServer
) -> None:
    directory, admin = env.pim_directory()
    email_channel(env, directory, smtp.port)
    legacy_recipients(env, directory)
    users = _members(env, directory, admin, 12)
    smtp.stop()

    first = deliver(env)
    assert first.claimed == 12 and first.retrying == 12 and first.delivered == 0
    env.clock.advance(POLICY.max_delay)
    assert deliver(env).retrying == 12  # still down: retried, kept
    assert all(d.attempts == 2 and d.dead_at is None for d in deliveries(env))

    smtp.start()
    assert deliver(env).claimed == 0  # nothing due before its backoff ends
    env.clock.advance(POLICY.max_delay)
    assert deliver(env).delivered == 12
    assert _addresses(smtp) == Counter(u.user_principal_name for u in users)
    assert all(d.delivered_at is not None for d in deliveries(env))
    log_lines = attempts(env, deliveries(env)[0].id)
    assert [a.outcome for a in log_lines] == ["failed", "failed", "delivered"]
    assert "unusable" in (log_lines[0].error or "")


class Killed(BaseException):
    """Stands for the process dying: nothing below catches a BaseException."""


def test_a_worker_killed_mid_batch_loses_nothing_and_resends_under_the_same_id(
    env: Env, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, admin = env.pim_directory()
    email_channel(env, directory, smtp.port)
    legacy_recipients(env, directory)
    users = _members(env, directory, admin, 10)
    real_send = mail.SmtpSender.send
    state = {"started": 0, "dead": False}
    lock = threading.Lock()

    def send(self: mail.SmtpSender, out: mail.Outgoing, at: Any) -> Any:
        # Four sends get out; then the process is "dead" for every connection at once.
        with lock:
            if state["dead"] or state["started"] == 4:
                state["dead"] = True
                raise Killed
            state["started"] += 1
        return real_send(self, out, at)

    monkeypatch.setattr(mail.SmtpSender, "send", send)
    with pytest.raises(Killed):
        deliver(env)
    monkeypatch.undo()
    assert len(smtp.received) == 4

    # Restarted at once: the dead worker's lease still holds its rows.
    assert deliver(env).claimed == 0
    env.clock.advance(POLICY.lease + timedelta(seconds=1))
    assert deliver(env).delivered == 10

    assert set(_addresses(smtp)) == {u.user_principal_name for u in users}
    ids = Counter(r.message_id for r in smtp.received)
    assert len(ids) == 10 and sorted(ids.values()) == [1] * 6 + [2] * 4
    outcomes = Counter(a.outcome for d in deliveries(env) for a in attempts(env, d.id))
    assert outcomes == {"abandoned": 10, "delivered": 10}


_KILLED = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime
    from openpim.config import Settings
    from openpim.kit.clock import FrozenClock
    from openpim.notifications import delivery, mail
    from openpim.runtime import Runtime

    url, now, kill_after = sys.argv[1], datetime.fromisoformat(sys.argv[2]), int(sys.argv[3])
    real, sent = mail.SmtpSender.send, [0]

    def send(self, out, at):
        result = real(self, out, at)
        sent[0] += 1
        if sent[0] >= kill_after:
            os._exit(9)  # no rollback, no cleanup: the process just stops
        return result

    mail.SmtpSender.send = send
    settings = Settings(database_url=url, secret_key="test-secret-key-0123456789abcdef")
    delivery.deliver_due(Runtime.from_settings(settings, FrozenClock(now)), limit=50)
    """
)


def test_a_killed_worker_process_loses_nothing(
    env: Env, smtp: SmtpServer, backend_url: str
) -> None:
    directory, admin = env.pim_directory()
    email_channel(env, directory, smtp.port)
    legacy_recipients(env, directory)
    users = _members(env, directory, admin, 8)
    done = subprocess.run(
        [sys.executable, "-c", _KILLED, backend_url, env.now.isoformat(), "3"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 9, done.stderr
    before = len(smtp.received)
    assert before >= 3  # other connections may have finished a message as the process died
    assert all(d.locked_until is not None and d.delivered_at is None for d in deliveries(env))

    env.clock.advance(POLICY.lease)
    assert deliver(env).delivered == 8
    assert set(_addresses(smtp)) == {u.user_principal_name for u in users}
    ids = Counter(r.message_id for r in smtp.received)
    # Every message arrived; a message the dead process had already sent came again with the
    # same id (the SMTP server may finish receiving it after `before` was read, so compare ids,
    # not counts).
    assert len(ids) == 8 and all(count <= 2 for count in ids.values())
    assert sum(ids.values()) >= before + 8


def test_a_webhook_answering_500_then_timing_out_then_200_is_delivered(env: Env) -> None:
    directory, admin = env.pim_directory()
    receiver = Receiver(secret=SECRET, script=[500, "timeout"])
    server = WebhookServer(receiver).start()
    try:
        webhook(env, directory, receiver.url)
        _members(env, directory, admin, 1)
        assert deliver(env).retrying == 1
        env.clock.advance(POLICY.max_delay)
        assert deliver(env).retrying == 1
        env.clock.advance(POLICY.max_delay)
        assert deliver(env).delivered == 1
    finally:
        server.stop()
    (row,) = deliveries(env, channel="webhook")
    assert [h.delivery_id for h in receiver.hits] == [str(row.id)] * 3
    assert all(h.signature_ok and h.event == "assignment.added" for h in receiver.hits)
    assert len({h.body for h in receiver.hits}) == 1  # byte-for-byte the same on every retry
    log_lines = attempts(env, row.id)
    assert [a.outcome for a in log_lines] == ["failed", "failed", "delivered"]
    assert log_lines[0].status_code == 500 and (log_lines[0].error or "").startswith("HTTP 500")
    assert "timed out" in (log_lines[1].error or "")


def test_a_webhook_that_never_succeeds_is_dead_lettered_and_can_be_retried_by_hand(
    env: Env,
) -> None:
    directory, admin = env.pim_directory()
    receiver = Receiver(secret=SECRET, script=[503] * POLICY.max_attempts)
    server = WebhookServer(receiver).start()
    try:
        webhook(env, directory, receiver.url)
        _members(env, directory, admin, 1)
        for _ in range(POLICY.max_attempts):
            deliver(env)
            env.clock.advance(POLICY.max_delay)
        (row,) = deliveries(env, channel="webhook")
        assert row.dead_at is not None and row.attempts == POLICY.max_attempts
        assert deliver(env).claimed == 0  # dead rows stay dead

        with env.ctx() as ctx:
            deliverylog.retry_delivery(ctx, directory.id, row.id)
        assert deliver(env).delivered == 1
    finally:
        server.stop()
    (row,) = deliveries(env, channel="webhook")
    assert row.delivered_at is not None and row.dead_at is None
    assert len({h.delivery_id for h in receiver.hits}) == 1
    assert len(receiver.hits) == POLICY.max_attempts + 1


def test_a_relay_refusing_a_recipient_for_good_dead_letters_at_once(
    env: Env, smtp: SmtpServer
) -> None:
    directory, admin = env.pim_directory()
    email_channel(env, directory, smtp.port)
    legacy_recipients(env, directory)
    smtp.replies = ["451 4.3.0 try again later", "550 5.1.1 no such mailbox"]
    _members(env, directory, admin, 1)
    assert deliver(env).retrying == 1
    env.clock.advance(POLICY.max_delay)
    assert deliver(env).dead == 1
    (row,) = deliveries(env)
    assert row.attempts == 2 and "550" in (row.last_error or "")


def test_a_rolled_back_activation_sends_nothing(env: Env, smtp: SmtpServer) -> None:
    directory, _admin = env.pim_directory()
    user = env.user(directory, "erin")
    env.eligible(user, PASSWORD_ADMIN)
    email_channel(env, directory, smtp.port)
    legacy_recipients(env, directory)

    class Abort(Exception):
        pass

    from openpim.assignments import service

    with pytest.raises(Abort), env.ctx(env.actor(user, mfa=True)) as ctx:
        service.self_activate(
            ctx,
            directory_id=directory.id,
            role_id=PASSWORD_ADMIN,
            duration=timedelta(hours=1),
            justification="will not commit",
        )
        raise Abort
    assert events(env) == []
    assert deliver(env).claimed == 0
    assert smtp.received == []

    activate(env, user, PASSWORD_ADMIN)  # the same activation, committed, is announced
    assert deliver(env).delivered == 1


def test_two_workers_at_once_never_send_the_same_row(env: Env, smtp: SmtpServer) -> None:
    directory, admin = env.pim_directory()
    email_channel(env, directory, smtp.port)
    legacy_recipients(env, directory)
    _members(env, directory, admin, 60)
    delivery.fan_out(env.runtime, limit=500)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            while delivery.deliver_due(env.runtime, limit=7, policy=POLICY).claimed:
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    ids = Counter(r.message_id for r in smtp.received)
    assert len(ids) == 60 and set(ids.values()) == {1}


def test_backoff_is_exponential_capped_and_jittered() -> None:
    policy = DeliveryPolicy(base_delay=timedelta(seconds=30), max_delay=timedelta(minutes=10))
    rng = random.Random(1)
    for attempt, step in [(1, 30), (2, 60), (3, 120), (5, 480), (6, 600), (40, 600)]:
        delays = {policy.backoff(attempt, rng).total_seconds() for _ in range(50)}
        assert min(delays) >= step / 2 and max(delays) <= step
        assert len(delays) > 1  # jittered
