"""The audit history: verify the hash chain, export events (streamed, CSV or JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from openpim.audit.query import MAX_PAGE as AUDIT_PAGE
from openpim.audit.query import (
    AuditFilter,
    AuditPage,
    event_detail,
    export_statement,
    search_events,
    stream_csv,
)
from openpim.audit.verify import auto_workers, verify_chain
from openpim.cli.common import (
    EXIT_AUDIT_BROKEN,
    DatabaseUrl,
    DirectoryOpt,
    JsonFlag,
    emit_json,
    json_default,
    open_runtime,
    operator,
    parse_instant,
    resolve_directory,
    resolve_role,
    resolve_user,
)

audit_app = typer.Typer(help="The tamper-evident audit history.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
    workers: Annotated[
        int,
        typer.Option(
            min=0,
            help="Processes checking ranges of the chain in parallel "
            "(0: one per CPU from a million events on, else one).",
        ),
    ] = 0,
) -> None:
    """Check the whole hash chain; names the first broken sequence number if any."""
    rt = open_runtime(database_url)
    result = verify_chain(rt.db, workers=workers or auto_workers(rt.db))
    if json_out:
        emit_json(
            {
                "ok": result.ok,
                "events": result.last_seq if result.ok else result.checked,
                "first_broken_seq": result.first_broken_seq,
                "reason": result.reason,
            }
        )
    elif result.ok:
        typer.echo(f"chain intact: {result.checked} events")
    else:
        typer.echo(
            f"chain BROKEN at seq {result.first_broken_seq}: {result.reason} "
            f"({result.checked} events verified before it)",
            err=True,
        )
    if not result.ok:
        raise typer.Exit(EXIT_AUDIT_BROKEN)


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    if path is None:
        yield typer.get_text_stream("stdout")
        return
    with path.open("w", encoding="utf-8", newline="") as handle:
        yield handle


def _event_json(event: Any) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "occurred_at": event.occurred_at,
        "action": event.action,
        "result": event.result,
        "actor": event.actor_label,
        "actor_id": event.actor_id,
        "target": event.target_label,
        "target_user_id": event.target_user_id,
        "role": event.role_label,
        "role_id": event.role_id,
        "request_id": event.request_id,
        "schedule_id": event.schedule_id,
        "justification": event.justification,
        "ticket_number": event.ticket_number,
        "ticket_system": event.ticket_system,
        "start_at": event.start_at,
        "end_at": event.end_at,
        "detail": event_detail(event),
        "client_address": event.client_address,
        "http_request_id": event.http_request_id,
    }


@audit_app.command("export")
def audit_export(
    since: Annotated[str | None, typer.Option(help="ISO-8601, inclusive.")] = None,
    until: Annotated[str | None, typer.Option(help="ISO-8601, exclusive.")] = None,
    user: Annotated[str | None, typer.Option(help="Events about this UPN.")] = None,
    role: Annotated[str | None, typer.Option(help="Role name or id.")] = None,
    action: Annotated[
        list[str] | None, typer.Option(help="Only this action (repeat for more).")
    ] = None,
    format: Annotated[ExportFormat, typer.Option("--format")] = ExportFormat.CSV,
    output: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Export a directory's audit events, newest first, streamed (memory stays flat)."""
    since_at = parse_instant(since, "--since")
    until_at = parse_instant(until, "--until")
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        flt = AuditFilter(
            since=since_at,
            until=until_at,
            target_user_id=resolve_user(ctx, user, directory).id if user else None,
            role_id=resolve_role(ctx, directory_id, role).id if role else None,
            actions=tuple(action or ()),
        )
        statement = export_statement(ctx, directory_id, flt)
        with _output(output) as out:
            if format == ExportFormat.CSV:
                for chunk in stream_csv(rt.db.engine, statement):
                    out.write(chunk)
            else:
                _write_json(
                    out,
                    lambda cursor: search_events(
                        ctx, directory_id, flt, cursor=cursor, limit=AUDIT_PAGE
                    ),
                )
    if output is not None:
        typer.echo(f"exported to {output}", err=True)


def _write_json(out: TextIO, page_after: Callable[[str | None], AuditPage]) -> None:
    """A JSON array written page by page, so no more than one page is ever held."""
    out.write("[")
    cursor: str | None = None
    first = True
    while True:
        page = page_after(cursor)
        for event in page.items:
            text = json.dumps(_event_json(event), default=json_default, ensure_ascii=False)
            out.write(("\n  " if first else ",\n  ") + text)
            first = False
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    out.write("]\n" if first else "\n]\n")
