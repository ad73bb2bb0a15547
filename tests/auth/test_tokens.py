from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from openpim.auth.anonymous import anonymous_actor
from openpim.auth.models import AuthToken
from openpim.auth.tokens import (
    authenticate,
    check_token,
    create_api_token,
    list_tokens,
    revoke_token,
    sign_out,
    touch,
)
from openpim.directory.models import User
from openpim.kit.context import Actor, ActorKind
from openpim.kit.errors import Forbidden, MfaRequired, Unauthorized, ValidationFailed
from tests.auth.helpers import audit_events, reload, session, token_actor
from tests.factories import USER_ADMIN, Env


def _authenticate(env: Env, raw: str) -> Actor:
    with env.runtime.unit(anonymous_actor()) as ctx:
        return authenticate(ctx, raw)


def _refused(env: Env, raw: str) -> None:
    with pytest.raises(Unauthorized) as caught:
        _authenticate(env, raw)
    assert caught.value.code == "invalid_token"


def test_authenticate_returns_the_session_actor(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    raw, token = session(env, alice, mfa=True)

    with env.runtime.unit(anonymous_actor()) as ctx:
        actor = authenticate(ctx, raw)

    assert actor.kind == ActorKind.USER
    assert (actor.user_id, actor.directory_id) == (alice.id, alice.directory_id)
    assert (actor.token_id, actor.token_kind) == (token.id, "session")
    assert actor.label == alice.user_principal_name
    assert actor.mfa_verified_at == env.now


@pytest.mark.parametrize("raw", ["", "x" * 500, "not-a-token"])
def test_unknown_tokens_are_refused(env: Env, raw: str) -> None:
    _refused(env, raw)


def test_revoked_session_is_refused(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    raw, token = session(env, alice)
    with env.ctx(token_actor(env, alice, token)) as ctx:
        sign_out(ctx)
    _refused(env, raw)
    assert reload(env, AuthToken, token.id).revoked_at == env.now
    assert len(audit_events(env, "auth.signed_out")) == 1


def test_session_ends_after_the_idle_timeout(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    raw, _ = session(env, alice)
    idle = env.runtime.settings.session_idle_timeout
    env.clock.advance(idle - timedelta(seconds=1))
    _authenticate(env, raw)  # used just in time: the idle clock restarts
    env.clock.advance(idle - timedelta(seconds=1))
    _authenticate(env, raw)
    env.clock.advance(idle)
    _refused(env, raw)


def test_session_ends_at_the_absolute_timeout_even_when_busy(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    raw, token = session(env, alice)
    expires_at = token.expires_at
    assert expires_at == env.now + env.runtime.settings.session_absolute_timeout
    step = timedelta(minutes=20)
    while env.now + step < expires_at:
        env.clock.advance(step)
        _authenticate(env, raw)
    env.clock.set(expires_at - timedelta(seconds=1))
    _authenticate(env, raw)
    env.clock.advance(timedelta(seconds=1))
    _refused(env, raw)


def test_last_used_is_written_at_most_once_a_minute(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    raw, token = session(env, alice)
    created = env.now
    env.clock.advance(timedelta(seconds=59))
    _authenticate(env, raw)
    assert reload(env, AuthToken, token.id).last_used_at == created
    env.clock.advance(timedelta(seconds=1))
    _authenticate(env, raw)
    assert reload(env, AuthToken, token.id).last_used_at == env.now


def test_check_token_reads_only_and_says_when_a_touch_is_due(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    raw, token = session(env, alice)
    created = env.now
    env.clock.advance(timedelta(seconds=59))
    with env.runtime.read(anonymous_actor()) as ctx:
        actor, due = check_token(ctx, raw)
    assert actor.token_id == token.id and due is False
    env.clock.advance(timedelta(seconds=1))
    with env.runtime.read(anonymous_actor()) as ctx:
        actor, due = check_token(ctx, raw)
    assert due is True
    assert reload(env, AuthToken, token.id).last_used_at == created
    with env.runtime.unit(actor) as ctx:
        touch(ctx, actor)
    assert reload(env, AuthToken, token.id).last_used_at == env.now
    # A stale second touch (another request that saw the same old time) changes nothing.
    env.clock.advance(timedelta(seconds=10))
    with env.runtime.unit(actor) as ctx:
        touch(ctx, actor)
    assert reload(env, AuthToken, token.id).last_used_at == env.now - timedelta(seconds=10)
    with pytest.raises(Unauthorized), env.runtime.read(anonymous_actor()) as ctx:
        check_token(ctx, raw + "x")


def test_disabled_users_tokens_are_refused(env: Env) -> None:
    directory = env.directory()
    alice = env.user(directory, "alice")
    raw, _ = session(env, alice)
    with env.runtime.db.unit_of_work() as s:
        row = s.get(User, alice.id)
        assert row is not None
        row.enabled = False
    _refused(env, raw)


# --- personal API tokens ----------------------------------------------------------------------


def _api_token(
    env: Env, user: User, name: str = "ci", expires_at: datetime | None = None
) -> tuple[str, AuthToken]:
    _, token = session(env, user, mfa=True)
    with env.ctx(token_actor(env, user, token)) as ctx:
        return create_api_token(ctx, name, expires_at)


def test_api_token_is_shown_once_and_never_proves_mfa(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    raw, token = _api_token(env, alice, name="  deploy bot ")

    assert raw.startswith("opk_") and len(raw) >= 4 + 43
    stored = reload(env, AuthToken, token.id)
    assert (stored.kind, stored.name, stored.mfa_verified_at) == ("api", "deploy bot", None)
    assert stored.expires_at is None
    actor = _authenticate(env, raw)
    assert actor.token_kind == "api"
    assert actor.mfa_verified_at is None
    # API tokens have no idle timeout.
    env.clock.advance(timedelta(days=90))
    _authenticate(env, raw)
    assert len(audit_events(env, "auth.api_token_created")) == 1


def test_api_token_expires_when_asked(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    raw, _ = _api_token(env, alice, expires_at=env.now + timedelta(days=7))
    env.clock.advance(timedelta(days=7) - timedelta(seconds=1))
    _authenticate(env, raw)
    env.clock.advance(timedelta(seconds=1))
    _refused(env, raw)


def test_api_token_needs_a_future_aware_expiry_and_a_name(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    with pytest.raises(ValidationFailed) as past:
        _api_token(env, alice, expires_at=env.now)
    with pytest.raises(ValidationFailed) as naive:
        _api_token(env, alice, expires_at=env.now.replace(tzinfo=None) + timedelta(days=1))
    with pytest.raises(ValidationFailed) as unnamed:
        _api_token(env, alice, name="   ")
    assert (past.value.field, naive.value.field, unnamed.value.field) == (
        "expires_at",
        "expires_at",
        "name",
    )


def test_api_token_needs_a_fresh_mfa_proof_from_an_enrolled_user(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    _, token = session(env, alice, mfa=False)
    with pytest.raises(MfaRequired), env.ctx(token_actor(env, alice, token)) as ctx:
        create_api_token(ctx, "ci", None)
    _, fresh = session(env, alice, mfa=True)
    env.clock.advance(env.runtime.settings.mfa_freshness + timedelta(seconds=1))
    with pytest.raises(MfaRequired), env.ctx(token_actor(env, alice, fresh)) as ctx:
        create_api_token(ctx, "ci", None)


def test_an_api_token_cannot_mint_api_tokens(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    _, api = _api_token(env, alice)
    with pytest.raises(Forbidden) as caught, env.ctx(token_actor(env, alice, api)) as ctx:
        create_api_token(ctx, "second", None)
    assert caught.value.code == "api_token_cannot_create_tokens"


def test_list_and_revoke_tokens(env: Env) -> None:
    directory = env.directory()
    alice = env.user(directory, "alice")
    mallory = env.user(directory, "mallory")
    helpdesk = env.user(directory, "helpdesk")
    env.permanent(helpdesk, USER_ADMIN)
    raw_api, api = _api_token(env, alice)
    _, own_session = session(env, alice)

    with env.ctx(token_actor(env, alice, own_session)) as ctx:
        listed = list_tokens(ctx, alice.id)
        only_api = list_tokens(ctx, alice.id, kind="api")
    assert {t.id for t in listed} >= {api.id, own_session.id}
    assert [t.id for t in only_api] == [api.id]

    with pytest.raises(Forbidden), env.ctx(mallory) as ctx:
        revoke_token(ctx, api.id)
    with pytest.raises(Forbidden), env.ctx(mallory) as ctx:
        list_tokens(ctx, alice.id)
    with env.ctx(helpdesk) as ctx:
        revoke_token(ctx, api.id)
    _refused(env, raw_api)
    with env.ctx(alice) as ctx:
        assert api.id not in {t.id for t in list_tokens(ctx, alice.id)}
        assert api.id in {t.id for t in list_tokens(ctx, alice.id, include_ended=True)}
        revoke_token(ctx, api.id)  # already revoked: nothing more happens
    [event] = audit_events(env, "auth.token_revoked")
    assert event.actor_id == helpdesk.id and event.target_user_id == alice.id
