"""Bulk loading of generated rows: COPY on PostgreSQL, raw executemany on SQLite.

Rows are tuples of plain values in one neutral text form that both databases read the way
SQLAlchemy writes them: uuids as 32 lowercase hex digits, instants as naive UTC
'YYYY-MM-DD HH:MM:SS.ffffff' (the PostgreSQL session runs in UTC), booleans as 1/0. Going
around SQLAlchemy's per-value type processing is what makes ten million rows take minutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import suppress
from typing import Any, cast

from sqlalchemy import Engine, Index, Table
from sqlalchemy.schema import CreateIndex

Row = Sequence[Any]

COPY_CHUNK_ROWS = 20_000
SQLITE_CHUNK_ROWS = 10_000
# SQLite commits this often so the WAL file is checkpointed instead of growing without end.
SQLITE_COMMIT_ROWS = 200_000


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value: Any) -> str:
    """A value in COPY's text format: \\N for NULL, backslash escapes for the separators."""
    if value is None:
        return "\\N"
    text = str(value)
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


class BulkLoader:
    """One raw DBAPI connection tuned for loading; use as a context manager."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        if self.dialect not in ("postgresql", "sqlite"):
            raise NotImplementedError(f"bulk loading does not support {self.dialect}")
        self._raw = cast(Any, engine.raw_connection())
        self.dbapi = cast(Any, self._raw.dbapi_connection)
        if self.dialect == "postgresql":
            with self.dbapi.cursor() as cur:
                cur.execute("SET TIME ZONE 'UTC'")
                # The data is generated, not precious: a crash mid-load means seeding again.
                cur.execute("SET synchronous_commit = off")
                cur.execute("SET maintenance_work_mem = '512MB'")
            self.dbapi.commit()
        else:
            # Foreign keys hold by construction here; per-row checks would double the time.
            self.dbapi.execute("PRAGMA foreign_keys=OFF")
            self.dbapi.execute("PRAGMA synchronous=OFF")
            self.dbapi.execute("PRAGMA cache_size=-262144")
            self.dbapi.execute("PRAGMA temp_store=MEMORY")

    def __enter__(self) -> BulkLoader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.dialect == "sqlite":
            self.dbapi.execute("PRAGMA foreign_keys=ON")
            self.dbapi.execute("PRAGMA synchronous=NORMAL")
        with suppress(Exception):
            self._raw.close()

    def load(
        self, table: Table, columns: Sequence[str], rows: Iterable[Row], *, copy_ready: bool = False
    ) -> int:
        """Insert every row; returns how many. Commits as it goes.

        copy_ready: on PostgreSQL the rows already hold COPY text (str values, \\N for NULL).
        """
        if self.dialect == "postgresql":
            return self._copy(table.name, columns, rows, copy_ready)
        return self._insert_sqlite(table.name, columns, rows)

    def _copy(self, name: str, columns: Sequence[str], rows: Iterable[Row], ready: bool) -> int:
        count = 0
        sql = f"COPY {name} ({', '.join(columns)}) FROM STDIN"
        with self.dbapi.cursor() as cur, cur.copy(sql) as copy:
            lines: list[str] = []
            for row in rows:
                lines.append("\t".join(row) if ready else "\t".join(map(copy_text, row)))
                if len(lines) >= COPY_CHUNK_ROWS:
                    copy.write("\n".join(lines) + "\n")
                    count += len(lines)
                    lines = []
            if lines:
                copy.write("\n".join(lines) + "\n")
                count += len(lines)
        self.dbapi.commit()
        return count

    def _insert_sqlite(self, name: str, columns: Sequence[str], rows: Iterable[Row]) -> int:
        sql = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"  # noqa: S608
        count = 0
        since_commit = 0
        chunk: list[Row] = []
        self.dbapi.execute("BEGIN")
        for row in rows:
            chunk.append(row)
            if len(chunk) >= SQLITE_CHUNK_ROWS:
                self.dbapi.executemany(sql, chunk)
                count += len(chunk)
                since_commit += len(chunk)
                chunk = []
                if since_commit >= SQLITE_COMMIT_ROWS:
                    self.dbapi.execute("COMMIT")
                    self.dbapi.execute("BEGIN")
                    since_commit = 0
        if chunk:
            self.dbapi.executemany(sql, chunk)
            count += len(chunk)
        self.dbapi.execute("COMMIT")
        return count

    def execute(self, sql: str, *, autocommit: bool = False) -> None:
        """Run one statement; autocommit for those PostgreSQL refuses in a transaction."""
        if self.dialect == "postgresql":
            self.dbapi.autocommit = autocommit
            try:
                with self.dbapi.cursor() as cur:
                    cur.execute(sql)
                if not autocommit:
                    self.dbapi.commit()
            finally:
                self.dbapi.autocommit = False
        else:
            self.dbapi.execute(sql)

    def scalar(self, sql: str) -> Any:
        if self.dialect == "postgresql":
            with self.dbapi.cursor() as cur:
                cur.execute(sql)
                row = cur.fetchone()
            self.dbapi.commit()
        else:
            row = self.dbapi.execute(sql).fetchone()
        return None if row is None else row[0]

    def secondary_indexes(self, table: Table) -> list[Index]:
        """Non-unique indexes: dropped before a load into an empty table, rebuilt after."""
        return [index for index in table.indexes if not index.unique]

    def drop_indexes(self, indexes: Iterable[Index]) -> None:
        for index in indexes:
            self.execute(f"DROP INDEX IF EXISTS {index.name}")

    def create_indexes(self, indexes: Iterable[Index]) -> None:
        # On this connection, so PostgreSQL's raised maintenance_work_mem applies to the sort.
        for index in indexes:
            self.execute(str(CreateIndex(index).compile(dialect=self.engine.dialect)))
