"""Verification of the audit hash chain, streaming, at database speed.

A chain is intact when, in seq order: the sequence numbers run 1, 2, 3 ... without a gap; each
event's prev_hash is its predecessor's hash (the genesis hash for seq 1); each stored hash equals
the hash recomputed from the event's fields; and the chain head row names the last event. A
changed row breaks its own hash, a deleted row leaves a gap, swapped rows break the links, and a
deleted tail no longer matches the head.

Speed matters (millions of events), so no ORM objects are built and `chain.canonical_json` is
not called per row. On PostgreSQL the database renders each event's canonical JSON body in the
scan itself (`body_sql`, string functions in C; half the client CPU of rendering in Python) and
this process only hashes it with the stored prev_hash and checks the links. On SQLite, whose
string functions cost more per row than Python's, the scan reads the plain text columns and
Python assembles the body from a fixed template in sorted key order. Both renderings are
byte-identical to `chain.canonical_json` (tests compare them on awkward values), so a chain
written by `audit.writer` verifies here, and one verified here verifies there.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import operator
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from json.encoder import encode_basestring
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from openpim.audit.chain import BODY_TEMPLATE, GENESIS_HASH, SORTED_FIELDS
from openpim.db.session import Database, make_engine

CHAIN_HEAD_ID = 1  # the writer's head row (openpim.audit.writer.CHAIN_HEAD_ID)

UUID_FIELDS = frozenset(
    {"directory_id", "actor_id", "target_user_id", "role_id", "request_id", "schedule_id"}
)
INSTANT_FIELDS = frozenset({"occurred_at", "start_at", "end_at"})
# Every scan row starts with seq, prev_hash, hash; what renders the body follows from here.
_OFFSET = 3


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int  # events whose link and hash were confirmed before the first break
    first_broken_seq: int | None
    # "hash mismatch", "sequence gap", "prev_hash mismatch", "head mismatch"; with anchors
    # (audit/anchors.py) also "anchor mismatch", "anchor beyond the chain"
    reason: str | None
    last_seq: int = 0
    # The verified head's hash: with last_seq, the anchor to record (None when broken).
    head_hash: str | None = field(default=None, compare=False)


# --- PostgreSQL: the canonical body rendered by the database ---------------------------------
# Each value is its JSON token: text through to_json (it escapes exactly the characters
# json.dumps(ensure_ascii=False) does, the same way), ids in their canonical dashed form,
# instants as 'YYYY-MM-DDTHH:MM:SS.ffffffZ' in UTC; NULL as null.


def _postgresql_token(name: str) -> str:
    if name == "seq":
        return "seq::text"
    if name in UUID_FIELDS:
        return f"coalesce('\"'||{name}::text||'\"', 'null')"
    if name in INSTANT_FIELDS:
        utc = f"to_char({name} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
        return f"coalesce('\"'||{utc}||'Z\"', 'null')"
    return f"coalesce(to_json({name})::text, 'null')"


def body_sql() -> str:
    """A PostgreSQL expression over one audit_events row: chain.canonical_json of that row."""
    pieces = []
    for i, name in enumerate(SORTED_FIELDS):
        key = ("{" if i == 0 else ",") + f'"{name}":'
        pieces.append(f"'{key}'||{_postgresql_token(name)}")
    return "||".join(pieces) + "||'}'"


# --- SQLite: the canonical body assembled in Python -----------------------------------------
# The scan selects seq, prev_hash, hash, then the hashed fields in SORTED_FIELDS order, as
# stored: ids as 32 hex digits, instants as naive UTC 'YYYY-MM-DD HH:MM:SS.ffffff'.


def _instant_token(text: str) -> str:
    """Slow path for an instant not in the six-digit form (SQLAlchemy reads those too)."""
    parsed = datetime.fromisoformat(text)
    return '"' + parsed.strftime("%Y-%m-%dT%H:%M:%S.%fZ") + '"'


class _UuidTokens:
    """32 hex digits -> '"8-4-4-4-12"'. Cached: the same users and roles recur all the time."""

    def __init__(self, limit: int = 500_000) -> None:
        self.cache: dict[str, str] = {}
        self.limit = limit

    def make(self, h: str) -> str:
        if len(h) != 32:
            token = '"' + str(uuid.UUID(h)) + '"'
        else:
            token = f'"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"'.lower()
        if len(self.cache) < self.limit:
            self.cache[h] = token
        return token


def _sqlite_body_function() -> Callable[[Sequence[Any]], str]:
    """Build `row -> canonical JSON body` for a selected SQLite row, as one flat expression.

    The expression is generated from SORTED_FIELDS (a constant) so it follows HASHED_FIELDS
    if that list ever changes; written out it is 21 near-identical lines. One expression
    instead of a loop is what keeps verification well above 100,000 events per second.
    """
    parts = []
    for i, name in enumerate(SORTED_FIELDS):
        col = f"r[{_OFFSET + i}]"
        if name == "seq":
            parts.append(col)  # an int: '%s' renders it as json.dumps does
        elif name in UUID_FIELDS:
            parts.append(f"('null' if {col} is None else (CACHED({col}) or MAKE({col})))")
        elif name in INSTANT_FIELDS:
            parts.append(
                f"""('null' if {col} is None else '"' + {col}[:10] + 'T' + {col}[11:] + 'Z"' """
                f"if len({col}) == 26 else INSTANT({col}))"
            )
        else:
            parts.append(f"('null' if {col} is None else ENCODE({col}))")
    source = "def body(r):\n    return TEMPLATE % (" + ", ".join(parts) + ")\n"
    tokens = _UuidTokens()
    namespace: dict[str, Any] = {
        "TEMPLATE": BODY_TEMPLATE,
        "ENCODE": encode_basestring,
        "INSTANT": _instant_token,
        "CACHED": tokens.cache.get,
        "MAKE": tokens.make,
    }
    exec(source, namespace)  # noqa: S102 - source built only from the constant field list
    body: Callable[[Sequence[Any]], str] = namespace["body"]
    return body


def _select_sql(dialect: str, lo: int, hi: int | None) -> str:
    values = body_sql() if dialect == "postgresql" else ", ".join(SORTED_FIELDS)
    where = f"seq >= {int(lo)}" + ("" if hi is None else f" AND seq <= {int(hi)}")
    return (
        f"SELECT seq, prev_hash, hash, {values} FROM audit_events "  # noqa: S608
        f"WHERE {where} ORDER BY seq"
    )


def _renderer(dialect: str) -> Callable[[Sequence[Any]], str]:
    """`selected row -> canonical body` for the rows of _select_sql."""
    if dialect == "postgresql":
        return operator.itemgetter(_OFFSET)
    if dialect == "sqlite":
        return _sqlite_body_function()
    raise NotImplementedError(f"audit verification does not support {dialect}")


def rendered_bodies(conn: Connection) -> dict[int, str]:
    """seq -> the body verification hashes for that event (for tests against canonical_json)."""
    render = _renderer(conn.dialect.name)
    rows = conn.exec_driver_sql(_select_sql(conn.dialect.name, 1, None)).all()
    return {row[0]: render(row) for row in rows}


def _stream(conn: Connection, sql: str, batch_size: int) -> Iterator[Sequence[Sequence[Any]]]:
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    if conn.dialect.name == "postgresql":
        # A server-side cursor keeps memory flat over millions of rows.
        cursor: Any = dbapi.cursor(name="openpim_audit_verify")
        cursor.itersize = batch_size
    else:
        cursor = dbapi.cursor()
    try:
        cursor.execute(sql)
        while True:
            rows = cursor.fetchmany(batch_size)
            if not rows:
                return
            yield rows
    finally:
        cursor.close()


@dataclass
class _Segment:
    """What a scan of seq lo..hi found. Its first row's link is checked by the caller."""

    lo: int
    hi: int | None
    present: bool = False
    first_prev: str | None = None
    last_seq: int = 0
    last_hash: str | None = None
    checked: int = 0
    broken_seq: int | None = None
    reason: str | None = None


def _scan(conn: Connection, lo: int, hi: int | None, batch_size: int) -> _Segment:
    dialect = conn.dialect.name
    render = _renderer(dialect)
    seg = _Segment(lo, hi, last_seq=lo - 1)
    expected_seq, checked = lo, 0
    prev: str | None = None  # None until the segment's first row
    sha256 = hashlib.sha256
    for rows in _stream(conn, _select_sql(dialect, lo, hi), batch_size):
        for row in rows:
            seq = row[0]
            if seq != expected_seq:
                seg.broken_seq, seg.reason = expected_seq, "sequence gap"
                break
            link = row[1]
            if link != prev:
                if prev is not None:
                    seg.broken_seq, seg.reason = seq, "prev_hash mismatch"
                    break
                seg.first_prev = link  # checked against the previous segment by _combine
            prev = sha256((link + render(row)).encode("utf-8")).hexdigest()
            if prev != row[2]:
                seg.broken_seq, seg.reason = seq, "hash mismatch"
                break
            expected_seq += 1
            checked += 1
        else:
            continue
        break
    seg.present = seg.first_prev is not None or seg.broken_seq is not None
    seg.last_seq, seg.checked = expected_seq - 1, checked
    seg.last_hash = prev if seg.broken_seq is None else None
    return seg


def _combine(segments: Sequence[_Segment], head: tuple[int, str]) -> VerifyResult:
    """The first break in seq order across consecutive segments, then the head check.

    Gives exactly what one scan of the whole chain would: a link is checked before the hash
    of the same row, and rows missing up to the end count as a deleted tail (head mismatch)
    while rows missing before a present row count as a gap.
    """
    checked, prev = 0, GENESIS_HASH
    for i, seg in enumerate(segments):
        if seg.first_prev is not None and seg.first_prev != prev:
            return VerifyResult(False, checked, seg.lo, "prev_hash mismatch", checked)
        if seg.broken_seq is not None:
            total = checked + seg.checked
            return VerifyResult(False, total, seg.broken_seq, seg.reason, total)
        checked += seg.checked
        prev = seg.last_hash or prev
        short = seg.hi is not None and seg.last_seq < seg.hi
        if short and i + 1 < len(segments) and any(s.present for s in segments[i + 1 :]):
            return VerifyResult(False, checked, seg.last_seq + 1, "sequence gap", checked)
        if short:
            break
    last_seq = checked
    head_seq, head_hash = head
    if head_seq != last_seq or head_hash != prev:
        # A deleted tail: the first missing event is the one after the last one present.
        broken = min(head_seq, last_seq) + 1
        return VerifyResult(False, checked, broken, "head mismatch", last_seq)
    return VerifyResult(True, checked, None, None, last_seq, head_hash=head_hash)


def read_head(conn: Connection) -> tuple[int, str]:
    head = conn.exec_driver_sql(
        f"SELECT last_seq, last_hash FROM audit_chain_head WHERE id = {CHAIN_HEAD_ID}"  # noqa: S608
    ).first()
    return (0, GENESIS_HASH) if head is None else (int(head[0]), str(head[1]))


def _verify_on(conn: Connection, batch_size: int) -> VerifyResult:
    # Reading the head first opens the transaction whose snapshot the event scan then shares.
    head = read_head(conn)
    return _combine([_scan(conn, 1, None, batch_size)], head)


_worker_engines: dict[str, Engine] = {}


def _scan_range(url: str, lo: int, hi: int, batch_size: int) -> _Segment:
    """Runs in a worker process: one engine per process, one read transaction per range."""
    engine = _worker_engines.get(url)
    if engine is None:
        engine = _worker_engines[url] = make_engine(url, pool_size=1)
    with engine.connect() as conn:
        try:
            return _scan(conn, lo, hi, batch_size)
        finally:
            conn.rollback()


# Below this many events one process is quicker than starting workers.
PARALLEL_FROM_EVENTS = 1_000_000


def auto_workers(db: Database | Engine) -> int:
    """Worker processes for verifying this chain: one per CPU for a long chain, else one."""
    engine = db.engine if isinstance(db, Database) else db
    with engine.connect() as conn:
        last_seq, _ = read_head(conn)
        conn.rollback()
    return max(1, os.cpu_count() or 1) if last_seq >= PARALLEL_FROM_EVENTS else 1


def _verify_parallel(engine: Engine, workers: int, batch_size: int) -> VerifyResult:
    """Ranges of seq verified in worker processes, stitched by their boundary links.

    Each row is checked against its own stored prev_hash, and each range's first prev_hash
    against the previous range's last hash, which together equal one pass down the chain.
    The events checked are those up to the head read at the start: the log is append-only, so
    workers in separate snapshots agree on them, and later appends wait for the next run.
    """
    with engine.connect() as conn:
        head = read_head(conn)
        conn.rollback()
    total = head[0]
    chunks = max(1, min(total, workers * 4))  # more ranges than workers evens out the load
    step = -(-total // chunks) if total else 1
    bounds = [(lo, min(lo + step - 1, total)) for lo in range(1, total + 1, step)] or [(1, 0)]
    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")  # no inherited database connections
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        segments = list(
            pool.map(
                _scan_range,
                [url] * len(bounds),
                [lo for lo, _ in bounds],
                [hi for _, hi in bounds],
                [batch_size] * len(bounds),
            )
        )
    return _combine(segments, head)


def verify_chain(
    db_or_connection: Database | Engine | Connection | Session,
    *,
    batch_size: int = 10_000,
    workers: int = 1,
) -> VerifyResult:
    """Check the whole audit chain; stops at, and names, the first broken sequence number.

    Given a Database or Engine it reads in its own snapshot (REPEATABLE READ on PostgreSQL, a
    read transaction on SQLite) so concurrent writers cannot make the head and the events
    disagree. Given a Connection or Session it reads inside the caller's transaction.
    workers > 1 (Database or Engine only) splits the chain over that many processes.
    """
    if isinstance(db_or_connection, Session):
        return _verify_on(db_or_connection.connection(), batch_size)
    if isinstance(db_or_connection, Connection):
        return _verify_on(db_or_connection, batch_size)
    engine = db_or_connection.engine if isinstance(db_or_connection, Database) else db_or_connection
    if workers > 1:
        return _verify_parallel(engine, workers, batch_size)
    options: dict[str, Any] = {}
    if engine.dialect.name == "postgresql":
        options["isolation_level"] = "REPEATABLE READ"
    with engine.connect().execution_options(**options) as conn:
        try:
            return _verify_on(conn, batch_size)
        finally:
            conn.rollback()
