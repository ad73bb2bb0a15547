"""Roles and who holds them: role list, assign, remove, check (operator commands)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer

from openpim.access.service import active_role_ids
from openpim.assignments import service as assignments
from openpim.assignments.models import MemberType
from openpim.cli.common import (
    EXIT_REFUSED,
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
    usage_error,
    window_text,
)
from openpim.roles.service import list_roles

role_app = typer.Typer(help="The role catalog.", no_args_is_help=True)

RoleArg = Annotated[str, typer.Argument(help="Role name (any case) or id.")]
Eligible = Annotated[bool, typer.Option("--eligible", help="Eligible membership.")]
Active = Annotated[
    bool, typer.Option("--active", "--permanent", help="Active (assigned) membership.")
]
ROLE_COLUMNS = ("display_name", "id", "is_built_in", "is_privileged", "mfa_always_required")
Justification = Annotated[str | None, typer.Option(help="Why (kept in the audit).")]


def member_type_of(eligible: bool, active: bool) -> MemberType:
    if eligible == active:
        raise usage_error(
            "pass exactly one of --eligible or --active (--permanent).", "--eligible/--active"
        )
    return MemberType.ELIGIBLE if eligible else MemberType.ACTIVE


@role_app.command("list")
def role_list(
    directory: DirectoryOpt = None, database_url: DatabaseUrl = None, json_out: JsonFlag = False
) -> None:
    """Built-in and custom roles of a directory."""
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        rows = [
            {
                "id": r.id,
                "display_name": r.display_name,
                "description": r.description,
                "is_built_in": r.is_built_in,
                "is_privileged": r.is_privileged,
                "mfa_always_required": r.mfa_always_required,
            }
            for r in list_roles(ctx, directory_id)
        ]
    if json_out:
        emit_json(rows)
        return
    emit_table(
        ["NAME", "ID", "BUILT-IN", "PRIVILEGED", "MFA ALWAYS"],
        [[r[k] for k in ROLE_COLUMNS] for r in rows],
    )


def assign(
    upn: Annotated[str, typer.Argument(help="The user's principal name.")],
    role: RoleArg,
    eligible: Eligible = False,
    active: Active = False,
    start: Annotated[str | None, typer.Option(help="ISO-8601 start with offset.")] = None,
    end: Annotated[str | None, typer.Option(help="ISO-8601 end with offset.")] = None,
    duration: Annotated[str | None, typer.Option(help="ISO-8601 length, e.g. P30D.")] = None,
    justification: Justification = None,
    ticket_number: Annotated[str | None, typer.Option()] = None,
    ticket_system: Annotated[str | None, typer.Option()] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Make a user eligible for a role, or active in it (permanently without --end/--duration)."""
    member_type = member_type_of(eligible, active)
    if end is not None and duration is not None:
        raise usage_error("pass --end or --duration, not both.", "--end/--duration")
    start_at = parse_instant(start, "--start")
    end_at = parse_instant(end, "--end")
    length = parse_iso_duration(duration, "--duration")
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        user = resolve_user(ctx, upn, directory)
        role_row = resolve_role(ctx, user.directory_id, role)
        if length is not None:
            end_at = max(start_at or ctx.now, ctx.now) + length
        request = assignments.admin_assign(
            ctx,
            directory_id=user.directory_id,
            principal_id=user.id,
            role_id=role_row.id,
            member_type=member_type,
            start_at=start_at,
            end_at=end_at,
            justification=justification,
            ticket_number=ticket_number,
            ticket_system=ticket_system,
        )
        out = request_json(request)
        what = "eligible for" if member_type == MemberType.ELIGIBLE else "active in"
        line = (
            f"{user.user_principal_name} is {what} {role_row.display_name} "
            f"{window_text(request.start_at, request.end_at)} (request {request.id})"
        )
    if json_out:
        emit_json(out)
    else:
        typer.echo(line)


def remove(
    upn: Annotated[str, typer.Argument(help="The user's principal name.")],
    role: RoleArg,
    eligible: Eligible = False,
    active: Active = False,
    justification: Justification = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """End a user's eligibility (with its running activations) or active membership now."""
    member_type = member_type_of(eligible, active)
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        user = resolve_user(ctx, upn, directory)
        role_row = resolve_role(ctx, user.directory_id, role)
        request = assignments.admin_remove(
            ctx,
            directory_id=user.directory_id,
            principal_id=user.id,
            role_id=role_row.id,
            member_type=member_type,
            justification=justification,
        )
        out = request_json(request)
        line = (
            f"{user.user_principal_name}: {member_type.value.lower()} membership of "
            f"{role_row.display_name} removed (request {request.id})"
        )
    if json_out:
        emit_json(out)
    else:
        typer.echo(line)


def check(
    upn: Annotated[str, typer.Argument(help="The user's principal name.")],
    role: Annotated[
        str | None, typer.Option(help="Exit 0 if this role is active, 1 if not.")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="ISO-8601 instant with offset; default now.")
    ] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Which roles a user holds active (now, or --at an instant)."""
    instant: datetime | None = parse_instant(at, "--at")
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        user = resolve_user(ctx, upn, directory)
        wanted = resolve_role(ctx, user.directory_id, role) if role is not None else None
        instant = instant or ctx.now
        held = active_role_ids(ctx.session, user.id, instant)
        names = {r.id: r.display_name for r in list_roles(ctx, user.directory_id)}
        upn_text, enabled = user.user_principal_name, user.enabled
        wanted_role = (
            None
            if wanted is None
            else {"id": wanted.id, "display_name": wanted.display_name, "active": wanted.id in held}
        )
    active_roles = sorted(
        ({"id": role_id, "display_name": names.get(role_id, str(role_id))} for role_id in held),
        key=lambda r: str(r["display_name"]).casefold(),
    )
    result: dict[str, Any] = {
        "user_principal_name": upn_text,
        "enabled": enabled,
        "at": instant,
        "active_roles": active_roles,
    }
    if wanted_role is not None:
        result["role"] = wanted_role
    if json_out:
        emit_json(result)
    else:
        when = instant.isoformat(timespec="seconds")
        if wanted_role is not None:
            state = "active" if wanted_role["active"] else "not active"
            typer.echo(f"{upn_text}: {wanted_role['display_name']} is {state} at {when}")
        else:
            typer.echo(f"{upn_text} holds {len(active_roles)} active role(s) at {when}")
            for r in active_roles:
                typer.echo(f"  {r['display_name']}  {r['id']}")
    if wanted_role is not None and not wanted_role["active"]:
        raise typer.Exit(EXIT_REFUSED)
