"""The access check on PostgreSQL on the event loop, concurrent checks batched into one query.

The statement (access.onestep) answers token, permission and roles together. Here it runs on
an asyncio psycopg connection from a psycopg_pool pool, so waiting for PostgreSQL costs the
loop nothing (a blocking driver call would need a worker thread per check).

Under load most of a check's cost is the driver's per-query work, not PostgreSQL's: so checks
that arrive while earlier ones are on their way are sent together, as one query over arrays of
inputs (unnest ... WITH ORDINALITY, then the one-check statement as a LATERAL subquery per
input row). Each check keeps its own token, instant and clock reading, and its row is judged by
the same rules (onestep.judge) as a check sent alone; a batch is one statement, so its checks
read one snapshot taken after every one of them arrived. A lone check is a batch of one and
waits for nothing.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from psycopg import DataError, OperationalError
from sqlalchemy import (
    Engine,
    String,
    Text,
    Uuid,
    bindparam,
    cast,
    column,
    func,
    literal_column,
    select,
    true,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY

from openpim.access import onestep
from openpim.config import Settings
from openpim.db.base import UTCDateTime

# How the pool's connections show in pg_stat_activity.
APPLICATION_NAME = "openpim-access-check"

# Checks per query at most (a bound on one statement's size and on one slow batch's reach).
MAX_BATCH = 64
# Queries in flight at once: while they are out, newly arrived checks gather for the next.
MAX_IN_FLIGHT = 2


def _listed(name: str, element: Any) -> Any:
    """A comma-separated text parameter as an array of `element`: psycopg dumps a Python list
    element by element in Python (measured 6% of the server's time under load); a joined string
    is one C call, and none of these values (hex digests, UUIDs, ISO instants) holds a comma."""
    return cast(
        func.string_to_array(bindparam(name, type_=Text()), literal_column("','")), ARRAY(element)
    )


def _batch_statement() -> Any:
    inputs = (
        func.unnest(
            _listed("token_hashes", Text()),
            _listed("nows", UTCDateTime()),
            _listed("target_ids", Uuid()),
            _listed("ats", UTCDateTime()),
        )
        .table_valued(
            column("token_hash", String()),
            column("now", UTCDateTime()),
            column("target_id", Uuid()),
            column("at", UTCDateTime()),
            with_ordinality="position",
        )
        .render_derived(name="checks")
    )
    answer = onestep.statement(
        func.array_agg,
        token_hash=inputs.c.token_hash,
        now=inputs.c.now,
        target=inputs.c.target_id,
        at=inputs.c.at,
    ).lateral("answer")
    return (
        select(inputs.c.position, answer)
        .select_from(inputs.outerjoin(answer, true()))
        .order_by(inputs.c.position)
    )


BATCH_SQL = str(_batch_statement().compile(dialect=postgresql.psycopg.dialect()))  # type: ignore[no-untyped-call]


class AccessReader:
    """Access checks over a small pool of asyncio psycopg connections (autocommit reads)."""

    def __init__(
        self, engine: Engine, max_size: int = 8, max_in_flight: int = MAX_IN_FLIGHT
    ) -> None:
        from psycopg.rows import namedtuple_row
        from psycopg_pool import AsyncConnectionPool

        conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._pool: Any = AsyncConnectionPool(
            conninfo,
            min_size=1,
            max_size=max_size,
            open=False,
            kwargs={
                "autocommit": True,
                "row_factory": namedtuple_row,
                "application_name": APPLICATION_NAME,
                # The batch's plan is the same for any inputs (key lookups per row), but the
                # planner's guess for an unnested parameter array makes it re-plan on every
                # execution otherwise: measured ~0.7 ms of planning per query.
                "options": "-c plan_cache_mode=force_generic_plan",
            },
            name="openpim-access",
        )
        self._max_in_flight = max(1, min(max_in_flight, max_size))
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[Any]]] = []
        self._sending = 0
        self._senders: set[asyncio.Task[None]] = set()  # held, so running ones are not collected

    async def open(self) -> None:
        await self._pool.open()

    async def close(self) -> None:
        if self._senders:
            await asyncio.gather(*self._senders, return_exceptions=True)
        await self._pool.close()

    async def check(
        self,
        raw_token: str,
        user_id: uuid.UUID,
        now: datetime,
        at: datetime | None,
        settings: Settings,
    ) -> onestep.Answer:
        params = onestep.parameters(raw_token, user_id, now, at)
        row = await self._ask(params)
        return onestep.judge(row, now, at, user_id, settings, onestep.roles_of_array)

    async def _ask(self, params: dict[str, Any]) -> Any:
        """The statement's row for one check (None: no such token), sent with its neighbours."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting.append((params, answer))
        if self._sending < self._max_in_flight:
            # Counted here and uncounted by the sender itself as it leaves (not by a done
            # callback, which runs a loop turn later: a check arriving in between would find
            # every place taken and wait for a sender that has already gone).
            self._sending += 1
            sender = asyncio.create_task(self._send_waiting())
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        return await answer

    async def _send_waiting(self) -> None:
        try:
            await self._send_batches()
        finally:
            self._sending -= 1

    async def _send_batches(self) -> None:
        while self._waiting:
            batch = [
                (params, answer)
                for params, answer in self._waiting[:MAX_BATCH]
                if not answer.done()  # its request went away (client disconnect)
            ]
            del self._waiting[:MAX_BATCH]
            if batch:
                await self._answer(batch)

    async def _answer(self, batch: list[tuple[dict[str, Any], asyncio.Future[Any]]]) -> None:
        try:
            rows = await self._fetch_retrying([params for params, _ in batch])
        except DataError as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            # The database refused some check's input: ask each alone, so that one check
            # fails and its neighbours get their answers.
            for one in batch:
                await self._answer([one])
            return
        except Exception as exc:
            _fail(batch, exc)
            return
        except BaseException:  # this sender cancelled (shutdown): so are its checks
            for _, answer in batch:
                answer.cancel()
            raise
        for (_, answer), row in zip(batch, rows, strict=True):
            if not answer.done():
                answer.set_result(row)

    async def _fetch_retrying(self, batch: list[dict[str, Any]]) -> list[Any]:
        try:
            return await self._fetch(batch)
        except OperationalError:
            # A pooled connection that died (a server restart, a killed backend) is dropped
            # by the pool on its return; the read is safe to ask again on a fresh one, as the
            # threaded path's pre-ping would have.
            return await self._fetch(batch)

    async def _fetch(self, batch: list[dict[str, Any]]) -> list[Any]:
        lists = {
            "token_hashes": ",".join([params["token_hash"] for params in batch]),
            "nows": ",".join([_utc_text(params["now"]) for params in batch]),
            "target_ids": ",".join([str(params["target_id"]) for params in batch]),
            "ats": ",".join([_utc_text(params["at"]) for params in batch]),
        }
        async with self._pool.connection() as conn:
            # prepare=True: planned once per connection, as the threaded path does.
            cursor = await conn.execute(BATCH_SQL, lists, prepare=True)
            rows = await cursor.fetchall()
        # One row per check, in order (token hashes are unique); no token: the columns are NULL.
        if len(rows) != len(batch):
            raise RuntimeError(f"access check batch: {len(rows)} rows for {len(batch)} checks")
        return [None if row.id is None else row for row in rows]


def _fail(batch: list[tuple[dict[str, Any], asyncio.Future[Any]]], exc: Exception) -> None:
    for _, answer in batch:
        if not answer.done():
            answer.set_exception(exc)


def _utc_text(instant: datetime) -> str:
    # In UTC: PostgreSQL refuses offsets beyond +-15:59 that Python allows.
    return (instant if instant.tzinfo is UTC else instant.astimezone(UTC)).isoformat()


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
