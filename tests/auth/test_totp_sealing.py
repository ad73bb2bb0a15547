"""TOTP secrets are sealed at rest with a key derived from OPENPIM_SECRET_KEY."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pyotp
import pytest
from pydantic import SecretStr
from sqlalchemy import text, update

from openpim.assignments import service as assignments
from openpim.auth import mfa
from openpim.auth.anonymous import anonymous_actor
from openpim.auth.mfa import (
    TotpSecretUnreadable,
    begin_totp_enrollment,
    confirm_totp_enrollment,
    open_secret,
    seal_bare_secrets,
    seal_secret,
)
from openpim.auth.models import AuthToken
from openpim.auth.password_check import check_password
from openpim.auth.sign_in import sign_in
from openpim.auth.step_up import step_up
from openpim.config import Settings
from openpim.directory.models import User
from openpim.kit.sealing import Sealer, Unreadable
from openpim.notifications.crypto import seal as seal_channel_secret
from openpim.runtime import Runtime
from tests.auth.helpers import (
    ADDRESS,
    PASSWORD,
    attempt,
    audit_events,
    code_at,
    failure_count,
    opened,
    reload,
    session,
    set_password,
    token_actor,
)
from tests.factories import PASSWORD_ADMIN, Env


def _stored(env: Env, user: User) -> tuple[str | None, str | None]:
    """The raw column values, as a database dump would show them."""
    with env.runtime.db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT totp_secret, totp_pending_secret FROM users WHERE user_principal_name = :u"
            ),
            {"u": user.user_principal_name},
        ).one()
    return row[0], row[1]


def _with_key(env: Env, key: str) -> Runtime:
    """The same database and clock, served with another OPENPIM_SECRET_KEY."""
    settings = env.runtime.settings.model_copy(update={"secret_key": SecretStr(key)})
    return dataclasses.replace(env.runtime, settings=settings)


def test_enrolment_never_stores_the_base32_secret(env: Env) -> None:
    carol = env.user(env.directory(), "carol", mfa=False)
    with env.ctx(carol) as ctx:
        secret, _ = begin_totp_enrollment(ctx, carol.id)

    active, pending = _stored(env, carol)
    assert active is None and pending is not None
    assert secret not in pending and pending.startswith("enc1:")

    with env.ctx(carol) as ctx:
        confirm_totp_enrollment(ctx, carol.id, pyotp.TOTP(secret).at(env.now))

    active, pending = _stored(env, carol)
    assert pending is None and active is not None
    assert secret not in active and secret.lower() not in active.lower()
    assert opened(env, active) == secret
    # The secret in force works for sign-in (the code of the next step: one use per step).
    set_password(env, carol)
    env.clock.advance(timedelta(seconds=30))
    assert attempt(env, carol.user_principal_name, PASSWORD, code_at(secret, env.now)).ok


def test_sealing_is_randomised_and_bound_to_its_use(env: Env) -> None:
    settings = env.runtime.settings
    secret = pyotp.random_base32()
    first, second = seal_secret(settings, secret), seal_secret(settings, secret)
    assert first != second  # a fresh IV each time: equal secrets do not look equal
    assert open_secret(settings, first) == open_secret(settings, second) == secret
    # A value sealed for notification channels is not accepted as a TOTP secret.
    with pytest.raises(TotpSecretUnreadable):
        open_secret(settings, "enc1:" + seal_channel_secret(settings, secret))
    with pytest.raises(Unreadable):
        Sealer(info=b"another use", what="x").unseal(settings, first[len("enc1:") :])


def test_a_secret_stored_before_sealing_still_works_and_is_sealed_on_use(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)
    secret = env.totp_secrets[alice.id]
    with env.runtime.db.unit_of_work() as s:  # a row written by an older version
        s.execute(update(User).where(User.id == alice.id).values(totp_secret=secret))

    assert attempt(env, alice.user_principal_name, PASSWORD, env.totp(alice)).ok

    active, _ = _stored(env, alice)
    assert active is not None and active.startswith("enc1:") and secret not in active
    assert opened(env, active) == secret


def test_a_pending_secret_stored_before_sealing_is_sealed_when_confirmed(env: Env) -> None:
    carol = env.user(env.directory(), "carol", mfa=False)
    secret = pyotp.random_base32()
    with env.runtime.db.unit_of_work() as s:
        s.execute(update(User).where(User.id == carol.id).values(totp_pending_secret=secret))

    with env.ctx(carol) as ctx:
        confirm_totp_enrollment(ctx, carol.id, pyotp.TOTP(secret).at(env.now))

    active, _ = _stored(env, carol)
    assert active is not None and secret not in active and opened(env, active) == secret


def test_seal_bare_secrets_seals_every_row_an_older_version_left_in_clear(env: Env) -> None:
    directory = env.directory()
    alice, bob = env.user(directory, "alice"), env.user(directory, "bob")
    carol = env.user(directory, "carol", mfa=False)
    pending = pyotp.random_base32()
    with env.runtime.db.unit_of_work() as s:  # rows written by an older version
        s.execute(
            update(User)
            .where(User.id == alice.id)
            .values(totp_secret=env.totp_secrets[alice.id], totp_pending_secret=pending)
        )
        s.execute(update(User).where(User.id == carol.id).values(totp_pending_secret=pending))
    untouched = _stored(env, bob)

    with env.runtime.db.unit_of_work() as s:
        assert seal_bare_secrets(s, env.runtime.settings) == 2

    active, pending_stored = _stored(env, alice)
    assert active is not None and pending_stored is not None
    assert active.startswith("enc1:") and pending_stored.startswith("enc1:")
    assert opened(env, active) == env.totp_secrets[alice.id]
    assert opened(env, pending_stored) == pending
    assert _stored(env, carol)[0] is None and opened(env, _stored(env, carol)[1] or "") == pending
    assert _stored(env, bob) == untouched  # already sealed: not re-encrypted
    with env.runtime.db.unit_of_work() as s:
        assert seal_bare_secrets(s, env.runtime.settings) == 0
    # The secret's value did not change: the enrolled authenticator still signs in.
    set_password(env, alice)
    assert attempt(env, alice.user_principal_name, PASSWORD, env.totp(alice)).ok


def test_sealing_never_overwrites_a_secret_enrolled_meanwhile(
    env: Env, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between reading a bare row and sealing it, the user re-enrols from another connection:
    the new secret stays (on SQLite the stale write transaction is refused outright)."""
    if not is_postgres:
        pytest.skip("SQLite refuses a write from a transaction whose snapshot is stale")
    alice = env.user(env.directory(), "alice")
    with env.runtime.db.unit_of_work() as s:
        s.execute(
            update(User).where(User.id == alice.id).values(totp_secret=env.totp_secrets[alice.id])
        )
    enrolled_meanwhile = seal_secret(env.runtime.settings, pyotp.random_base32())
    real_sealed = mfa._sealed

    def sealed_during_an_enrolment(settings: Settings, stored: str) -> str:
        with env.runtime.db.engine.begin() as other:
            other.execute(
                update(User).where(User.id == alice.id).values(totp_secret=enrolled_meanwhile)
            )
        return real_sealed(settings, stored)

    monkeypatch.setattr(mfa, "_sealed", sealed_during_an_enrolment)
    with env.runtime.db.unit_of_work() as s:
        seal_bare_secrets(s, env.runtime.settings)
    assert _stored(env, alice)[0] == enrolled_meanwhile


def test_a_wrong_server_key_fails_closed_with_a_clear_error(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)
    other = _with_key(env, "another-server-key-0123456789abcdef")

    with other.read(anonymous_actor(), client_address=ADDRESS) as ctx:
        check = check_password(ctx, alice.user_principal_name, PASSWORD)
    with other.unit(anonymous_actor(), client_address=ADDRESS) as ctx:
        outcome = sign_in(ctx, check, env.totp(alice))

    error = outcome.error
    assert isinstance(error, TotpSecretUnreadable)
    assert error.status == 503 and error.code == "totp_secret_unreadable"
    assert "OPENPIM_SECRET_KEY" in error.message
    assert audit_events(env, "auth.signed_in") == []
    [event] = audit_events(env, "auth.sign_in_failed")
    assert "totp_secret_unreadable" in (event.detail or "")
    assert failure_count(env) == 0  # the server's fault, not a guess
    # The row is left as it was: the right key still works.
    assert reload(env, User, alice.id).totp_last_step is None
    assert attempt(env, alice.user_principal_name, PASSWORD, env.totp(alice)).ok


def test_a_wrong_server_key_refuses_a_step_up_and_audits_it(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    _, token = session(env, alice)
    other = _with_key(env, "another-server-key-0123456789abcdef")

    with other.unit(token_actor(env, alice, token), client_address=ADDRESS) as ctx:
        outcome = step_up(ctx, token.id, env.totp(alice))

    assert isinstance(outcome.error, TotpSecretUnreadable)
    [event] = audit_events(env, "auth.step_up_failed")
    assert "totp_secret_unreadable" in (event.detail or "")
    assert failure_count(env) == 0  # the server's fault, not a guess
    assert reload(env, AuthToken, token.id).mfa_verified_at is None


def test_a_wrong_server_key_refuses_an_activation_that_needs_mfa(env: Env) -> None:
    directory, _admin = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    other = _with_key(env, "another-server-key-0123456789abcdef")

    with pytest.raises(TotpSecretUnreadable), other.unit(env.actor(bob)) as ctx:
        assignments.self_activate(
            ctx,
            directory_id=directory.id,
            role_id=PASSWORD_ADMIN,
            duration=timedelta(hours=1),
            justification="incident 42",
            totp_code=env.totp(bob),
        )
    # Nothing was activated (else this would be "already active"); the right key works.
    with env.ctx(env.actor(bob)) as ctx:
        request = assignments.self_activate(
            ctx,
            directory_id=directory.id,
            role_id=PASSWORD_ADMIN,
            duration=timedelta(hours=1),
            justification="incident 42",
            totp_code=env.totp(bob),
        )
    assert request.status == "Provisioned"
