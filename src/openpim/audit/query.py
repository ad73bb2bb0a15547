"""Reading the audit history: filtered pages, "my audit", and a streaming CSV export.

Pages are keyset-paginated on (occurred_at, seq) descending: newest first, stable while new
events arrive, and as cheap on page 1000 as on page 1 (the indexes on (…, occurred_at, seq)
serve every filter). The cursor handed to clients is opaque (base64 of the last row's key) so
the key can change without breaking the API contract.

occurred_at is not monotonic in seq (the worker records an expiry at the instant the schedule
ended, after later events were written), which is why the key is the pair, not seq alone.

The CSV export never holds the result in memory: it reads through a server-side cursor
(PostgreSQL) or SQLite's lazy cursor in batches and yields text as it goes.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Engine, Select, Table, or_, select, tuple_

from openpim.audit.models import AuditEvent
from openpim.auth.permissions import require_read_all
from openpim.kit.clock import ensure_utc
from openpim.kit.context import Ctx
from openpim.kit.errors import Forbidden, NotFound, ValidationFailed
from openpim.kit.pagination import cursor_instant, cursor_number, require_page

MAX_PAGE = 500
DEFAULT_PAGE = 100
CURSOR_MAX_LENGTH = 200
ACTION_MAX_LENGTH = 64
EXPORT_BATCH = 1000

_events = cast(Table, AuditEvent.__table__)


@dataclass(frozen=True)
class AuditFilter:
    """What the portal filters history by. Every field is optional; all given ones must match."""

    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    target_user_id: uuid.UUID | None = None
    role_id: uuid.UUID | None = None
    actions: tuple[str, ...] = ()
    actor_id: uuid.UUID | None = None
    result: str | None = None


@dataclass(frozen=True)
class AuditPage:
    items: list[AuditEvent]
    # Pass back as `cursor` for the next (older) page; None on the last page.
    next_cursor: str | None


# --- cursor ---------------------------------------------------------------------------------


def encode_cursor(occurred_at: datetime, seq: int) -> str:
    raw = f"{ensure_utc(occurred_at).isoformat()}|{seq}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    invalid = ValidationFailed(
        "The cursor is not one this server handed out.", code="invalid_cursor", field="cursor"
    )
    if not cursor or len(cursor) > CURSOR_MAX_LENGTH:
        raise invalid
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        instant, seq_text = text.split("|")
        return cursor_instant(instant), cursor_number(seq_text, minimum=1)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid from None


# --- filters --------------------------------------------------------------------------------


def _aware(value: datetime | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        return ensure_utc(value)
    except (ValueError, OverflowError):
        raise ValidationFailed(
            f"{field} must be an instant with a time zone (e.g. 2026-01-05T09:00:00Z).",
            code="naive_datetime",
            field=field,
        ) from None


def _conditions(flt: AuditFilter) -> list[ColumnElement[bool]]:
    since = _aware(flt.since, "since")
    until = _aware(flt.until, "until")
    if since is not None and until is not None and until <= since:
        raise ValidationFailed(
            "until must be later than since.", code="empty_time_range", field="until"
        )
    c = _events.c
    out: list[ColumnElement[bool]] = []
    if since is not None:
        out.append(c.occurred_at >= since)
    if until is not None:
        out.append(c.occurred_at < until)
    if flt.target_user_id is not None:
        out.append(c.target_user_id == flt.target_user_id)
    if flt.role_id is not None:
        out.append(c.role_id == flt.role_id)
    if flt.actor_id is not None:
        out.append(c.actor_id == flt.actor_id)
    if flt.actions:
        actions = [a.strip() for a in flt.actions if a.strip()]
        if any(len(a) > ACTION_MAX_LENGTH for a in actions) or len(actions) > 50:
            raise ValidationFailed(
                "Give at most 50 actions of at most 64 characters each.",
                code="invalid_action_filter",
                field="action",
            )
        if actions:
            out.append(c.action.in_(actions))
    if flt.result is not None:
        # Stored lower-case ("success", "failure"); any other case would match nothing slowly.
        out.append(c.result == flt.result.strip().lower()[:16])
    return out


def _statement(
    directory_id: uuid.UUID, flt: AuditFilter, extra: Sequence[ColumnElement[bool]] = ()
) -> Select[Any]:
    c = _events.c
    return (
        select(AuditEvent)
        .where(c.directory_id == directory_id, *_conditions(flt), *extra)
        .order_by(c.occurred_at.desc(), c.seq.desc())
    )


def _own(ctx: Ctx) -> tuple[uuid.UUID, ColumnElement[bool]]:
    """The caller's directory and "events about me or by me" (My audit)."""
    user_id, directory_id = ctx.actor.user_id, ctx.actor.directory_id
    if user_id is None or directory_id is None:
        raise Forbidden("Only a signed-in user has an audit history.", code="not_a_user")
    c = _events.c
    return directory_id, or_(c.target_user_id == user_id, c.actor_id == user_id)


def _page(ctx: Ctx, statement: Select[Any], cursor: str | None, limit: int) -> AuditPage:
    require_page(limit, MAX_PAGE)
    if cursor:
        occurred_at, seq = decode_cursor(cursor)
        c = _events.c
        statement = statement.where(tuple_(c.occurred_at, c.seq) < tuple_(occurred_at, seq))
    rows = list(ctx.session.execute(statement.limit(limit + 1)).scalars())
    items = rows[:limit]
    more = len(rows) > limit
    last = items[-1] if items else None
    next_cursor = encode_cursor(last.occurred_at, last.seq) if (more and last) else None
    return AuditPage(items, next_cursor)


# --- public ---------------------------------------------------------------------------------


def search_events(
    ctx: Ctx,
    directory_id: uuid.UUID,
    flt: AuditFilter | None = None,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
) -> AuditPage:
    """The directory's history, newest first. PIM's readers only."""
    require_read_all(ctx, directory_id)
    return _page(ctx, _statement(directory_id, flt or AuditFilter()), cursor, limit)


def directory_events_statement(ctx: Ctx, directory_id: uuid.UUID) -> Select[Any]:
    """Authorise now and return the directory's events, for callers that filter and page
    themselves (Graph's directoryAudits). PIM's readers only."""
    require_read_all(ctx, directory_id)
    return select(AuditEvent).where(_events.c.directory_id == directory_id)


def get_event(ctx: Ctx, directory_id: uuid.UUID, seq: int) -> AuditEvent:
    """One event of the directory, by sequence number. PIM's readers only."""
    require_read_all(ctx, directory_id)
    event = ctx.session.get(AuditEvent, seq)
    if event is None or event.directory_id != directory_id:
        raise NotFound(f"Audit event {seq} does not exist.", code="audit_event_not_found")
    return event


def my_events(
    ctx: Ctx,
    flt: AuditFilter | None = None,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
) -> AuditPage:
    """My audit: events about the caller or done by the caller, in their directory."""
    directory_id, own = _own(ctx)
    return _page(ctx, _statement(directory_id, flt or AuditFilter(), [own]), cursor, limit)


def export_statement(
    ctx: Ctx, directory_id: uuid.UUID | None, flt: AuditFilter | None = None
) -> Select[Any]:
    """Authorise an export now and return what `stream_csv` will read.

    `directory_id` None exports the caller's own history (My audit); otherwise the directory's,
    for readers only. Checked before the first byte is sent, so a refusal is a clean 403.
    """
    if directory_id is None:
        own_directory, own = _own(ctx)
        return _statement(own_directory, flt or AuditFilter(), [own])
    require_read_all(ctx, directory_id)
    return _statement(directory_id, flt or AuditFilter())


CSV_COLUMNS = (
    "seq",
    "occurred_at",
    "action",
    "result",
    "actor",
    "actor_id",
    "target",
    "target_user_id",
    "role",
    "role_id",
    "request_id",
    "schedule_id",
    "justification",
    "ticket_number",
    "ticket_system",
    "start_at",
    "end_at",
    "detail",
    "client_address",
    "http_request_id",
)

_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell_text(value: str | None) -> str:
    # A spreadsheet would run "=HYPERLINK(...)" typed into a justification as a formula.
    if not value:
        return ""
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value


def _cell_time(value: datetime | None) -> str:
    return "" if value is None else ensure_utc(value).isoformat().replace("+00:00", "Z")


def _cell_id(value: uuid.UUID | None) -> str:
    return "" if value is None else str(value)


def csv_line(event: Any) -> list[str]:
    """One CSV record; an empty end_at means "no end" (permanent)."""
    return [
        str(event.seq),
        _cell_time(event.occurred_at),
        _cell_text(event.action),
        _cell_text(event.result),
        _cell_text(event.actor_label),
        _cell_id(event.actor_id),
        _cell_text(event.target_label),
        _cell_id(event.target_user_id),
        _cell_text(event.role_label),
        _cell_id(event.role_id),
        _cell_id(event.request_id),
        _cell_id(event.schedule_id),
        _cell_text(event.justification),
        _cell_text(event.ticket_number),
        _cell_text(event.ticket_system),
        _cell_time(event.start_at),
        _cell_time(event.end_at),
        _cell_text(event.detail),
        _cell_text(event.client_address),
        _cell_text(event.http_request_id),
    ]


_CSV_SOURCE = (
    "seq",
    "occurred_at",
    "action",
    "result",
    "actor_label",
    "actor_id",
    "target_label",
    "target_user_id",
    "role_label",
    "role_id",
    "request_id",
    "schedule_id",
    "justification",
    "ticket_number",
    "ticket_system",
    "start_at",
    "end_at",
    "detail",
    "client_address",
    "http_request_id",
)


def stream_csv(
    engine: Engine, statement: Select[Any], *, batch_size: int = EXPORT_BATCH
) -> Iterator[str]:
    """Yield the CSV text of `statement`'s events: the header first, then one chunk per batch.

    Opens its own connection (the request's transaction has ended by the time a streaming
    response is iterated) and reads with stream_results, so memory stays flat on any size.
    """
    columns = [_events.c[name] for name in _CSV_SOURCE]
    core = statement.with_only_columns(*columns)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    yield _drain(buffer)
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(core)
        try:
            for partition in result.partitions(batch_size):
                writer.writerows(csv_line(row) for row in partition)
                yield _drain(buffer)
        finally:
            result.close()
            conn.rollback()


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def event_detail(event: AuditEvent) -> dict[str, Any] | None:
    """The event's detail as an object (it is stored as canonical JSON text)."""
    if not event.detail:
        return None
    try:
        value = json.loads(event.detail)
    except ValueError:
        return {"text": event.detail}
    return value if isinstance(value, dict) else {"value": value}


__all__ = [
    "CSV_COLUMNS",
    "AuditFilter",
    "AuditPage",
    "decode_cursor",
    "encode_cursor",
    "event_detail",
    "export_statement",
    "my_events",
    "search_events",
    "stream_csv",
]
