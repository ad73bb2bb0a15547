"""Audit query: filters, keyset pages newest first, "my audit", and the streaming CSV export."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timedelta

import pytest

from openpim.audit import query
from openpim.audit.query import AuditFilter
from openpim.audit.writer import AuditEntry, record
from openpim.kit.errors import Forbidden, ValidationFailed
from tests.factories import PASSWORD_ADMIN, SECURITY_READER, Env


def write(env: Env, *entries: AuditEntry, actor: object = None) -> None:
    with env.ctx(actor) as ctx:  # type: ignore[arg-type]
        for entry in entries:
            record(ctx, entry)


def at(env: Env, minutes: int) -> datetime:
    return env.now + timedelta(minutes=minutes)


@pytest.fixture
def history(env: Env) -> dict[str, object]:
    """30 events in one directory, 5 in another; occurred_at out of seq order on purpose."""
    directory, admin = env.pim_directory()
    other_dir = env.directory("Fabrikam")
    alice = env.user(directory, "alice")
    bob = env.user(directory, "bob")
    entries = []
    for i in range(30):
        target = alice if i % 2 == 0 else bob
        entries.append(
            AuditEntry(
                action="activation.activated" if i % 3 else "assignment.created",
                directory_id=directory.id,
                target_user_id=target.id,
                target_label=target.user_principal_name,
                role_id=PASSWORD_ADMIN if i % 5 == 0 else SECURITY_READER,
                # Every tenth event is recorded late, with an earlier occurred_at (worker style).
                occurred_at=at(env, i if i % 10 else i - 7),
                justification='=HYPERLINK("http://evil")' if i == 4 else f"reason {i}",
            )
        )
    write(env, *entries)
    write(
        env,
        *[AuditEntry(action="activation.activated", directory_id=other_dir.id) for _ in range(5)],
    )
    write(env, AuditEntry(action="user.created", directory_id=directory.id), actor=env.actor(alice))
    return {"directory": directory, "admin": admin, "alice": alice, "bob": bob}


def all_pages(
    env: Env, reader: object, directory_id: uuid.UUID, flt: AuditFilter, limit: int
) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        with env.runtime.read(env.actor(reader)) as ctx:  # type: ignore[arg-type]
            page = query.search_events(ctx, directory_id, flt, cursor=cursor, limit=limit)
            pages.append([e.seq for e in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_pages_walk_every_event_newest_first_without_repeats(env: Env, history: dict) -> None:
    directory, admin = history["directory"], history["admin"]
    pages = all_pages(env, admin, directory.id, AuditFilter(), limit=7)
    seqs = [s for page in pages for s in page]
    assert len(seqs) == len(set(seqs)) == 31  # 30 + alice's own event; none of Fabrikam's
    assert all(len(p) == 7 for p in pages[:-1])
    with env.runtime.read(env.actor(admin)) as ctx:
        full = query.search_events(ctx, directory.id, limit=500).items
        keys = [(e.occurred_at, e.seq) for e in full]
    assert keys == sorted(keys, reverse=True)
    assert seqs == [seq for _, seq in keys]


def test_filters_combine(env: Env, history: dict) -> None:
    directory, admin, alice = history["directory"], history["admin"], history["alice"]
    flt = AuditFilter(
        since=at(env, 5),
        until=at(env, 20),
        target_user_id=alice.id,
        role_id=SECURITY_READER,
        actions=("activation.activated",),
    )
    with env.runtime.read(env.actor(admin)) as ctx:
        items = query.search_events(ctx, directory.id, flt).items
        assert items
        for e in items:
            assert at(env, 5) <= e.occurred_at < at(env, 20)
            assert e.target_user_id == alice.id and e.role_id == SECURITY_READER
            assert e.action == "activation.activated"
    by_actor = AuditFilter(actor_id=alice.id)
    with env.runtime.read(env.actor(admin)) as ctx:
        assert [e.action for e in query.search_events(ctx, directory.id, by_actor).items] == [
            "user.created"
        ]


def test_only_readers_search_and_users_see_their_own(env: Env, history: dict) -> None:
    directory, alice, bob = history["directory"], history["alice"], history["bob"]
    with env.runtime.read(env.actor(alice)) as ctx, pytest.raises(Forbidden):
        query.search_events(ctx, directory.id)
    with env.runtime.read(env.actor(alice)) as ctx:
        mine = query.my_events(ctx, limit=500).items
        assert mine and all(alice.id in (e.target_user_id, e.actor_id) for e in mine)
        assert bob.id not in {e.target_user_id for e in mine}


def test_bad_cursors_limits_and_ranges_are_validation_errors(env: Env, history: dict) -> None:
    directory, admin = history["directory"], history["admin"]
    naive = datetime(2026, 1, 5, 9, 0)
    cases = [
        {"cursor": "not-base64!"},
        {"cursor": query.encode_cursor(env.now, 1)[:-3]},
        {"cursor": "x" * 500},
        {"limit": 0},
        {"limit": 501},
        {"flt": AuditFilter(since=naive)},
        {"flt": AuditFilter(since=at(env, 5), until=at(env, 5))},
        {"flt": AuditFilter(actions=("x" * 65,))},
    ]
    for case in cases:
        with env.runtime.read(env.actor(admin)) as ctx, pytest.raises(ValidationFailed):
            query.search_events(
                ctx,
                directory.id,
                case.get("flt"),  # type: ignore[arg-type]
                cursor=case.get("cursor"),  # type: ignore[arg-type]
                limit=case.get("limit", 10),  # type: ignore[arg-type]
            )


def test_cursor_round_trip() -> None:
    from datetime import UTC

    instant = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
    assert query.decode_cursor(query.encode_cursor(instant, 42)) == (instant, 42)


def test_csv_export_streams_in_batches_and_defuses_formulas(env: Env, history: dict) -> None:
    directory, admin = history["directory"], history["admin"]
    with env.runtime.read(env.actor(admin)) as ctx:
        statement = query.export_statement(ctx, directory.id, AuditFilter())
    chunks = query.stream_csv(env.runtime.db.engine, statement, batch_size=10)
    header = next(chunks)
    assert header.strip().split(",") == list(query.CSV_COLUMNS)
    first_batch = next(chunks)
    assert first_batch.count("\r\n") == 10  # one batch read, not the whole table
    rest = "".join(chunks)
    rows = list(csv.DictReader(io.StringIO(header + first_batch + rest)))
    assert len(rows) == 31
    evil = next(r for r in rows if "HYPERLINK" in r["justification"])
    assert evil["justification"].startswith("'=")
    assert rows[0]["occurred_at"].endswith("Z")


def test_export_is_authorised_before_streaming(env: Env, history: dict) -> None:
    directory, alice = history["directory"], history["alice"]
    with env.runtime.read(env.actor(alice)) as ctx, pytest.raises(Forbidden):
        query.export_statement(ctx, directory.id)
    with env.runtime.read(env.actor(alice)) as ctx:
        mine = query.export_statement(ctx, None)
    text = "".join(query.stream_csv(env.runtime.db.engine, mine))
    assert alice.user_principal_name in text and history["bob"].user_principal_name not in text


def test_result_filter_ignores_case(env: Env, history: dict) -> None:
    directory, admin = history["directory"], history["admin"]
    write(env, AuditEntry(action="auth.mfa_failed", result="failure", directory_id=directory.id))
    for spelling in ("failure", "Failure", " FAILURE "):
        with env.runtime.read(env.actor(admin)) as ctx:
            items = query.search_events(ctx, directory.id, AuditFilter(result=spelling)).items
            assert [e.action for e in items] == ["auth.mfa_failed"]
