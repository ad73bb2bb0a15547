"""verify_chain against chains written by the real audit writer, then tampered with raw SQL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select, text

from openpim.audit.chain import HASHED_FIELDS, canonical_json, link_hash, text_token
from openpim.audit.models import AuditEvent
from openpim.audit.verify import VerifyResult, rendered_bodies, verify_chain
from openpim.audit.writer import AuditEntry, record
from tests.factories import GA, Env

EVENTS = 8
Check = Callable[[], VerifyResult]


def _write_events(env: Env, count: int = EVENTS) -> None:
    """Events with awkward values: quotes, newlines, control characters, non-ASCII, nulls."""
    directory = env.directory()
    user = env.user(directory, "alice")
    for i in range(count):
        # Non-zero microseconds on some events, whole seconds on others.
        env.clock.advance(timedelta(minutes=1, microseconds=123_457 * (i % 3)))
        with env.ctx() as ctx:
            record(
                ctx,
                AuditEntry(
                    action="assignment.activate" if i % 2 else "auth.sign_in",
                    directory_id=directory.id,
                    target_user_id=user.id,
                    target_label=user.user_principal_name,
                    role_id=GA if i % 2 else None,
                    role_label="Global Administrator" if i % 2 else None,
                    request_id=uuid.uuid4() if i % 3 == 0 else None,
                    schedule_id=uuid.uuid4(),
                    justification=f'Ticket "{i}"\nline two\t\x01 — café ✓ \\ end' if i else None,
                    ticket_number=f"INC-{i:04d}",
                    ticket_system="ServiceNow",
                    start_at=env.now,
                    end_at=env.now + timedelta(hours=1) if i % 2 else None,
                    detail={"n": i, "note": "ü\u2028"},
                ),
            )


def _sql(env: Env, *statements: str) -> None:
    with env.runtime.db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


@pytest.fixture(params=[1, 2], ids=["one-process", "two-workers"])
def workers(request: pytest.FixtureRequest) -> int:
    """Every tampering is caught alike by one scan and by ranges stitched across processes."""
    return int(request.param)


@pytest.fixture
def check(env: Env, workers: int) -> Check:
    # A small batch size makes the tests cross batch boundaries; with two workers and a few
    # events every range holds one or two events, so every link is also a range boundary.
    return lambda: verify_chain(env.runtime.db, batch_size=3, workers=workers)


def test_clean_chain_verifies(env: Env, check: Check) -> None:
    _write_events(env)
    result = check()
    assert result == VerifyResult(True, EVENTS, None, None, EVENTS)


def test_empty_chain_verifies(env: Env, check: Check) -> None:
    assert check() == VerifyResult(True, 0, None, None, 0)


def test_verify_inside_a_session_and_a_connection(env: Env) -> None:
    _write_events(env, 3)
    with env.runtime.db.reader() as session:
        assert verify_chain(session).ok
    with env.runtime.db.engine.connect() as conn:
        assert verify_chain(conn).checked == 3


def test_changed_row_fails_at_that_row(env: Env, check: Check) -> None:
    _write_events(env)
    _sql(env, "UPDATE audit_events SET justification = 'nothing to see' WHERE seq = 5")
    assert check() == VerifyResult(False, 4, 5, "hash mismatch", 4)


def test_changed_instant_fails_at_that_row(env: Env, check: Check) -> None:
    _write_events(env)
    _sql(env, "UPDATE audit_events SET end_at = NULL WHERE seq = 2")
    result = check()
    assert (result.ok, result.first_broken_seq, result.reason) == (False, 2, "hash mismatch")


def test_rehashed_row_breaks_the_next_link(env: Env, check: Check) -> None:
    """Someone who recomputes the changed row's own hash still breaks its successor's link."""
    _write_events(env)
    with env.runtime.db.unit_of_work() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.seq == 3)).scalar_one()
        event.justification = "rewritten"
        event.hash = link_hash(event.prev_hash, {f: getattr(event, f) for f in HASHED_FIELDS})
    assert check() == VerifyResult(False, 3, 4, "prev_hash mismatch", 3)


def test_deleted_row_fails_as_a_gap(env: Env, check: Check) -> None:
    _write_events(env)
    _sql(env, "DELETE FROM audit_events WHERE seq = 4")
    assert check() == VerifyResult(False, 3, 4, "sequence gap", 3)


def test_deleted_first_row_fails_as_a_gap(env: Env, check: Check) -> None:
    _write_events(env)
    _sql(env, "DELETE FROM audit_events WHERE seq = 1")
    assert check() == VerifyResult(False, 0, 1, "sequence gap", 0)


def test_swapped_rows_fail_at_the_first_of_them(env: Env, check: Check) -> None:
    _write_events(env)
    _sql(
        env,
        "UPDATE audit_events SET seq = -1 WHERE seq = 6",
        "UPDATE audit_events SET seq = 6 WHERE seq = 7",
        "UPDATE audit_events SET seq = 7 WHERE seq = -1",
    )
    assert check() == VerifyResult(False, 5, 6, "prev_hash mismatch", 5)


def test_deleted_last_row_fails_at_the_head(env: Env, check: Check) -> None:
    _write_events(env)
    _sql(env, f"DELETE FROM audit_events WHERE seq = {EVENTS}")
    assert check() == VerifyResult(False, EVENTS - 1, EVENTS, "head mismatch", EVENTS - 1)


def test_head_behind_the_events_fails(env: Env, check: Check) -> None:
    _write_events(env)
    _sql(env, "UPDATE audit_chain_head SET last_seq = 5")
    result = check()
    assert (result.ok, result.first_broken_seq, result.reason) == (False, 6, "head mismatch")


def test_head_with_a_forged_hash_fails(env: Env, check: Check) -> None:
    _write_events(env)
    _sql(env, f"UPDATE audit_chain_head SET last_hash = '{'f' * 64}'")
    result = check()
    assert (result.first_broken_seq, result.reason) == (EVENTS + 1, "head mismatch")


@pytest.mark.parametrize(
    "value",
    ["plain", 'quote " and \\ backslash', "tab\tnewline\ncr\r\x00\x1f\x7f", "café ✓ 𝄞 \u2028", ""],
)
def test_text_token_matches_json_dumps(value: str) -> None:
    assert text_token(value) == json.dumps(value, ensure_ascii=False)
    assert text_token(None) == "null"
    fields = {"justification": value, "seq": 1}
    assert f'"justification":{text_token(value)}' in canonical_json(fields)


def test_missing_runs_mid_chain_and_at_the_end(env: Env, check: Check) -> None:
    _write_events(env, 30)
    _sql(env, "DELETE FROM audit_events WHERE seq BETWEEN 10 AND 13")
    assert check() == VerifyResult(False, 9, 10, "sequence gap", 9)
    _sql(env, "DELETE FROM audit_events WHERE seq >= 10")
    assert check() == VerifyResult(False, 9, 10, "head mismatch", 9)


def test_forged_empty_link_at_any_position_fails(env: Env, check: Check) -> None:
    _write_events(env, 12)
    _sql(env, "UPDATE audit_events SET prev_hash = '' WHERE seq = 7")
    assert check() == VerifyResult(False, 6, 7, "prev_hash mismatch", 6)


# Every ASCII character but NUL (PostgreSQL text cannot hold it; the API refuses it), the
# characters JSON treats specially, and non-ASCII from two to four UTF-8 bytes.
AWKWARD_TEXT = "".join(map(chr, range(1, 128))) + "é — ✓ \u2028\u2029 \ufeff \uffff 𝄞 😀"


def test_database_renders_the_canonical_body(env: Env) -> None:
    """The body verify_chain hashes (rendered by PostgreSQL itself, or assembled from SQLite's
    stored text) is exactly canonical_json of what SQLAlchemy reads."""
    _write_events(env, 4)
    directory = env.directory()
    with env.ctx() as ctx:
        record(
            ctx,
            AuditEntry(
                action=AWKWARD_TEXT[:64],
                result=AWKWARD_TEXT[:16],
                directory_id=directory.id,
                target_label=AWKWARD_TEXT,
                role_label=AWKWARD_TEXT,
                justification=AWKWARD_TEXT * 3,
                ticket_number=AWKWARD_TEXT,
                ticket_system="",
                start_at=env.now.replace(microsecond=0),
                end_at=env.now.replace(microsecond=999_999),
                detail={"text": AWKWARD_TEXT},
            ),
        )
    with env.runtime.db.engine.connect() as conn:
        bodies = rendered_bodies(conn)
        assert len(bodies) == 5
        for seq, body in bodies.items():
            row = conn.execute(select(AuditEvent).where(AuditEvent.seq == seq)).one()
            assert body == canonical_json(dict(row._mapping))
    assert verify_chain(env.runtime.db).ok


def test_values_stored_in_other_forms_verify_on_sqlite(env: Env, is_postgres: bool) -> None:
    """Ids in upper case and instants without microseconds read as the same values, so the
    chain still verifies (through verify's slow paths). A tampered value still fails."""
    if is_postgres:
        pytest.skip("PostgreSQL stores ids and instants in native types")
    _write_events(env, 4)
    _sql(env, "UPDATE audit_events SET target_user_id = upper(target_user_id) WHERE seq = 2")
    with env.ctx() as ctx:
        record(ctx, AuditEntry(action="odd.form", start_at=env.now.replace(microsecond=0)))
    _sql(env, "UPDATE audit_events SET start_at = substr(start_at, 1, 19) WHERE seq = 5")
    for workers in (1, 2):
        assert verify_chain(env.runtime.db, batch_size=2, workers=workers).ok
    _sql(env, "UPDATE audit_events SET start_at = '2001-01-01 00:00:00' WHERE seq = 5")
    assert verify_chain(env.runtime.db).first_broken_seq == 5
