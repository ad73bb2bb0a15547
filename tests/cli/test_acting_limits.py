"""Passwords typed for `--as` count like sign-in attempts: the same limiter, per user and for
the CLI as one address ("cli"), failures and refusals audited."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update

from openpim.audit.models import AuditEvent
from openpim.auth.models import AuthFailure
from openpim.directory.models import User
from tests.cli.conftest import PASSWORD, Cli, give_password
from tests.factories import PASSWORD_ADMIN, Env

ROLE = "Password Administrator"
WRONG = "not the password at all"


def _activate(upn: str) -> list[str]:
    return ["activate", ROLE, "--as", upn, "--duration", "PT1H", "--justification", "x"]


def _events(env: Env, action: str) -> list[dict[str, object]]:
    with env.runtime.db.reader() as s:
        rows = s.execute(
            select(AuditEvent.target_user_id, AuditEvent.detail)
            .where(AuditEvent.action == action)
            .order_by(AuditEvent.seq)
        ).all()
    return [{"target": target, **json.loads(detail or "{}")} for target, detail in rows]


def test_wrong_passwords_for_one_user_are_rate_limited(cli: Cli, env: Env) -> None:
    directory, _admin = env.pim_directory()
    bob = env.user(directory, "bob")
    give_password(env, bob)
    env.eligible(bob, PASSWORD_ADMIN)
    limit = env.runtime.settings.sign_in_failures_per_user

    for _ in range(limit):
        wrong = cli(_activate(bob.user_principal_name), input=f"{WRONG}\n")
        assert wrong.exit_code == 5
        assert "error: invalid_credentials:" in wrong.stderr
        env.clock.advance(timedelta(seconds=10))

    limited = cli(_activate(bob.user_principal_name), input=f"{PASSWORD}\n{env.totp(bob)}\n")

    assert limited.exit_code == 1, limited.output
    assert "error: too_many_attempts:" in limited.stderr
    assert "Authenticator code" not in limited.stderr  # stopped before the second factor
    assert cli(["check", bob.user_principal_name, "--role", ROLE]).exit_code == 1
    with env.runtime.db.reader() as s:
        failures = s.execute(select(AuthFailure.user_id, AuthFailure.address)).all()
    assert failures == [(bob.id, "cli")] * limit
    failed = _events(env, "auth.password_failed")
    assert [(e["target"], e["reason"], e["via"]) for e in failed] == [
        (bob.id, "bad_password", "cli")
    ] * limit
    [refused] = _events(env, "auth.password_rate_limited")
    assert (refused["target"], refused["limit"]) == (bob.id, "user")

    env.clock.advance(env.runtime.settings.sign_in_failure_window)
    again = cli(_activate(bob.user_principal_name), input=f"{PASSWORD}\n{env.totp(bob)}\n")
    assert again.exit_code == 0, again.output


def test_the_cli_counts_as_one_address_across_users(cli: Cli, env: Env) -> None:
    directory, _admin = env.pim_directory()
    settings = env.runtime.settings
    users = [env.user(directory, f"user{i}") for i in range(settings.sign_in_failures_per_address)]
    carol = env.user(directory, "carol")
    for user in [*users, carol]:
        give_password(env, user)
    env.eligible(carol, PASSWORD_ADMIN)

    for user in users:  # one failure each: no per-user limit is reached
        assert cli(_activate(user.user_principal_name), input=f"{WRONG}\n").exit_code == 5

    limited = cli(_activate(carol.user_principal_name), input=f"{PASSWORD}\n{env.totp(carol)}\n")

    assert "error: too_many_attempts:" in limited.stderr
    [refused] = _events(env, "auth.password_rate_limited")
    assert (refused["target"], refused["limit"]) == (carol.id, "address")


def test_requests_decisions_and_deactivation_are_limited_too(cli: Cli, env: Env) -> None:
    _directory, admin = env.pim_directory()
    give_password(env, admin)
    for _ in range(env.runtime.settings.sign_in_failures_per_user):
        deactivate = cli(["deactivate", ROLE, "--as", admin.user_principal_name], f"{WRONG}\n")
        assert deactivate.exit_code == 5
    decide = ["requests", "deny", "00000000-0000-4000-8000-000000000000"]
    decide += ["--justification", "no", "--as", admin.user_principal_name]
    limited = cli(decide, input=f"{PASSWORD}\n{env.totp(admin)}\n")
    assert "error: too_many_attempts:" in limited.stderr


def test_a_disabled_user_cannot_act_from_the_cli(cli: Cli, env: Env) -> None:
    directory, _admin = env.pim_directory()
    bob = env.user(directory, "bob")
    give_password(env, bob)
    env.eligible(bob, PASSWORD_ADMIN)
    with env.runtime.db.unit_of_work() as s:
        s.execute(update(User).where(User.id == bob.id).values(enabled=False))

    refused = cli(_activate(bob.user_principal_name), input=f"{PASSWORD}\n{env.totp(bob)}\n")

    assert refused.exit_code == 5
    assert "error: account_disabled:" in refused.stderr


def test_a_user_without_password_is_told_how_to_set_one(cli: Cli, env: Env) -> None:
    directory, _admin = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    refused = cli(_activate(bob.user_principal_name), input=f"{PASSWORD}\n")
    assert refused.exit_code == 5
    assert "error: no_password:" in refused.stderr
