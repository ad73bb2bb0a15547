"""Core statements run straight on the driver connection: the hot paths.

SQLAlchemy's per-call execution machinery (cache key, parameter processing, result set-up,
events) costs 150-250 microseconds per statement on this project's benchmark machine, against
10-50 for the indexed statement itself on SQLite. The access check and self-activation run
their fixed statements here instead: each statement is compiled once per dialect, parameters
and rows go through the very same SQLAlchemy type processors (uuid hex and naive UTC text on
SQLite, native on PostgreSQL), and rows come back as named tuples, so code written against
Core rows reads them unchanged.

Only module-level statements (the cache is keyed by the statement object's id), with static
SQL: an expanding IN list is refused at compile time. Inside a unit of work pass
`ctx.session.connection()`: the statement then runs in the unit's transaction (the Session
has begun it), so it commits or rolls back with everything else. Engine events
(before_cursor_execute) do not see these statements.

`connect()` lends a pooled connection for reads outside any unit: each SELECT sees the latest
commit; on SQLite the driver connection is in autocommit mode already, on PostgreSQL it is
switched to autocommit while lent out, which saves the BEGIN and ROLLBACK round trips (more
than half the access check's time there).
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, ColumnClause, Connection, Engine, Executable, Insert, insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.sql.schema import ColumnDefault

Processor = Callable[[Any], Any] | None
_MISSING = object()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Positional drivers (SQLite's qmark): bind names in order. Named drivers: None.
    order: tuple[str, ...] | None
    # Values the statement carries itself (LIMIT 1, an INSERT's .values()), by bind name.
    defaults: Mapping[str, Any]
    # An INSERT's columns with a Python-side default (a new id, a constant): name -> maker.
    generated: Mapping[str, Callable[[], Any]]
    # An INSERT's nullable columns without a default: left out, they are SQL NULL (not a
    # JSON 'null', which the JSON type's processor would make of None).
    nulls: frozenset[str]
    bind_processors: Mapping[str, Processor]
    # (column index, processor) for the columns that need converting.
    converting: tuple[tuple[int, Callable[[Any], Any]], ...]
    row_type: Callable[..., Any] | None


_cache: dict[tuple[int, str], _Compiled] = {}
_lock = threading.Lock()


def _compile(statement: Executable, dialect: Dialect) -> _Compiled:
    key = (id(statement), dialect.name)
    found = _cache.get(key)
    if found is not None:
        return found
    compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    assert "POSTCOMPILE" not in compiled.string, "an expanding IN cannot run on the driver"
    # dialect_impl: the type as this dialect stores it (a TypeDecorator's load_dialect_impl).
    binds = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for name, bind in compiled.binds.items()
    }
    defaults = {n: b.effective_value for n, b in compiled.binds.items() if not b.required}
    generated: dict[str, Callable[[], Any]] = {}
    nulls: set[str] = set()
    if isinstance(statement, Insert):
        for column in statement.table.columns:
            if column.key not in binds or column.key in defaults:  # not, or given a value
                continue
            make = _default_maker(column)
            if make is not None:
                generated[column.key] = make
            elif column.nullable:
                nulls.add(column.key)
    columns = list(getattr(statement, "selected_columns", ()))
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    names = [c.key or f"c{i}" for i, c in enumerate(columns)]
    positions = compiled.positiontup if compiled.positional else None
    found = _Compiled(
        sql=compiled.string,
        order=tuple(positions) if positions is not None else None,
        defaults=defaults,
        generated=generated,
        nulls=frozenset(nulls),
        bind_processors=binds,
        converting=tuple((i, p) for i, p in enumerate(results) if p is not None),
        row_type=namedtuple("Row", names, rename=True) if columns else None,
    )
    with _lock:
        _cache[key] = found
    return found


def _default_maker(column: ColumnClause[Any]) -> Callable[[], Any] | None:
    """What gives a column left out of an INSERT its Python-side default (a new id, a
    constant), or None when it has none."""
    default = getattr(column, "default", None)  # a Table's columns are Columns
    if not isinstance(default, ColumnDefault):
        return None
    if default.is_callable:
        # SQLAlchemy wraps a column default to take the execution context; ours take none.
        function = default.arg
        return lambda: function(None)
    if default.is_scalar:
        value = default.arg
        return lambda: value
    return None


def _bound(compiled: _Compiled, params: Mapping[str, Any]) -> Sequence[Any] | Mapping[str, Any]:
    given = {**compiled.defaults, **params} if compiled.defaults else params
    values: dict[str, Any] = {}
    for name, processor in compiled.bind_processors.items():
        value = given.get(name, _MISSING)
        if value is _MISSING:
            if name in compiled.generated:
                value = compiled.generated[name]()
            elif name in compiled.nulls:
                values[name] = None
                continue
            else:
                raise KeyError(f"no value for {name!r}")
        values[name] = processor(value) if processor is not None else value
    return tuple(values[n] for n in compiled.order) if compiled.order is not None else values


def rows(conn: Connection, statement: Executable, params: Mapping[str, Any]) -> list[Any]:
    """Every row of `statement` (a module-level Core select) with `params`."""
    compiled = _compile(statement, conn.dialect)
    driver: Any = conn.connection.dbapi_connection
    bound = _bound(compiled, params)
    cursor = driver.cursor()
    try:
        cursor.execute(compiled.sql, bound)
        fetched = cursor.fetchall()
    except conn.dialect.loaded_dbapi.Error as failed:
        raise _wrapped(conn, compiled.sql, bound, failed) from failed
    finally:
        cursor.close()
    make = compiled.row_type
    assert make is not None, "rows() is for statements that select columns"
    converting = compiled.converting
    out = []
    for raw in fetched:
        row = list(raw)
        for index, process in converting:
            row[index] = process(row[index])
        out.append(make(*row))
    return out


def first(conn: Connection, statement: Executable, params: Mapping[str, Any]) -> Any | None:
    found = rows(conn, statement, params)
    return found[0] if found else None


def execute(
    conn: Connection,
    statement: Executable,
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]],
) -> int:
    """Run a module-level INSERT, UPDATE or DELETE once per parameter set; rows affected.

    A plain `insert(table)` writes every column: one left out of `params` gets its default
    (a new id, a constant) or NULL, as an ORM insert would. With `.values(...)` the statement
    writes the columns named there (and those with a default), whatever `params` holds.
    """
    compiled = _compile(statement, conn.dialect)
    driver: Any = conn.connection.dbapi_connection
    bound: Any = (
        _bound(compiled, params)
        if isinstance(params, Mapping)
        else [_bound(compiled, p) for p in params]
    )
    cursor = driver.cursor()
    try:
        if isinstance(params, Mapping):
            cursor.execute(compiled.sql, bound)
        else:
            cursor.executemany(compiled.sql, bound)
        return int(cursor.rowcount)
    except conn.dialect.loaded_dbapi.Error as failed:
        raise _wrapped(conn, compiled.sql, bound, failed) from failed
    finally:
        cursor.close()


def _wrapped(conn: Connection, sql: str, params: Any, failed: Exception) -> Exception:
    """The driver's error as SQLAlchemy raises it (IntegrityError, OperationalError, ...), so
    callers catch the same exceptions on both paths."""
    return DBAPIError.instance(sql, params, failed, conn.dialect.loaded_dbapi.Error)


_object_inserts: dict[type[Any], tuple[Insert, tuple[tuple[str, Column[Any]], ...]]] = {}


def insert_object(session: Session, obj: Any) -> None:
    """Write a new mapped object with one INSERT now, in the session's transaction.

    For a row whose values are final when written: no flush and no later UPDATE. An attribute
    left unset gets its column's default (as a flush would give it) on the object too; the
    object then joins the session as if loaded, so later changes to it are still written.
    Pending ORM changes are not flushed first: write what it references before it.
    """
    cls = type(obj)
    found = _object_inserts.get(cls)
    if found is None:
        mapper = sa_inspect(cls)
        columns = tuple((p.key, p.columns[0]) for p in mapper.column_attrs)
        found = _object_inserts[cls] = (insert(mapper.local_table), columns)
    statement, columns = found
    state = obj.__dict__
    values: dict[str, Any] = {}
    for key, column in columns:
        if key in state:
            values[column.key] = state[key]
            continue
        make = _default_maker(column)
        default = make() if make is not None else None
        setattr(obj, key, default)
        if default is not None:  # else left out: SQL NULL, as a flush would write
            values[column.key] = default
    execute(session.connection(), statement, values)
    make_transient_to_detached(obj)
    session.add(obj)


@contextmanager
def connect(engine: Engine) -> Iterator[Connection]:
    """A pooled connection for `rows`/`first` reads (see the module notes on autocommit)."""
    with engine.connect() as conn:
        driver: Any = conn.connection.dbapi_connection
        if conn.dialect.name != "postgresql" or conn.dialect.driver != "psycopg":
            yield conn
            return
        import psycopg

        try:
            driver.autocommit = True
        except psycopg.ProgrammingError:  # already in a transaction: read inside it
            yield conn
            return
        try:
            yield conn
        finally:
            driver.autocommit = False
