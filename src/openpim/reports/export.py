"""Streaming exports: rows read through a server-side cursor, written as CSV or JSON in chunks.

The export opens its own connection (an HTTP streaming response is iterated after the request's
transaction ended) and reads with stream_results + yield_per, so neither the database driver nor
this process ever holds more than one batch: memory stays flat however many rows there are.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Engine, Select

BATCH = 2000
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def stream_rows(
    engine: Engine,
    statement: Select[Any],
    to_row: Callable[[Any], dict[str, Any]],
    *,
    batch_size: int = BATCH,
) -> Iterator[list[dict[str, Any]]]:
    """Batches of report rows, read lazily from a server-side cursor."""
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_size).execute(
            statement
        )
        try:
            for partition in result.partitions(batch_size):
                yield [to_row(row) for row in partition]
        finally:
            result.close()
            conn.rollback()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    # A spreadsheet would run "=HYPERLINK(...)" typed into a justification as a formula.
    return "'" + text if text.startswith(_FORMULA) else text


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def to_csv(
    columns: Sequence[str],
    batches: Iterable[list[dict[str, Any]]],
    *,
    free_text: Sequence[str] | None = None,
) -> Iterator[str]:
    """CSV text: the header, then one chunk per batch. Empty cells mean "none" (no end).

    `free_text` names the columns people type into (the only ones a formula can hide in);
    by default every cell is checked.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    yield _drain(buffer)
    for batch in batches:
        if free_text is None:
            writer.writerows([_cell(row.get(c)) for c in columns] for row in batch)
        else:
            for row in batch:
                for c in free_text:
                    value = row.get(c)
                    if value and value.startswith(_FORMULA):
                        row[c] = "'" + value
            # csv writes None as an empty cell and numbers with str().
            writer.writerows([row.get(c) for c in columns] for row in batch)
        yield _drain(buffer)


def to_json(batches: Iterable[list[dict[str, Any]]]) -> Iterator[str]:
    """A JSON array, one chunk per batch (valid JSON once the last chunk is written)."""
    first = True
    yield "["
    for batch in batches:
        if not batch:
            continue
        parts = [json.dumps(row, ensure_ascii=False, separators=(",", ":")) for row in batch]
        yield ("\n" if first else ",\n") + ",\n".join(parts)
        first = False
    yield "\n]\n" if not first else "]\n"
