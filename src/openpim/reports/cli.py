"""`openpim reports ...`: activation history, assignment changes and statistics, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from openpim.cli.common import (
    DatabaseUrl,
    DirectoryOpt,
    emit_table,
    open_runtime,
    operator,
    parse_instant,
    resolve_directory,
    resolve_role,
    resolve_user,
)
from openpim.reports import service as reports
from openpim.reports.history import ReportFilter

reports_app = typer.Typer(help="History and reports (CSV or JSON, streamed).", no_args_is_help=True)

Since = Annotated[str | None, typer.Option(help="ISO-8601, inclusive.")]
Until = Annotated[str | None, typer.Option(help="ISO-8601, exclusive.")]
RoleOpt = Annotated[str | None, typer.Option(help="Role name or id.")]
UserOpt = Annotated[str | None, typer.Option(help="User UPN.")]
FormatOpt = Annotated[str, typer.Option("--format", help="csv or json")]
OutputOpt = Annotated[Path | None, typer.Option(help="Write here instead of stdout.")]


def _write(chunks: Iterator[str], output: Path | None) -> None:
    if output is None:
        for chunk in chunks:
            typer.echo(chunk, nl=False)
        return
    with output.open("w", encoding="utf-8", newline="") as handle:
        handle.writelines(chunks)
    typer.echo(f"exported to {output}", err=True)


def _export(
    kind: str, since: str | None, until: str | None, role: str | None, user: str | None,
    fmt: str, output: Path | None, directory: str | None, database_url: str | None,
) -> None:  # fmt: skip
    since_at, until_at = parse_instant(since, "--since"), parse_instant(until, "--until")
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        flt = ReportFilter(
            since=since_at,
            until=until_at,
            role_id=resolve_role(ctx, directory_id, role).id if role else None,
            user_id=resolve_user(ctx, user, directory).id if user else None,
        )
        make = reports.activation_export if kind == "activations" else reports.change_export
        chunks = make(ctx, rt.db.engine, directory_id, flt, fmt)
    _write(chunks, output)


@reports_app.command("activations")
def activations_cmd(
    since: Since = None, until: Until = None, role: RoleOpt = None, user: UserOpt = None,
    fmt: FormatOpt = "csv", output: OutputOpt = None, directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """Activation history: requested and actual window, how it ended, justification, approver."""
    _export("activations", since, until, role, user, fmt, output, directory, database_url)


@reports_app.command("changes")
def changes_cmd(
    since: Since = None, until: Until = None, role: RoleOpt = None, user: UserOpt = None,
    fmt: FormatOpt = "csv", output: OutputOpt = None, directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """Assignment changes: added, removed, converted, extended, renewed, expired; by whom."""
    _export("changes", since, until, role, user, fmt, output, directory, database_url)


@reports_app.command("statistics")
def statistics_cmd(
    since: Since = None, until: Until = None, role: RoleOpt = None,
    part: Annotated[str, typer.Option(help="days (the series) or roles (the summary)")] = "roles",
    fmt: Annotated[str | None, typer.Option("--format", help="csv/json; default: table")] = None,
    output: OutputOpt = None, directory: DirectoryOpt = None, database_url: DatabaseUrl = None,
) -> None:  # fmt: skip
    """Per-role statistics over a range (default the last 30 days)."""
    since_at, until_at = parse_instant(since, "--since"), parse_instant(until, "--until")
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        role_id = resolve_role(ctx, directory_id, role).id if role else None
        stats = reports.statistics(
            ctx, directory_id, since=since_at, until=until_at, role_id=role_id
        )
    if fmt is not None:
        _write(reports.statistics_export(stats, part, fmt), output)
    elif part == "days":
        emit_table(
            ["DAY", "ACTIVATIONS", "USERS", "ELIGIBLE", "PERMANENT"],
            [[d.day, d.activations, d.distinct_users, d.eligible, d.permanent] for d in stats.days],
        )
    else:
        emit_table(
            ["ROLE", "ACTIVATIONS", "USERS", "AVG SECONDS", "ELIGIBLE", "PERMANENT"],
            [
                [
                    r.role,
                    r.activations,
                    r.distinct_users,
                    r.average_seconds,
                    r.eligible,
                    r.permanent,
                ]
                for r in stats.roles
            ],
        )
