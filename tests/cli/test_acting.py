"""Commands run as a user: activate, deactivate, and deciding on requests."""

from __future__ import annotations

from datetime import timedelta

from openpim.assignments.models import RequestStatus
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from tests.cli.conftest import PASSWORD, Cli, give_password
from tests.factories import PASSWORD_ADMIN, Env

ROLE = "Password Administrator"


def _eligible_user(env: Env, name: str = "bob"):  # type: ignore[no-untyped-def]
    directory, admin = env.pim_directory()
    user = env.user(directory, name)
    give_password(env, user)
    env.eligible(user, PASSWORD_ADMIN)
    return directory, admin, user


def test_activate_asks_password_and_code_then_deactivate_waits_five_minutes(
    cli: Cli, env: Env
) -> None:
    _directory, _admin, bob = _eligible_user(env)
    upn = bob.user_principal_name
    activate = ["activate", ROLE.lower(), "--as", upn, "--duration", "PT1H"]
    activate += ["--justification", "reset a password"]
    result = cli(activate, input=f"{PASSWORD}\n{env.totp(bob)}\n")
    assert result.exit_code == 0, result.output
    assert f"{ROLE} is active for {upn}" in result.stdout
    assert "Authenticator code" in result.stderr  # prompts go to stderr, answers hidden
    assert env.totp(bob) not in result.output
    assert cli.json(["check", upn, "--role", ROLE])["role"]["active"] is True

    too_soon = cli(["deactivate", ROLE, "--as", upn], input=f"{PASSWORD}\n")
    assert too_soon.exit_code == 4
    assert "error: deactivation_too_soon:" in too_soon.stderr

    env.clock.advance(timedelta(minutes=6))
    done = cli.json(["deactivate", ROLE, "--as", upn], input=f"{PASSWORD}\n")
    assert done["status"] == RequestStatus.REVOKED
    assert cli(["check", upn, "--role", ROLE]).exit_code == 1


def test_acting_as_a_user_needs_their_credentials(cli: Cli, env: Env) -> None:
    _directory, _admin, bob = _eligible_user(env)
    activate = ["activate", ROLE, "--as", bob.user_principal_name, "--duration", "PT1H"]
    activate += ["--justification", "x"]
    wrong_password = cli(activate, input="not the password\n")
    assert wrong_password.exit_code == 5
    assert "error: invalid_credentials:" in wrong_password.stderr
    wrong_code = cli(activate, input=f"{PASSWORD}\n000000\n")
    assert wrong_code.exit_code == 5
    assert cli(["check", bob.user_principal_name, "--role", ROLE]).exit_code == 1


def test_activation_rules_come_from_the_service(cli: Cli, env: Env) -> None:
    _directory, _admin, bob = _eligible_user(env)
    base = ["activate", ROLE, "--as", bob.user_principal_name]
    too_long = cli([*base, "--duration", "PT9H", "--justification", "x"], f"{PASSWORD}\n000000\n")
    assert too_long.exit_code == 1
    assert "error: duration_out_of_bounds:" in too_long.stderr
    naive = cli([*base, "--duration", "PT1H", "--start", "2026-01-05T10:00"])
    assert naive.exit_code == 2
    assert "no UTC offset" in naive.stderr


def test_requests_wait_for_approval_and_the_operator_decides(cli: Cli, env: Env) -> None:
    directory, admin, bob = _eligible_user(env)
    give_password(env, admin)
    with env.ctx() as ctx:
        update_role_settings(
            ctx,
            directory.id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate(require_approval_on_activation=True),
        )
    activate = ["activate", ROLE, "--as", bob.user_principal_name, "--duration", "PT2H"]
    activate += ["--justification", "quarterly reset"]
    asked = cli(activate, input=f"{PASSWORD}\n{env.totp(bob)}\n")
    assert asked.exit_code == 0, asked.output
    assert "waits for approval" in asked.stdout

    pending = cli.json(["requests", "list", "--pending"])
    assert [(r["principal"], r["role"], r["status"]) for r in pending] == [
        (bob.user_principal_name, ROLE, RequestStatus.PENDING_APPROVAL)
    ]
    request_id = pending[0]["id"]

    own = cli(
        [
            "requests",
            "approve",
            request_id,
            "--justification",
            "me",
            "--as",
            bob.user_principal_name,
        ],
        input=f"{PASSWORD}\n{env.totp(bob, env.now + timedelta(seconds=30))}\n",
    )
    assert own.exit_code == 1
    assert "error: cannot_approve_own_request:" in own.stderr

    approved = cli.json(["requests", "approve", request_id, "--justification", "ok"])
    assert approved["status"] == RequestStatus.PROVISIONED
    assert cli(["check", bob.user_principal_name, "--role", ROLE]).exit_code == 0
    again = cli(["requests", "deny", request_id, "--justification", "late"])
    assert again.exit_code == 4
    assert "error: request_already_decided:" in again.stderr
    assert cli.json(["requests", "list", "--pending"]) == []
    assert cli(["requests", "approve", "not-a-uuid", "--justification", "x"]).exit_code == 2


def test_an_approver_decides_with_password_and_code(cli: Cli, env: Env) -> None:
    directory, admin, bob = _eligible_user(env)
    give_password(env, admin)
    with env.ctx() as ctx:
        update_role_settings(
            ctx,
            directory.id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate(require_approval_on_activation=True),
        )
    activate = ["activate", ROLE, "--as", bob.user_principal_name, "--duration", "PT2H"]
    activate += ["--justification", "quarterly reset"]
    request_id = cli.json(activate, input=f"{PASSWORD}\n{env.totp(bob)}\n")["id"]
    deny = ["requests", "deny", request_id, "--justification", "not now"]
    denied = cli(
        [*deny, "--as", admin.user_principal_name], input=f"{PASSWORD}\n{env.totp(admin)}\n"
    )
    assert denied.exit_code == 0, denied.output
    assert "denied; status Denied" in denied.stdout
    assert cli(["check", bob.user_principal_name, "--role", ROLE]).exit_code == 1
