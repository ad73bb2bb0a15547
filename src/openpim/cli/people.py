"""Directories, users and MFA enrolment, as the server operator."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from openpim.auth.mfa import begin_totp_enrollment, confirm_totp_enrollment
from openpim.cli.common import (
    DatabaseUrl,
    DirectoryOpt,
    JsonFlag,
    ask_new_password,
    emit_json,
    emit_table,
    open_runtime,
    operator,
    operator_unit,
    resolve_directory,
    resolve_user,
)
from openpim.directory import service as directory_service
from openpim.directory.models import User

directory_app = typer.Typer(help="Directories (tenants).", no_args_is_help=True)
user_app = typer.Typer(help="Users of a directory.", no_args_is_help=True)
mfa_app = typer.Typer(help="Multi-factor authentication (TOTP).", no_args_is_help=True)

PasswordStdin = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from stdin.")
]


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "directory_id": user.directory_id,
        "user_principal_name": user.user_principal_name,
        "display_name": user.display_name,
        "account_kind": user.account_kind,
        "enabled": user.enabled,
        "mfa_enrolled": user.mfa_enrolled,
        "created_at": user.created_at,
        "last_sign_in_at": user.last_sign_in_at,
        "disabled_at": user.disabled_at,
    }


@directory_app.command("create")
def directory_create(
    name: Annotated[str, typer.Argument(help="Directory name.")],
    domain: Annotated[
        list[str], typer.Option("--domain", help="A verified domain (repeat for more).")
    ],
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Create a directory with its verified domains."""
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        directory = directory_service.create_directory(ctx, name, domain)
        domains = [d.domain for d in directory_service.list_domains(ctx, directory.id)]
        out = {"id": directory.id, "name": directory.name, "domains": domains}
    if json_out:
        emit_json(out)
    else:
        typer.echo(f"directory {out['name']!r} created: {out['id']} ({', '.join(domains)})")


@user_app.command("create")
def user_create(
    upn: Annotated[str, typer.Argument(help="User principal name, e.g. alice@contoso.com.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    directory: DirectoryOpt = None,
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Create a user (asks for the password twice)."""
    rt = open_runtime(database_url)
    password = ask_new_password(password_stdin)
    with operator_unit(rt) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        user = directory_service.create_user(ctx, directory_id, upn, name, password)
        out = user_json(user)
    if json_out:
        emit_json(out)
    else:
        typer.echo(
            f"user {out['user_principal_name']} created ({out['account_kind']}): {out['id']}"
        )


@user_app.command("set-password")
def user_set_password(
    upn: str,
    directory: DirectoryOpt = None,
    password_stdin: PasswordStdin = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Set (reset) a user's password; their sessions and tokens end."""
    rt = open_runtime(database_url)
    password = ask_new_password(password_stdin)
    with operator_unit(rt) as ctx:
        user = resolve_user(ctx, upn, directory)
        directory_service.set_password(ctx, user.directory_id, user.id, password)
        label = user.user_principal_name
    typer.echo(f"password of {label} set")


@user_app.command("list")
def user_list(
    search: Annotated[str | None, typer.Option(help="Part of a UPN or display name.")] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """List users, by user principal name."""
    rt = open_runtime(database_url)
    rows: list[dict[str, Any]] = []
    with rt.read(operator()) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        after: str | None = None
        while True:
            page = directory_service.list_users(
                ctx, directory_id, search=search, limit=directory_service.MAX_PAGE, after=after
            )
            rows += [user_json(u) for u in page.items]
            if page.next_after is None:
                break
            after = page.next_after
    if json_out:
        emit_json(rows)
        return
    emit_table(
        ["UPN", "NAME", "KIND", "ENABLED", "MFA", "LAST SIGN-IN"],
        [
            [
                r["user_principal_name"],
                r["display_name"],
                r["account_kind"],
                r["enabled"],
                r["mfa_enrolled"],
                r["last_sign_in_at"],
            ]
            for r in rows
        ],
    )


def _set_enabled(upn: str, directory: str | None, database_url: str | None, enable: bool) -> None:
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        user = resolve_user(ctx, upn, directory)
        change = directory_service.enable_user if enable else directory_service.disable_user
        change(ctx, user.directory_id, user.id)
        label = user.user_principal_name
    typer.echo(f"{label} {'enabled' if enable else 'disabled'}")


@user_app.command("disable")
def user_disable(
    upn: str, directory: DirectoryOpt = None, database_url: DatabaseUrl = None
) -> None:
    """Block sign-in, revoke tokens and end running activations."""
    _set_enabled(upn, directory, database_url, enable=False)


@user_app.command("enable")
def user_enable(upn: str, directory: DirectoryOpt = None, database_url: DatabaseUrl = None) -> None:
    """Allow a disabled user to sign in again."""
    _set_enabled(upn, directory, database_url, enable=True)


@mfa_app.command("enroll")
def mfa_enroll(
    upn: str,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Give a user a new authenticator secret (shown once), confirmed with a code from it.

    Until the code is confirmed the user's current authenticator, if any, stays in force.
    """
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        user = resolve_user(ctx, upn, directory)
        user_id, label = user.id, user.user_principal_name
        enrollment = begin_totp_enrollment(ctx, user_id)
    typer.echo(f"Authenticator (TOTP) secret for {label}, shown only this once:")
    typer.echo(f"  secret: {enrollment.secret}")
    typer.echo(f"  uri:    {enrollment.otpauth_uri}")
    code: str = typer.prompt("Code from the authenticator app", hide_input=True, err=True)
    with operator_unit(rt) as ctx:
        confirm_totp_enrollment(ctx, user_id, code)
    typer.echo(f"MFA enrolled for {label}")
