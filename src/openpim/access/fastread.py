"""Core SELECTs run straight on the driver connection: the access check's hot path.

An ORM Session costs about 85 microseconds before its first row (transaction bookkeeping, the
SQLite BEGIN listener, the rollback) and each SQLAlchemy execute about 30 more, against 5 for
the query itself. The access check asks two indexed questions per request, so it runs them
here: the statement is compiled once per dialect, parameters and rows go through the very
same SQLAlchemy type processors (uuid hex and naive UTC text on SQLite, native on PostgreSQL),
and rows come back as named tuples, so code written against Core rows reads them unchanged.

Reads only, each SELECT seeing the latest commit: on SQLite the driver connection is in
autocommit mode already; on PostgreSQL `connect()` switches it to autocommit while it is lent
out, which saves the BEGIN and ROLLBACK round trips (more than half the check's time there).
"""

from __future__ import annotations

import threading
from collections import namedtuple
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Select
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # Positional drivers (SQLite's qmark): bind names in order. Named drivers: None.
    order: tuple[str, ...] | None
    # Values the statement carries itself (LIMIT 1 and the like), by bind name.
    defaults: Mapping[str, Any]
    bind_processors: Mapping[str, Processor]
    # (column index, processor) for the columns that need converting.
    converting: tuple[tuple[int, Callable[[Any], Any]], ...]
    row_type: Callable[..., Any]


_cache: dict[tuple[int, str], _Compiled] = {}
_lock = threading.Lock()


def _compile(statement: Select[Any], dialect: Dialect) -> _Compiled:
    key = (id(statement), dialect.name)
    found = _cache.get(key)
    if found is not None:
        return found
    compiled = statement.compile(dialect=dialect)
    # dialect_impl: the type as this dialect stores it (a TypeDecorator's load_dialect_impl).
    binds = {
        name: bind.type.dialect_impl(dialect).bind_processor(dialect)
        for name, bind in compiled.binds.items()
    }
    columns = list(statement.selected_columns)
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    names = [c.key or f"c{i}" for i, c in enumerate(columns)]
    positions = compiled.positiontup if compiled.positional else None
    found = _Compiled(
        sql=compiled.string,
        order=tuple(positions) if positions is not None else None,
        defaults={n: b.effective_value for n, b in compiled.binds.items() if not b.required},
        bind_processors=binds,
        converting=tuple((i, p) for i, p in enumerate(results) if p is not None),
        row_type=namedtuple("Row", names, rename=True),
    )
    with _lock:
        # Keyed by id(): only module-level statements, which live as long as the process.
        _cache[key] = found
    return found


def rows(conn: Connection, statement: Select[Any], params: Mapping[str, Any]) -> list[Any]:
    """Every row of `statement` (a module-level Core select) with `params`."""
    compiled = _compile(statement, conn.dialect)
    given = {**compiled.defaults, **params}
    values = {
        name: (processor(given[name]) if processor is not None else given[name])
        for name, processor in compiled.bind_processors.items()
    }
    driver: Any = conn.connection.dbapi_connection
    bound: Sequence[Any] | Mapping[str, Any]
    bound = tuple(values[n] for n in compiled.order) if compiled.order is not None else values
    cursor = driver.cursor()
    try:
        cursor.execute(compiled.sql, bound)
        fetched = cursor.fetchall()
    finally:
        cursor.close()
    make = compiled.row_type
    converting = compiled.converting
    out = []
    for raw in fetched:
        row = list(raw)
        for index, process in converting:
            row[index] = process(row[index])
        out.append(make(*row))
    return out


def first(conn: Connection, statement: Select[Any], params: Mapping[str, Any]) -> Any | None:
    found = rows(conn, statement, params)
    return found[0] if found else None


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
