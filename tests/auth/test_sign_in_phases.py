"""Sign-in verifies the password before its write unit opens, and the write unit re-checks
whatever may have changed while the hash ran (see auth.password_check and
auth.password_attempt)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Literal

from argon2 import PasswordHasher
from sqlalchemy import update

from openpim.auth import passwords
from openpim.auth.anonymous import anonymous_actor
from openpim.auth.password_check import PasswordCheck, check_password
from openpim.auth.sign_in import sign_in
from openpim.directory.models import User
from openpim.kit.errors import RateLimited, Unauthorized
from tests.auth.helpers import (
    ADDRESS,
    PASSWORD,
    attempt,
    audit_events,
    failure_count,
    reload,
    set_password,
)
from tests.factories import Env

WRONG = "definitely not it"


class _HookedHasher(PasswordHasher):
    """Real (fast) argon2id that runs `during` inside every verification."""

    def __init__(self, during: Callable[[], None]) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.during = during
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verifications += 1
        self.during()
        return super().verify(hash, password)


def _check(env: Env, upn: str, password: str = PASSWORD) -> PasswordCheck:
    with env.runtime.read(anonymous_actor(), client_address=ADDRESS) as ctx:
        return check_password(ctx, upn, password)


def _finish(env: Env, check: PasswordCheck, code: str | None) -> Exception | None:
    with env.runtime.unit(anonymous_actor(), client_address=ADDRESS) as ctx:
        outcome = sign_in(ctx, check, code)
    return outcome.error


def test_other_writers_commit_while_the_password_is_verified(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)
    finished: list[bool] = []

    def write_meanwhile() -> None:
        # Another writer touching the very row being signed in: it must not wait for argon2
        # (SQLite: the database write lock; PostgreSQL: the user's row lock).
        def work() -> None:
            with env.runtime.db.unit_of_work() as s:
                s.execute(update(User).where(User.id == alice.id).values(display_name="Alice W"))
            finished.append(True)

        writer = threading.Thread(target=work)
        writer.start()
        writer.join(timeout=10)
        finished.append(not writer.is_alive())

    hasher = _HookedHasher(write_meanwhile)
    passwords.use_hasher(hasher)

    outcome = attempt(env, alice.user_principal_name, PASSWORD, env.totp(alice))

    assert hasher.verifications == 1
    assert finished == [True, True], "a writer waited for the password verification"
    assert outcome.ok
    assert reload(env, User, alice.id).display_name == "Alice W"


def test_an_unknown_name_still_costs_one_verification(env: Env) -> None:
    hasher = _HookedHasher(lambda: None)
    passwords.use_hasher(hasher)

    check = _check(env, "nobody@contoso.example")
    error = _finish(env, check, None)

    assert hasher.verifications == 1  # against the dummy hash: no timing difference
    assert isinstance(error, Unauthorized) and error.code == "invalid_credentials"
    assert failure_count(env) == 1


def test_a_password_changed_during_verification_does_not_sign_in(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)

    check = _check(env, alice.user_principal_name)
    assert check.matched
    set_password(env, alice, "a brand new password")  # e.g. an administrator's reset
    error = _finish(env, check, env.totp(alice))

    assert isinstance(error, Unauthorized) and error.code == "invalid_credentials"
    assert audit_events(env, "auth.signed_in") == []
    [event] = audit_events(env, "auth.sign_in_failed")
    assert json.loads(event.detail or "{}")["reason"] == "password_changed"
    assert failure_count(env) == 0  # not a guess: the password was right when checked
    assert attempt(env, alice.user_principal_name, "a brand new password", env.totp(alice)).ok


def test_a_user_disabled_during_verification_does_not_sign_in(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)

    check = _check(env, alice.user_principal_name)
    with env.runtime.db.unit_of_work() as s:
        s.execute(update(User).where(User.id == alice.id).values(enabled=False))
    error = _finish(env, check, env.totp(alice))

    assert isinstance(error, Unauthorized) and error.code == "account_disabled"
    assert audit_events(env, "auth.signed_in") == []
    assert reload(env, User, alice.id).last_sign_in_at is None


def test_failures_recorded_during_verification_still_stop_the_attempt(env: Env) -> None:
    alice = env.user(env.directory(), "alice", mfa=False)
    set_password(env, alice)

    check = _check(env, alice.user_principal_name)  # passed the limit check, password right
    for i in range(env.runtime.settings.sign_in_failures_per_user):
        assert attempt(env, alice.user_principal_name, WRONG, address=f"192.0.2.{i}").error
    error = _finish(env, check, None)

    assert isinstance(error, RateLimited)
    assert len(audit_events(env, "auth.sign_in_rate_limited")) == 1


def test_a_rate_limited_attempt_is_not_verified(env: Env) -> None:
    alice = env.user(env.directory(), "alice", mfa=False)
    set_password(env, alice)
    for i in range(env.runtime.settings.sign_in_failures_per_user):
        assert attempt(env, alice.user_principal_name, WRONG, address=f"192.0.2.{i}").error
    hasher = _HookedHasher(lambda: None)
    passwords.use_hasher(hasher)

    check = _check(env, alice.user_principal_name)

    assert hasher.verifications == 0 and check.limited is not None and not check.matched
    assert isinstance(_finish(env, check, None), RateLimited)
