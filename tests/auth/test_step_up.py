from __future__ import annotations

from datetime import timedelta

import pytest

from openpim.auth.models import AuthToken
from openpim.auth.step_up import step_up
from openpim.auth.tokens import create_api_token
from openpim.kit.errors import Conflict, Forbidden, RateLimited, Unauthorized
from tests.auth.helpers import audit_events, failure_count, reload, session, token_actor
from tests.factories import Env


def _wrong(env: Env, code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_step_up_records_the_mfa_proof_on_the_session(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    _, token = session(env, alice)
    env.clock.advance(timedelta(minutes=3))

    with env.ctx(token_actor(env, alice, token)) as ctx:
        outcome = step_up(ctx, token.id, env.totp(alice))
    outcome.unwrap()

    assert reload(env, AuthToken, token.id).mfa_verified_at == env.now
    assert len(audit_events(env, "auth.step_up")) == 1


def test_wrong_or_replayed_code_is_refused_and_counted(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    _, token = session(env, alice)
    code = env.totp(alice)
    actor = token_actor(env, alice, token)
    with env.ctx(actor) as ctx:
        step_up(ctx, token.id, code).unwrap()
    env.clock.advance(timedelta(seconds=5))

    for attempt_code in (code, _wrong(env, code)):
        with env.ctx(actor) as ctx:
            outcome = step_up(ctx, token.id, attempt_code)
        with pytest.raises(Unauthorized) as caught:
            outcome.unwrap()
        assert caught.value.code == "invalid_totp_code"

    assert failure_count(env) == 2
    assert [e.result for e in audit_events(env, "auth.step_up_failed")] == ["failure"] * 2
    assert reload(env, AuthToken, token.id).mfa_verified_at == env.now - timedelta(seconds=5)


def test_step_up_is_rate_limited_like_sign_in(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    _, token = session(env, alice)
    actor = token_actor(env, alice, token)
    wrong = _wrong(env, env.totp(alice))
    for _ in range(env.runtime.settings.sign_in_failures_per_user):
        with env.ctx(actor) as ctx:
            assert not step_up(ctx, token.id, wrong).ok

    with env.ctx(actor) as ctx:
        outcome = step_up(ctx, token.id, env.totp(alice))

    assert isinstance(outcome.error, RateLimited)
    assert outcome.error.code == "too_many_attempts"
    assert len(audit_events(env, "auth.step_up_rate_limited")) == 1
    assert reload(env, AuthToken, token.id).mfa_verified_at is None
    env.clock.advance(env.runtime.settings.sign_in_failure_window)
    with env.ctx(actor) as ctx:
        assert step_up(ctx, token.id, env.totp(alice)).ok


def test_api_tokens_cannot_step_up(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    _, sess = session(env, alice, mfa=True)
    with env.ctx(token_actor(env, alice, sess)) as ctx:
        _, api = create_api_token(ctx, "ci", None)
    with pytest.raises(Forbidden) as caught, env.ctx(token_actor(env, alice, api)) as ctx:
        step_up(ctx, api.id, env.totp(alice))
    assert caught.value.code == "step_up_not_allowed"
    assert reload(env, AuthToken, api.id).mfa_verified_at is None


def test_step_up_only_for_the_callers_own_live_session(env: Env) -> None:
    directory = env.directory()
    alice = env.user(directory, "alice")
    bob = env.user(directory, "bob")
    _, alice_token = session(env, alice)
    _, bob_token = session(env, bob)
    _, other_alice = session(env, alice)

    for token in (bob_token, other_alice):
        with (
            pytest.raises(Unauthorized),
            env.ctx(token_actor(env, alice, alice_token)) as ctx,
        ):
            step_up(ctx, token.id, env.totp(alice))

    env.clock.advance(env.runtime.settings.session_idle_timeout)
    with pytest.raises(Unauthorized), env.ctx(token_actor(env, alice, alice_token)) as ctx:
        step_up(ctx, alice_token.id, env.totp(alice))


def test_step_up_needs_an_enrolled_authenticator(env: Env) -> None:
    carol = env.user(env.directory(), "carol", mfa=False)
    _, token = session(env, carol)
    with pytest.raises(Conflict) as caught, env.ctx(token_actor(env, carol, token)) as ctx:
        step_up(ctx, token.id, "123456")
    assert caught.value.code == "mfa_not_enrolled"
