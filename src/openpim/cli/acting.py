"""Commands run as a user (--as UPN): activate, deactivate, decide requests, enable PIM.

The CLI acting as a user authenticates as that user: their password first, then a TOTP code
where one is needed. Prompts happen before any write transaction opens, so a person typing
slowly never holds the database lock.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated

import typer
from sqlalchemy import select

from openpim.assignments import service as assignments
from openpim.assignments.guards import prove_mfa
from openpim.assignments.models import PENDING_STATUSES, RequestStatus
from openpim.auth.password_check import check_password as auth_check_password  # wrapped below
from openpim.auth.sign_in import confirm_password
from openpim.cli.common import (
    DatabaseUrl,
    DirectoryOpt,
    JsonFlag,
    emit_json,
    emit_table,
    open_runtime,
    operator,
    operator_unit,
    parse_instant,
    parse_iso_duration,
    request_json,
    resolve_directory,
    resolve_role,
    resolve_user,
    window_text,
)
from openpim.directory.models import User
from openpim.kit.context import Actor, ActorKind, Ctx
from openpim.kit.errors import Unauthorized
from openpim.policies.service import get_role_settings
from openpim.roles.service import list_roles
from openpim.runtime import Runtime

requests_app = typer.Typer(help="Role requests and approvals.", no_args_is_help=True)
pim_app = typer.Typer(help="PIM for a directory.", no_args_is_help=True)

AsUser = Annotated[str, typer.Option("--as", help="Act as this user (asks for their password).")]
RoleArg = Annotated[str, typer.Argument(help="Role name (any case) or id.")]


@dataclass(frozen=True)
class Who:
    """The user the CLI acts as, copied out of the read transaction."""

    user_id: uuid.UUID
    directory_id: uuid.UUID
    upn: str
    password_hash: str | None
    mfa_enrolled: bool

    @classmethod
    def of(cls, user: User) -> Who:
        return cls(
            user.id, user.directory_id, user.user_principal_name, user.password_hash,
            user.mfa_enrolled,
        )  # fmt: skip

    def actor(self) -> Actor:
        # No sign-in session, so no session MFA proof: services that need MFA get a code.
        return Actor(
            kind=ActorKind.USER,
            label=self.upn,
            user_id=self.user_id,
            directory_id=self.directory_id,
        )


CLI_ADDRESS = "cli"  # the rate limiter's "address" for every attempt made at the shell


def check_password(rt: Runtime, who: Who) -> None:
    """Ask for `who`'s password and check it as a sign-in does: argon2 outside any write
    transaction, then rate limited (per user, and the CLI as one address), with failures
    counted and audited in a short unit of their own."""
    password: str = typer.prompt(f"Password for {who.upn}", hide_input=True, err=True)
    with rt.read(operator(), client_address=CLI_ADDRESS) as ctx:
        check = auth_check_password(ctx, who.upn, password, who.directory_id)
    with rt.unit(operator(), client_address=CLI_ADDRESS) as ctx:
        outcome = confirm_password(ctx, check, via="cli")
    error = outcome.error
    if error is not None and error.code == "invalid_credentials" and who.password_hash is None:
        raise Unauthorized(
            f"{who.upn} has no password; set one with `openpim user set-password`.",
            code="no_password",
        )
    outcome.unwrap()


def ask_code(who: Who) -> str:
    code: str = typer.prompt(f"Authenticator code for {who.upn}", hide_input=True, err=True)
    return code


@contextmanager
def unit_with_mfa(rt: Runtime, who: Who, code: str | None) -> Iterator[Ctx]:
    """A unit of work as `who`; with a code, it is checked (once-only, rate limited, failures
    audited, as for any MFA proof) and counts as this command's MFA proof."""
    with rt.unit(who.actor(), client_address=CLI_ADDRESS) as ctx:
        if code is not None:
            user = ctx.session.execute(
                select(User).where(User.id == who.user_id).with_for_update()
            ).scalar_one()
            prove_mfa(ctx, user, code)
            ctx.actor = dataclasses.replace(ctx.actor, mfa_verified_at=ctx.now)
        yield ctx


def sign_in_as(
    rt: Runtime, upn: str, directory: str | None, *, with_code: bool
) -> tuple[Who, str | None]:
    """Password always; a TOTP code too when `with_code` and the user is enrolled."""
    with rt.read(operator()) as ctx:
        who = Who.of(resolve_user(ctx, upn, directory))
    check_password(rt, who)
    return who, (ask_code(who) if with_code and who.mfa_enrolled else None)


def activate(
    role: RoleArg,
    as_upn: AsUser,
    duration: Annotated[str, typer.Option(help="ISO-8601 length, e.g. PT1H.")],
    justification: Annotated[str | None, typer.Option()] = None,
    ticket_number: Annotated[str | None, typer.Option()] = None,
    ticket_system: Annotated[str | None, typer.Option()] = None,
    start: Annotated[str | None, typer.Option(help="ISO-8601 start with offset.")] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Activate an eligible role as a user (asks for their password and, if needed, a code)."""
    length = parse_iso_duration(duration, "--duration")
    assert length is not None
    start_at = parse_instant(start, "--start")
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        who = Who.of(resolve_user(ctx, as_upn, directory))
        role_row = resolve_role(ctx, who.directory_id, role)
        role_id, role_name = role_row.id, role_row.display_name
        needs_code = get_role_settings(ctx, who.directory_id, role_id).require_mfa_on_activation
    check_password(rt, who)
    code = ask_code(who) if needs_code and who.mfa_enrolled else None
    with rt.unit(who.actor(), client_address=CLI_ADDRESS) as ctx:
        request = assignments.self_activate(
            ctx,
            directory_id=who.directory_id,
            role_id=role_id,
            duration=length,
            start_at=start_at,
            justification=justification,
            ticket_number=ticket_number,
            ticket_system=ticket_system,
            totp_code=code,
        )
        out = request_json(request)
        window = window_text(request.start_at, request.end_at)
    if json_out:
        emit_json(out)
    elif out["status"] in {s.value for s in PENDING_STATUSES}:
        typer.echo(f"{role_name}: request {out['id']} waits for approval ({window})")
    else:
        typer.echo(f"{role_name} is active for {who.upn} {window} (request {out['id']})")


def deactivate(
    role: RoleArg,
    as_upn: AsUser,
    justification: Annotated[str | None, typer.Option()] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """End a user's activation of a role early (not within 5 minutes of its start)."""
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        who = Who.of(resolve_user(ctx, as_upn, directory))
        role_row = resolve_role(ctx, who.directory_id, role)
        role_id, role_name = role_row.id, role_row.display_name
    check_password(rt, who)
    with rt.unit(who.actor(), client_address=CLI_ADDRESS) as ctx:
        request = assignments.self_deactivate(
            ctx, directory_id=who.directory_id, role_id=role_id, justification=justification
        )
        out = request_json(request)
    if json_out:
        emit_json(out)
    else:
        typer.echo(f"{role_name} deactivated for {who.upn} (request {out['id']})")


@requests_app.command("list")
def requests_list(
    pending: Annotated[
        bool, typer.Option("--pending", help="Only requests awaiting a decision.")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 100,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Role requests, newest first."""
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        status = [s.value for s in PENDING_STATUSES] if pending else None
        rows = [
            request_json(r)
            for r in assignments.list_requests(ctx, directory_id, status=status, limit=limit)
        ]
        wanted = {uuid.UUID(r["principal_id"]) for r in rows}
        upns = dict(
            ctx.session.execute(
                select(User.id, User.user_principal_name).where(User.id.in_(wanted))
            ).all()
        )
        roles = {r.id: r.display_name for r in list_roles(ctx, directory_id)}
    for row in rows:
        row["principal"] = upns.get(uuid.UUID(row["principal_id"]))
        row["role"] = roles.get(uuid.UUID(row["role_id"]))
    if json_out:
        emit_json(rows)
        return
    emit_table(
        ["ID", "ACTION", "USER", "ROLE", "STATUS", "START", "END", "CREATED"],
        [
            [r[k] for k in ("id", "action", "principal", "role", "status")]
            + [r[k] for k in ("start_at", "end_at", "created_at")]
            for r in rows
        ],
    )


def _decide(
    approve: bool, request_id: uuid.UUID, justification: str, as_upn: str | None,
    directory: str | None, database_url: str | None, json_out: bool,
) -> None:  # fmt: skip
    rt = open_runtime(database_url)
    decide = assignments.approve if approve else assignments.deny
    if as_upn is None:
        with operator_unit(rt) as ctx:
            out = request_json(decide(ctx, request_id, justification))
    else:
        who, code = sign_in_as(rt, as_upn, directory, with_code=True)
        with unit_with_mfa(rt, who, code) as ctx:
            out = request_json(decide(ctx, request_id, justification))
    if json_out:
        emit_json(out)
        return
    verb = "approved" if approve else "denied"
    typer.echo(f"request {out['id']} {verb}; status {out['status']}")
    if out["status"] == RequestStatus.FAILED:
        typer.echo(f"  provisioning failed: {out['failure_reason']}")


Decider = Annotated[
    str | None, typer.Option("--as", help="Decide as this user (password and code) instead.")
]
DecisionWhy = Annotated[str, typer.Option(help="Reason for the decision (required).")]


@requests_app.command("approve")
def requests_approve(
    request_id: uuid.UUID,
    justification: DecisionWhy,
    as_upn: Decider = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Approve a pending request (as the operator, or --as an approver)."""
    _decide(True, request_id, justification, as_upn, directory, database_url, json_out)


@requests_app.command("deny")
def requests_deny(
    request_id: uuid.UUID,
    justification: DecisionWhy,
    as_upn: Decider = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Deny a pending request (as the operator, or --as an approver)."""
    _decide(False, request_id, justification, as_upn, directory, database_url, json_out)


@pim_app.command("enable")
def pim_enable(
    as_upn: Annotated[str, typer.Option("--as", help="An active Global Administrator.")],
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Enable PIM for the user's directory; they become Privileged Role Administrator."""
    rt = open_runtime(database_url)
    who, code = sign_in_as(rt, as_upn, directory, with_code=True)
    with unit_with_mfa(rt, who, code) as ctx:
        assignments.enable_pim(ctx, who.directory_id)
    typer.echo(
        f"PIM enabled; {who.upn} is now permanent Privileged Role Administrator and Security "
        "Administrator. Make a second Privileged Role Administrator next."
    )
