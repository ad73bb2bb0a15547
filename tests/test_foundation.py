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
