"""What every command shares: settings and runtime, exit codes, output, parsing, name lookups.

The CLI is an adapter: it turns arguments into service calls and results into text. Lookups here
only translate what an operator types (a UPN, a role name, a directory name) into ids; every
rule lives in the services.
"""

from __future__ import annotations

import getpass
import json
import socket
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from enum import Enum
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError
from typer.core import TyperGroup

from openpim.config import Settings
from openpim.directory.models import Directory, User
from openpim.kit.context import Actor, Ctx
from openpim.kit.durations import format_duration, parse_duration
from openpim.kit.errors import (
    Conflict,
    DomainError,
    MfaRequired,
    NotFound,
    Unauthorized,
    ValidationFailed,
)
from openpim.roles.models import RoleDefinition
from openpim.roles.service import get_role, list_roles
from openpim.runtime import Runtime

# --- exit codes -----------------------------------------------------------------------------

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_AUTH = 5
EXIT_AUDIT_BROKEN = 6
EXIT_DATABASE = 7

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 refused by a rule (or `check --role`: role not active); "
    "2 usage error; 3 not found; 4 conflict; 5 authentication failed; "
    "6 audit chain broken; 7 database unreachable or not migrated (run `openpim migrate`). "
    "Errors go to stderr as `error: CODE: message`."
)


def exit_code_for(error: DomainError) -> int:
    if isinstance(error, NotFound):
        return EXIT_NOT_FOUND
    if isinstance(error, Conflict):
        return EXIT_CONFLICT
    if isinstance(error, Unauthorized | MfaRequired):
        return EXIT_AUTH
    return EXIT_REFUSED


def fail(error: DomainError) -> typer.Exit:
    where = f" (field: {error.field})" if error.field else ""
    typer.echo(f"error: {error.code}: {error.message}{where}", err=True)
    return typer.Exit(exit_code_for(error))


class ErrorMappingGroup(TyperGroup):
    """Turns domain, configuration and database errors anywhere below into a stderr line and
    an exit code."""

    def invoke(self, ctx: Any) -> Any:  # typer's own (vendored) click Context
        try:
            return super().invoke(ctx)
        except DomainError as error:
            raise fail(error) from None
        except ValidationError as error:
            if error.title != Settings.__name__:
                raise
            for problem in error.errors():
                name = "OPENPIM_" + "_".join(str(p) for p in problem["loc"]).upper()
                typer.echo(f"error: invalid_setting: {name}: {problem['msg']}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        except (OperationalError, ProgrammingError) as error:
            if not _unreachable_or_unmigrated(error):
                raise
            from openpim.worker import describe_error

            typer.echo(
                f"error: database_error: {describe_error(error)}. Is the database reachable "
                "and migrated (`openpim migrate`)?",
                err=True,
            )
            raise typer.Exit(EXIT_DATABASE) from None


def _unreachable_or_unmigrated(error: OperationalError | ProgrammingError) -> bool:
    """Connection failures and missing tables get a hint; any other database error is a bug
    and keeps its traceback."""
    if isinstance(error, OperationalError):
        return True
    return type(error.orig).__name__ in {"UndefinedTable", "UndefinedColumn"}


# --- settings and runtime -------------------------------------------------------------------

DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="OPENPIM_DATABASE_URL",
        help="SQLAlchemy URL (sqlite:///path or postgresql+psycopg://...).",
        show_default=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
DirectoryOpt = Annotated[
    str | None,
    typer.Option(
        "--directory",
        help="Directory name or id; may be left out while there is only one directory.",
    ),
]


def load_settings(database_url: str | None) -> Settings:
    return Settings(database_url=database_url) if database_url else Settings()


def make_runtime(settings: Settings) -> Runtime:
    """The CLI's Runtime. Tests replace `openpim.cli.make_runtime` to inject their clock."""
    return Runtime.from_settings(settings)


def open_runtime(database_url: str | None) -> Runtime:
    # Looked up on the package at call time so a monkeypatched openpim.cli.make_runtime wins.
    import openpim.cli

    return openpim.cli.make_runtime(load_settings(database_url))


def operator() -> Actor:
    """The person at this shell, as the audit will name them."""
    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no login name in a bare container
        login = "unknown"
    return Actor.operator(f"{login}@{socket.gethostname()}")


# --- output ---------------------------------------------------------------------------------


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def emit_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=json_default, ensure_ascii=False))


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def emit_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Plain aligned columns: readable in a terminal, still easy to grep and cut."""
    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        widths = [max(w, len(v)) for w, v in zip(widths, row, strict=True)]
    for row in [list(headers), *text_rows]:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        typer.echo("(none)")


# --- parsing --------------------------------------------------------------------------------


def usage_error(message: str, option: str | None = None) -> typer.BadParameter:
    """Exit 2 with the usage line, like any malformed argument."""
    return typer.BadParameter(message, param_hint=option)


def parse_instant(text: str | None, option: str) -> datetime | None:
    """An ISO-8601 instant with an offset; a naive one is refused (its zone would be a guess)."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO-8601 date-time (e.g. 2026-01-05T09:00:00+00:00).",
            param_hint=option,
        ) from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise typer.BadParameter(
            f"{text!r} has no UTC offset; add one, e.g. {text}Z or {text}+02:00.",
            param_hint=option,
        )
    return value


def parse_iso_duration(text: str | None, option: str) -> timedelta | None:
    if text is None:
        return None
    try:
        return parse_duration(text, field=option)
    except ValidationFailed as error:
        raise typer.BadParameter(error.message, param_hint=option) from None


def read_secret_line() -> str:
    """One line from stdin (for --password-stdin), without its line break."""
    line = typer.get_text_stream("stdin").readline()
    return line.rstrip("\r\n")


def ask_new_password(from_stdin: bool) -> str:
    if from_stdin:
        return read_secret_line()
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return value


# --- lookups: what the operator typed -> ids --------------------------------------------------


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None


def resolve_directory(ctx: Ctx, name_or_id: str | None) -> Directory:
    if name_or_id is None:
        rows = list(ctx.session.scalars(select(Directory).order_by(Directory.name).limit(2)))
        if not rows:
            raise NotFound(
                "There is no directory yet; run `openpim bootstrap` first.",
                code="directory_not_found",
            )
        if len(rows) > 1:
            raise usage_error("There are several directories: pass --directory NAME.")
        return rows[0]
    wanted = _as_uuid(name_or_id)
    statement = select(Directory).where(
        Directory.id == wanted if wanted is not None else Directory.name == name_or_id.strip()
    )
    matches = list(ctx.session.scalars(statement.limit(2)))
    if not matches:
        raise NotFound(f"No directory named {name_or_id!r}.", code="directory_not_found")
    if len(matches) > 1:
        raise usage_error(f"Several directories are named {name_or_id!r}: pass its id.")
    return matches[0]


def resolve_user(ctx: Ctx, upn: str, directory: str | None) -> User:
    statement = select(User).where(User.user_principal_name == upn.strip().lower())
    if directory is not None:
        statement = statement.where(User.directory_id == resolve_directory(ctx, directory).id)
    matches = list(ctx.session.scalars(statement.limit(2)))
    if not matches:
        raise NotFound(f"No user {upn.strip().lower()!r}.", code="user_not_found")
    if len(matches) > 1:
        raise usage_error(f"{upn} exists in several directories: pass --directory.")
    return matches[0]


def resolve_role(ctx: Ctx, directory_id: uuid.UUID, name_or_id: str) -> RoleDefinition:
    """A role by id or by name, case-insensitively, as the directory sees its catalog."""
    wanted = _as_uuid(name_or_id)
    if wanted is not None:
        return get_role(ctx, directory_id, wanted)
    folded = name_or_id.strip().casefold()
    for role in list_roles(ctx, directory_id):
        if role.display_name.casefold() == folded:
            return role
    raise NotFound(
        f"No role named {name_or_id!r}; `openpim role list` shows them.", code="role_not_found"
    )


@contextmanager
def operator_unit(rt: Runtime) -> Iterator[Ctx]:
    with rt.unit(operator()) as ctx:
        yield ctx


def request_json(request: object) -> dict[str, Any]:
    from openpim.assignments.schemas import RequestOut

    data: dict[str, Any] = RequestOut.model_validate(request).model_dump(mode="json")
    return data


def window_text(start: datetime | None, end: datetime | None) -> str:
    begin = "now" if start is None else start.isoformat(timespec="seconds")
    return f"from {begin} " + (
        "permanently" if end is None else f"until {end.isoformat(timespec='seconds')}"
    )
