from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from openpim.auth.mfa import (
    begin_totp_enrollment,
    confirm_totp_enrollment,
    matching_step,
    reset_totp,
)
from openpim.auth.models import AuthToken
from openpim.auth.step_up import step_up
from openpim.directory.models import User
from openpim.kit.errors import Conflict, Forbidden, MfaRequired, ValidationFailed
from tests.auth.helpers import (
    PASSWORD,
    attempt,
    audit_events,
    code_at,
    opened,
    reload,
    session,
    set_password,
    token_actor,
)
from tests.factories import GA, USER_ADMIN, Env


def test_enrolment_is_pending_until_a_code_confirms_it(env: Env) -> None:
    carol = env.user(env.directory(), "carol", mfa=False)

    with env.ctx(carol) as ctx:
        secret, uri = begin_totp_enrollment(ctx, carol.id)

    assert uri.startswith("otpauth://totp/") and secret in uri
    pending = reload(env, User, carol.id)
    assert (opened(env, pending.totp_pending_secret), pending.totp_secret) == (secret, None)
    assert not pending.mfa_enrolled

    with pytest.raises(ValidationFailed) as wrong, env.ctx(carol) as ctx:
        code = pyotp.TOTP(secret).at(env.now)
        confirm_totp_enrollment(ctx, carol.id, "000000" if code != "000000" else "111111")
    assert wrong.value.field == "code"

    with env.ctx(carol) as ctx:
        confirm_totp_enrollment(ctx, carol.id, pyotp.TOTP(secret).at(env.now))
    enrolled = reload(env, User, carol.id)
    assert opened(env, enrolled.totp_secret) == secret and enrolled.totp_pending_secret is None
    assert enrolled.totp_enrolled_at == env.now
    # The confirming code is spent: it cannot be replayed to sign in.
    set_password(env, carol)
    assert not attempt(env, carol.user_principal_name, PASSWORD, code_at(secret, env.now)).ok
    env.clock.advance(timedelta(seconds=30))
    assert attempt(env, carol.user_principal_name, PASSWORD, code_at(secret, env.now)).ok
    events = audit_events(env, "mfa.enrollment_started") + audit_events(env, "mfa.enrolled")
    assert len(events) == 2
    assert all(secret not in (e.detail or "") for e in events)


def test_confirm_without_pending_enrolment_is_a_conflict(env: Env) -> None:
    carol = env.user(env.directory(), "carol", mfa=False)
    with pytest.raises(Conflict) as caught, env.ctx(carol) as ctx:
        confirm_totp_enrollment(ctx, carol.id, "123456")
    assert caught.value.code == "no_pending_enrollment"


def test_enrolled_user_re_enrols_only_after_proving_the_current_code(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    old_secret = env.totp_secrets[alice.id]
    _, token = session(env, alice)
    actor = token_actor(env, alice, token)
    with pytest.raises(MfaRequired), env.ctx(actor) as ctx:
        begin_totp_enrollment(ctx, alice.id)

    with env.ctx(actor) as ctx:
        step_up(ctx, token.id, env.totp(alice)).unwrap()
    proved = token_actor(env, alice, reload(env, AuthToken, token.id))
    with env.ctx(proved) as ctx:
        new_secret, _ = begin_totp_enrollment(ctx, alice.id)

    # Until confirmed, the old authenticator stays in force.
    pending = reload(env, User, alice.id)
    assert opened(env, pending.totp_secret) == old_secret and pending.mfa_enrolled
    env.clock.advance(timedelta(seconds=30))
    with env.ctx(proved) as ctx:
        confirm_totp_enrollment(ctx, alice.id, code_at(new_secret, env.now))
    assert opened(env, reload(env, User, alice.id).totp_secret) == new_secret
    [event] = audit_events(env, "mfa.enrolled")
    assert '"re_enrollment": true' in (event.detail or "")


def test_stale_mfa_proof_does_not_allow_re_enrolment(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    _, token = session(env, alice, mfa=True)
    env.clock.advance(env.runtime.settings.mfa_freshness + timedelta(seconds=1))
    with pytest.raises(MfaRequired), env.ctx(token_actor(env, alice, token)) as ctx:
        begin_totp_enrollment(ctx, alice.id)


def test_user_administrator_enrols_and_resets_other_users(env: Env) -> None:
    directory = env.directory()
    admin = env.user(directory, "helpdesk")
    env.permanent(admin, USER_ADMIN)
    alice = env.user(directory, "alice")
    _, alice_session = session(env, alice)

    with env.ctx(admin) as ctx:
        secret, _ = begin_totp_enrollment(ctx, alice.id)
    env.clock.advance(timedelta(seconds=30))
    with env.ctx(admin) as ctx:
        confirm_totp_enrollment(ctx, alice.id, code_at(secret, env.now))
    assert opened(env, reload(env, User, alice.id).totp_secret) == secret

    with env.ctx(admin) as ctx:
        reset_totp(ctx, alice.id)
    after = reload(env, User, alice.id)
    assert (after.totp_secret, after.totp_enrolled_at, after.totp_last_step) == (None, None, None)
    assert reload(env, AuthToken, alice_session.id).revoked_at == env.now
    [event] = audit_events(env, "mfa.reset")
    assert event.actor_id == admin.id


def test_plain_users_cannot_touch_someone_elses_mfa(env: Env) -> None:
    directory = env.directory()
    alice = env.user(directory, "alice")
    bob = env.user(directory, "bob")
    for call in (begin_totp_enrollment, reset_totp):
        with pytest.raises(Forbidden), env.ctx(bob) as ctx:
            call(ctx, alice.id)


def test_users_cannot_reset_their_own_second_factor(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    with pytest.raises(Forbidden) as caught, env.ctx(alice) as ctx:
        reset_totp(ctx, alice.id)
    assert caught.value.code == "cannot_reset_own_mfa"


def test_privileged_users_mfa_is_for_global_admins_not_user_admins(env: Env) -> None:
    directory = env.directory()
    user_admin = env.user(directory, "helpdesk")
    env.permanent(user_admin, USER_ADMIN)
    global_admin = env.user(directory, "boss")
    env.permanent(global_admin, GA)
    target = env.user(directory, "target")
    env.eligible(target, GA)  # eligible is enough: with the factor they could activate

    with pytest.raises(Forbidden) as caught, env.ctx(user_admin) as ctx:
        reset_totp(ctx, target.id)
    assert caught.value.code == "privileged_target"
    with env.ctx(global_admin) as ctx:
        reset_totp(ctx, target.id)
    with env.ctx() as ctx:  # the operator
        begin_totp_enrollment(ctx, target.id)


def test_a_code_is_six_ascii_digits_and_nothing_that_only_looks_like_them() -> None:
    """pyotp compares codes after NFKC normalisation, which turns superscript and fullwidth
    digits into ASCII ones; a code is what an authenticator shows, so those are refused."""
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    # The first minute of 2026-01-05 whose code has a 2 in it (for the superscript case).
    at = next(
        t
        for t in (datetime(2026, 1, 5, 9, m, tzinfo=UTC) for m in range(60))
        if "2" in pyotp.TOTP(secret).at(t)
    )
    code = pyotp.TOTP(secret).at(at)
    assert matching_step(secret, code, at) is not None
    assert matching_step(secret, f" {code[:3]} {code[3:]} ", at) is not None  # as shown: 123 456
    fullwidth = "".join(chr(ord(c) - ord("0") + 0xFF10) for c in code)
    assert matching_step(secret, fullwidth, at) is None
    assert matching_step(secret, code.replace("2", "\u00b2"), at) is None
