from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from openpim.auth import passwords
from openpim.auth.models import AuthFailure, AuthToken
from openpim.directory.models import User
from openpim.kit.errors import MfaRequired, Unauthorized
from tests.auth.helpers import (
    ADDRESS,
    PASSWORD,
    attempt,
    audit_events,
    code_at,
    failure_count,
    reload,
    set_password,
)
from tests.factories import Env


def _failures(env: Env) -> list[AuthFailure]:
    with env.runtime.db.reader() as s:
        rows = list(s.execute(select(AuthFailure).order_by(AuthFailure.at)).scalars())
        s.expunge_all()
        return rows


def test_sign_in_opens_a_session_and_stores_only_the_token_hash(env: Env) -> None:
    directory = env.directory()
    alice = env.user(directory, "alice")
    set_password(env, alice)

    raw, token = attempt(env, alice.user_principal_name, PASSWORD, env.totp(alice)).unwrap()

    assert len(raw) >= 43  # 32 random bytes, base64url
    stored = reload(env, AuthToken, token.id)
    assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in (stored.token_hash, stored.name)
    assert stored.kind == "session"
    assert stored.user_id == alice.id
    assert stored.expires_at == env.now + env.runtime.settings.session_absolute_timeout
    assert stored.mfa_verified_at == env.now
    assert stored.client_address == ADDRESS
    assert reload(env, User, alice.id).last_sign_in_at == env.now
    [event] = audit_events(env, "auth.signed_in")
    assert event.actor_id == alice.id
    assert event.actor_label == alice.user_principal_name
    assert event.client_address == ADDRESS
    assert json.loads(event.detail or "{}")["mfa"] is True


def test_upn_is_matched_case_insensitively(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)
    outcome = attempt(env, "  " + alice.user_principal_name.upper(), PASSWORD, env.totp(alice))
    assert outcome.ok


def test_user_without_totp_signs_in_without_mfa_proof(env: Env) -> None:
    bob = env.user(env.directory(), "bob", mfa=False)
    set_password(env, bob)
    _, token = attempt(env, bob.user_principal_name, PASSWORD, None).unwrap()
    assert token.mfa_verified_at is None


def test_wrong_password_is_refused_and_the_failure_is_kept(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)

    outcome = attempt(env, alice.user_principal_name, "not the password!", env.totp(alice))

    with pytest.raises(Unauthorized) as caught:
        outcome.unwrap()
    assert caught.value.code == "invalid_credentials"
    [failure] = _failures(env)
    assert (failure.user_id, failure.address, failure.kind) == (alice.id, ADDRESS, "password")
    [event] = audit_events(env, "auth.sign_in_failed")
    assert event.result == "failure"
    assert event.target_user_id == alice.id
    assert event.actor_id is None  # a failure is someone trying, not the user acting
    assert reload(env, User, alice.id).last_sign_in_at is None


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)

    wrong = attempt(env, alice.user_principal_name, "not the password!")
    unknown = attempt(env, "nobody@contoso.example", PASSWORD)

    assert wrong.error is not None and unknown.error is not None
    assert type(wrong.error) is type(unknown.error)
    assert (wrong.error.code, wrong.error.message) == (unknown.error.code, unknown.error.message)
    assert failure_count(env) == 2
    assert len(audit_events(env, "auth.sign_in_failed")) == 2


def test_user_without_password_cannot_sign_in(env: Env) -> None:
    carol = env.user(env.directory(), "carol", mfa=False)
    error = attempt(env, carol.user_principal_name, PASSWORD).error
    assert isinstance(error, Unauthorized) and error.code == "invalid_credentials"


def test_wrong_totp_code_is_a_failure(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)
    wrong = "000000" if env.totp(alice) != "000000" else "111111"

    error = attempt(env, alice.user_principal_name, PASSWORD, wrong).error

    assert isinstance(error, Unauthorized) and error.code == "invalid_credentials"
    assert [f.kind for f in _failures(env)] == ["totp"]


def test_missing_totp_code_asks_for_it_without_counting_a_failure(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)
    error = attempt(env, alice.user_principal_name, PASSWORD, None).error
    assert isinstance(error, MfaRequired)
    assert failure_count(env) == 0
    # Audited, so a right password whose code never comes (a stolen one) leaves a trace.
    [event] = audit_events(env, "auth.sign_in_mfa_pending")
    assert event.result == "interrupted" and event.target_user_id == alice.id
    assert event.actor_id is None  # someone trying, not yet the user
    assert event.client_address == ADDRESS
    assert json.loads(event.detail or "{}")["reason"] == "mfa_required"
    assert audit_events(env, "auth.sign_in_failed") == []
    # A wrong password says nothing about MFA, and leaves no such event.
    attempt(env, alice.user_principal_name, "not the password", None)
    assert len(audit_events(env, "auth.sign_in_mfa_pending")) == 1


def test_a_totp_code_is_accepted_once(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)
    code = env.totp(alice)

    assert attempt(env, alice.user_principal_name, PASSWORD, code).ok
    replay = attempt(env, alice.user_principal_name, PASSWORD, code)

    assert isinstance(replay.error, Unauthorized)
    assert replay.error.code == "invalid_credentials"


@pytest.mark.parametrize(("steps", "accepted"), [(-1, True), (1, True), (-2, False), (2, False)])
def test_totp_drift_of_one_step_is_tolerated_but_not_two(
    env: Env, steps: int, accepted: bool
) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)
    code = code_at(env.totp_secrets[alice.id], env.now + timedelta(seconds=30 * steps))
    assert code != env.totp(alice)

    assert attempt(env, alice.user_principal_name, PASSWORD, code).ok is accepted


def test_disabled_user_is_refused(env: Env) -> None:
    dave = env.user(env.directory(), "dave", enabled=False)
    set_password(env, dave)

    right = attempt(env, dave.user_principal_name, PASSWORD, env.totp(dave)).error
    wrong = attempt(env, dave.user_principal_name, "not the password!").error

    assert isinstance(right, Unauthorized) and right.code == "account_disabled"
    # Without every factor right, a disabled account looks like any other failure.
    assert isinstance(wrong, Unauthorized) and wrong.code == "invalid_credentials"
    assert failure_count(env) == 2


def test_external_name_in_two_directories_needs_the_directory(env: Env) -> None:
    first, second = env.directory(), env.directory()
    in_first = env.user(first, "eve", external=True, mfa=False)
    in_second = env.user(second, "eve", external=True, mfa=False)
    set_password(env, in_first)
    set_password(env, in_second)

    ambiguous = attempt(env, in_first.user_principal_name, PASSWORD)
    _, token = attempt(env, in_first.user_principal_name, PASSWORD, directory_id=second.id).unwrap()

    assert isinstance(ambiguous.error, Unauthorized)
    assert token.user_id == in_second.id


def test_successful_sign_in_upgrades_an_outdated_hash(env: Env) -> None:
    alice = env.user(env.directory(), "alice", mfa=False)
    set_password(env, alice)
    old_hash = reload(env, User, alice.id).password_hash
    assert old_hash is not None and "t=1" in old_hash
    passwords.use_hasher(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))

    attempt(env, alice.user_principal_name, PASSWORD).unwrap()

    new_hash = reload(env, User, alice.id).password_hash
    assert new_hash is not None and new_hash != old_hash and "m=16,t=2" in new_hash
    assert passwords.verify_password(new_hash, PASSWORD)


def test_failed_sign_in_does_not_rehash(env: Env) -> None:
    alice = env.user(env.directory(), "alice", mfa=False)
    set_password(env, alice)
    old_hash = reload(env, User, alice.id).password_hash
    passwords.use_hasher(PasswordHasher(time_cost=2, memory_cost=16, parallelism=1))
    attempt(env, alice.user_principal_name, "not the password!")
    assert reload(env, User, alice.id).password_hash == old_hash
