from __future__ import annotations

from datetime import timedelta

from openpim.access.service import active_role_ids, is_active
from openpim.audit.writer import AuditEntry, record
from tests.factories import GA, PRA, Env


def test_access_check_is_a_read_time_predicate(env: Env) -> None:
    directory = env.directory()
    alice = env.user(directory, "alice")
    env.permanent(alice, GA, end=env.now + timedelta(hours=1))
    env.permanent(alice, PRA, start=env.now + timedelta(minutes=10))
    with env.runtime.db.reader() as s:
        assert active_role_ids(s, alice.id, env.now) == {GA}
        assert active_role_ids(s, alice.id, env.now + timedelta(minutes=10)) == {GA, PRA}
        assert active_role_ids(s, alice.id, env.now + timedelta(hours=1)) == {PRA}
        assert is_active(s, alice.id, PRA, env.now + timedelta(days=9))
        assert not is_active(s, alice.id, PRA, env.now)


def test_audit_events_chain(env: Env) -> None:
    with env.ctx() as ctx:
        first = record(ctx, AuditEntry(action="test.one"))
        second = record(ctx, AuditEntry(action="test.two"))
    assert second.seq == first.seq + 1
    assert second.prev_hash == first.hash


def test_a_missing_secret_key_is_generated_once_and_shared(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from openpim.config import Settings, with_secret_key

    path = tmp_path / "secret"
    first = with_secret_key(Settings(secret_key="", secret_key_file=str(path)))  # type: ignore[arg-type]
    second = with_secret_key(Settings(secret_key="", secret_key_file=str(path)))  # type: ignore[arg-type]
    key = first.secret_key.get_secret_value()
    assert len(key) >= 48 and key == second.secret_key.get_secret_value()
    assert path.stat().st_mode & 0o077 == 0
    configured = with_secret_key(Settings(secret_key="set", secret_key_file=str(path)))  # type: ignore[arg-type]
    assert configured.secret_key.get_secret_value() == "set"
