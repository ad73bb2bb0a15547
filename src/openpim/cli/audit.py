"""The audit history: verify the hash chain, export events (streamed, CSV or JSON)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from openpim.audit.anchors import (
    Anchor,
    current_anchor,
    parse_anchor,
    read_anchors,
    verified_head,
    verify_anchored,
)
from openpim.audit.query import MAX_PAGE as AUDIT_PAGE
from openpim.audit.query import (
    AuditFilter,
    AuditPage,
    event_detail,
    export_statement,
    search_events,
    stream_csv,
)
from openpim.audit.verify import VerifyResult, auto_workers
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


def _anchors_given(anchor: list[str] | None, anchors_file: Path | None) -> list[Anchor]:
    try:
        given = [parse_anchor(text) for text in anchor or ()]
        if anchors_file is not None:
            try:
                lines = anchors_file.read_text(encoding="utf-8").splitlines()
            except OSError as error:
                raise typer.BadParameter(
                    f"cannot read {anchors_file}: {error.strerror}", param_hint="--anchors"
                ) from None
            given += read_anchors(lines)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="--anchor/--anchors") from None
    return given


def _broken_message(result: VerifyResult) -> str:
    if result.reason == "anchor mismatch":
        return (
            f"chain REWRITTEN: the event at seq {result.first_broken_seq} no longer has the "
            f"anchored hash; the rewrite lies after seq {result.checked} (the last anchor that "
            "still matches) and at or before it"
        )
    if result.reason == "anchor beyond the chain":
        return (
            f"chain REWRITTEN: it ends before the anchored seq {result.first_broken_seq} "
            "(events were removed and the chain rebuilt; anchors confirm it up to seq "
            f"{result.checked})"
        )
    return (
        f"chain BROKEN at seq {result.first_broken_seq}: {result.reason} "
        f"({result.checked} events verified before it)"
    )


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
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            help="SEQ:HASH recorded earlier (from `audit head` or a passing verify); the "
            "chain must still hold that hash at that seq. Repeatable.",
        ),
    ] = None,
    anchors_file: Annotated[
        Path | None,
        typer.Option("--anchors", help="A file of anchors, one SEQ:HASH per line, # comments."),
    ] = None,
) -> None:
    """Check the whole hash chain; names the first broken sequence number if any.

    With anchors it also detects a history rewritten with recomputed hashes."""
    given = _anchors_given(anchor, anchors_file)
    rt = open_runtime(database_url)
    result = verify_anchored(rt.db.engine, given, workers=workers or auto_workers(rt.db))
    head = verified_head(result)
    if json_out:
        emit_json(
            {
                "ok": result.ok,
                "events": result.last_seq if result.ok else result.checked,
                "first_broken_seq": result.first_broken_seq,
                "reason": result.reason,
                "anchors_checked": len(set(given)) if result.ok else None,
                "head": None if head is None else str(head),
            }
        )
    elif result.ok:
        checked = f", {len(set(given))} anchor(s) hold" if given else ""
        typer.echo(f"chain intact: {result.checked} events{checked}")
        if head is not None:
            typer.echo(f"head: {head} (keep it outside the database; pass it as --anchor)")
    else:
        typer.echo(_broken_message(result), err=True)
    if not result.ok:
        raise typer.Exit(EXIT_AUDIT_BROKEN)


@audit_app.command("head")
def audit_head(database_url: DatabaseUrl = None, json_out: JsonFlag = False) -> None:
    """Print the chain head as SEQ:HASH: keep it outside the database (a ticket, a log shipper,
    write-once storage) and pass it to `audit verify --anchor` to detect a rewritten history."""
    rt = open_runtime(database_url)
    head = current_anchor(rt.db.engine)
    empty = head.seq < 1  # nothing recorded yet: no anchor (a seq-0 one would be refused)
    if json_out:
        emit_json(
            {
                "seq": head.seq,
                "hash": None if empty else head.hash,
                "anchor": None if empty else str(head),
            }
        )
    elif empty:
        typer.echo("the audit chain is empty: nothing to anchor yet", err=True)
    else:
        typer.echo(str(head))


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
