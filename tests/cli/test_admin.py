"""Operator commands: directories, users, MFA enrolment, roles, assignments, exit codes."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from openpim.auth import mfa
from tests.cli.conftest import PASSWORD, Cli
from tests.factories import GA, PASSWORD_ADMIN, Env


def test_directory_and_users_round_trip(cli: Cli, env: Env) -> None:
    made = cli.json(["directory", "create", "Fabrikam", "--domain", "fabrikam.example"])
    assert made["domains"] == ["fabrikam.example"]
    for upn, name in (("bob@fabrikam.example", "Bob"), ("eve@outlook.example", "Eve")):
        result = cli(["user", "create", upn, "--name", name, "--password-stdin"], f"{PASSWORD}\n")
        assert result.exit_code == 0, result.output
    users = cli.json(["user", "list"])
    assert [(u["user_principal_name"], u["account_kind"]) for u in users] == [
        ("bob@fabrikam.example", "organizational"),
        ("eve@outlook.example", "external"),
    ]
    assert [u["display_name"] for u in cli.json(["user", "list", "--search", "EV"])] == ["Eve"]
    table = cli(["user", "list"])
    assert table.stdout.splitlines()[0].split()[:3] == ["UPN", "NAME", "KIND"]

    assert cli(["user", "disable", "bob@fabrikam.example"]).exit_code == 0
    assert cli.json(["user", "list", "--search", "bob"])[0]["enabled"] is False
    again = cli(["user", "disable", "bob@fabrikam.example"])
    assert again.exit_code == 4
    assert "error: already_disabled:" in again.stderr
    assert cli(["user", "enable", "bob@fabrikam.example"]).exit_code == 0


def test_user_create_asks_twice_and_applies_the_password_policy(cli: Cli, env: Env) -> None:
    directory = env.directory(domain="contoso.example")
    mismatch = cli(
        ["user", "create", "a@contoso.example", "--name", "A"], "x" * 12 + "\n" + "y" * 12 + "\n"
    )
    assert mismatch.exit_code != 0
    short = cli(["user", "create", "a@contoso.example", "--name", "A"], "short\nshort\n")
    assert short.exit_code == 1
    assert "error: password_too_short:" in short.stderr
    assert cli.json(["user", "list", "--directory", str(directory.id)]) == []


def test_mfa_enroll_shows_the_secret_and_confirms_a_code(
    cli: Cli, env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = env.directory()
    user = env.user(directory, mfa=False)
    secret = pyotp.random_base32()
    monkeypatch.setattr(mfa, "new_secret", lambda: secret)
    code = pyotp.TOTP(secret).at(env.now)
    bad = cli(["mfa", "enroll", user.user_principal_name], input="123456\n")
    assert bad.exit_code == 1
    assert "error: invalid_code:" in bad.stderr
    result = cli(["mfa", "enroll", user.user_principal_name], input=f"{code}\n")
    assert result.exit_code == 0, result.output
    assert secret in result.stdout
    assert "otpauth://totp/" in result.stdout
    assert cli.json(["user", "list"])[0]["mfa_enrolled"] is True


def test_role_list_knows_microsofts_template_ids(cli: Cli, env: Env) -> None:
    env.directory()
    roles = {r["display_name"]: r for r in cli.json(["role", "list"])}
    assert roles["Global Administrator"]["id"] == str(GA)
    assert roles["Global Administrator"]["mfa_always_required"] is True


def test_assign_check_and_remove(cli: Cli, env: Env) -> None:
    directory, _admin = env.pim_directory()
    user = env.user(directory)
    upn = user.user_principal_name
    assign = ["assign", upn, "password administrator", "--active", "--duration", "P30D"]
    request = cli.json([*assign, "--justification", "on call"])
    assert request["status"] == "Provisioned"
    assert request["end_at"].startswith((env.now + timedelta(days=30)).date().isoformat())
    duplicate = cli(["assign", upn, str(PASSWORD_ADMIN), "--permanent", "--justification", "x"])
    assert duplicate.exit_code == 4, duplicate.stderr
    assert "error: role_assignment_exists:" in duplicate.stderr

    assert cli(["check", upn, "--role", "Password Administrator"]).exit_code == 0
    later = (env.now + timedelta(days=31)).isoformat()
    gone = cli(["check", upn, "--role", "Password Administrator", "--at", later])
    assert gone.exit_code == 1
    assert "is not active" in gone.stdout

    removed = cli(["remove", upn, "Password Administrator", "--active"])
    assert removed.exit_code == 0, removed.output
    assert cli.json(["check", upn])["active_roles"] == []
    assert cli(["remove", upn, "Password Administrator", "--active"]).exit_code == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--eligible", "--active"], "exactly one of --eligible or --active"),
        (["--eligible", "--end", "2026-02-01T00:00:00"], "has no UTC offset"),
        (["--eligible", "--duration", "30"], "ISO-8601 duration"),
        (["--eligible", "--end", "2026-02-01T00:00Z", "--duration", "P1D"], "not both"),
    ],
)
def test_malformed_input_is_a_usage_error(
    cli: Cli, env: Env, args: list[str], message: str
) -> None:
    directory, _admin = env.pim_directory()
    user = env.user(directory)
    result = cli(["assign", user.user_principal_name, "Password Administrator", *args])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())


def test_unknown_names_are_not_found(cli: Cli, env: Env) -> None:
    _directory, admin = env.pim_directory()
    missing_user = cli(["check", "nobody@nowhere.example"])
    assert missing_user.exit_code == 3
    assert "error: user_not_found:" in missing_user.stderr
    missing_role = cli(["check", admin.user_principal_name, "--role", "Chief Wizard"])
    assert missing_role.exit_code == 3
    assert "error: role_not_found:" in missing_role.stderr
    second = cli(["directory", "create", "Other", "--domain", "other.example"])
    assert second.exit_code == 0
    ambiguous = cli(["user", "list"])
    assert ambiguous.exit_code == 2
    assert "--directory" in ambiguous.stderr
