from __future__ import annotations

import json
from datetime import timedelta

import pytest

from openpim.kit.errors import RateLimited, Unauthorized
from tests.auth.helpers import (
    PASSWORD,
    attempt,
    audit_events,
    failure_count,
    set_password,
)
from tests.factories import Env

WRONG = "definitely not it"


def test_per_user_limit_refuses_even_the_right_password(env: Env) -> None:
    settings = env.runtime.settings
    alice = env.user(env.directory(), "alice", mfa=False)
    set_password(env, alice)
    for i in range(settings.sign_in_failures_per_user):
        # Different addresses: only the per-user counter can be what stops the next one.
        error = attempt(env, alice.user_principal_name, WRONG, address=f"192.0.2.{i}").error
        assert isinstance(error, Unauthorized)
        env.clock.advance(timedelta(seconds=10))

    refused = attempt(env, alice.user_principal_name, PASSWORD, address="192.0.2.200")

    assert isinstance(refused.error, RateLimited)
    assert refused.error.code == "too_many_attempts"
    # The oldest of the five failures was 50 s ago; it leaves the 5-minute window in 250 s.
    assert refused.error.retry_after_seconds == 250
    # The refusal is audited but does not count as another failure.
    assert failure_count(env) == settings.sign_in_failures_per_user
    [event] = audit_events(env, "auth.sign_in_rate_limited")
    assert event.result == "failure"
    assert json.loads(event.detail or "{}")["limit"] == "user"

    env.clock.advance(timedelta(seconds=249))
    assert isinstance(attempt(env, alice.user_principal_name, PASSWORD).error, RateLimited)
    env.clock.advance(timedelta(seconds=1))
    assert attempt(env, alice.user_principal_name, PASSWORD).ok


def test_per_user_limit_counts_totp_failures_too(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    set_password(env, alice)
    wrong_code = "000000" if env.totp(alice) != "000000" else "111111"
    for _ in range(env.runtime.settings.sign_in_failures_per_user):
        assert attempt(env, alice.user_principal_name, PASSWORD, wrong_code).error is not None
    refused = attempt(env, alice.user_principal_name, PASSWORD, env.totp(alice))
    assert isinstance(refused.error, RateLimited)


def test_per_address_limit_spans_users(env: Env) -> None:
    settings = env.runtime.settings
    directory = env.directory()
    for i in range(settings.sign_in_failures_per_address):
        victim = env.user(directory, f"victim{i}", mfa=False)
        set_password(env, victim)
        assert attempt(env, victim.user_principal_name, WRONG, address="198.18.0.1").error
    fresh = env.user(directory, "fresh", mfa=False)
    set_password(env, fresh)

    from_same = attempt(env, fresh.user_principal_name, PASSWORD, address="198.18.0.1")
    from_other = attempt(env, fresh.user_principal_name, PASSWORD, address="198.18.0.2")

    assert isinstance(from_same.error, RateLimited)
    assert from_other.ok
    [event] = audit_events(env, "auth.sign_in_rate_limited")
    assert json.loads(event.detail or "{}")["limit"] == "address"


def test_unknown_names_are_limited_like_real_ones(env: Env) -> None:
    limit = env.runtime.settings.sign_in_failures_per_user
    alice = env.user(env.directory(), "alice", mfa=False)
    set_password(env, alice)
    outcomes = {}
    for name in (alice.user_principal_name, "ghost@contoso.example"):
        for i in range(limit):
            attempt(env, name, WRONG, address=f"192.0.2.{i}")
        outcomes[name] = attempt(env, name, WRONG, address="192.0.2.99").error
    assert all(isinstance(e, RateLimited) for e in outcomes.values())


def test_a_successful_sign_in_clears_the_per_user_count(env: Env) -> None:
    limit = env.runtime.settings.sign_in_failures_per_user
    alice = env.user(env.directory(), "alice", mfa=False)
    set_password(env, alice)
    for i in range(limit - 1):
        attempt(env, alice.user_principal_name, WRONG, address=f"192.0.2.{i}")
    env.clock.advance(timedelta(seconds=1))
    assert attempt(env, alice.user_principal_name, PASSWORD).ok
    env.clock.advance(timedelta(seconds=1))

    attempt(env, alice.user_principal_name, WRONG, address="192.0.2.50")
    assert attempt(env, alice.user_principal_name, PASSWORD, address="192.0.2.51").ok


@pytest.mark.parametrize("address", [None, ""])
def test_without_a_client_address_only_the_user_limit_applies(
    env: Env, address: str | None
) -> None:
    alice = env.user(env.directory(), "alice", mfa=False)
    set_password(env, alice)
    for _ in range(env.runtime.settings.sign_in_failures_per_user):
        attempt(env, alice.user_principal_name, WRONG, address=address)
    assert isinstance(attempt(env, alice.user_principal_name, PASSWORD).error, RateLimited)
