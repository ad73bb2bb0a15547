"""The benchmark seed on a small scale: counts, a valid chain, consistent schedules, sign-in."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, inspect, select, text

from openpim.access.service import active_role_ids
from openpim.alerts.detectors import outside_pim
from openpim.assignments.models import (
    Assignment,
    AssignmentType,
    Eligibility,
    RequestAction,
    RequestStatus,
    RoleRequest,
)
from openpim.audit.models import AuditChainHead, AuditEvent
from openpim.audit.verify import verify_chain
from openpim.db.session import Database
from openpim.devtools.seed import main, seed_benchmark_dataset
from openpim.directory.models import Directory, User
from openpim.kit.context import Actor
from openpim.roles import ids
from tests.factories import Env

USERS, SCHEDULES, EVENTS = 80, 600, 2_500


def _seed(env: Env, url: str, **kwargs: Any) -> dict[str, Any]:
    return seed_benchmark_dataset(
        url, users=USERS, schedules=SCHEDULES, audit_events=EVENTS, now=env.now, **kwargs
    )


def _count(db: Database, model: Any) -> int:
    with db.reader() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_seed_fills_the_requested_volumes(env: Env, backend_url: str, tmp_path: Path) -> None:
    messages: list[str] = []
    summary = _seed(env, backend_url, directories=2, progress=messages.append,
                    summary_path=tmp_path / "s.json")  # fmt: skip
    db = env.runtime.db
    assert json.loads((tmp_path / "s.json").read_text()) == summary
    assert messages and any("audit" in m for m in messages)
    assert _count(db, User) == USERS == summary["counts"]["users"]
    assert _count(db, Directory) == 2
    assert _count(db, Eligibility) + _count(db, Assignment) == SCHEDULES
    assert summary["counts"]["schedules"] == SCHEDULES
    assert _count(db, AuditEvent) == EVENTS == summary["counts"]["audit_events"]
    with db.reader() as s:
        head = s.get(AuditChainHead, 1)
        assert head is not None and head.last_seq == EVENTS
        assert summary["audit_head"] == {"last_seq": EVENTS, "last_hash": head.last_hash}
        kinds = set(s.scalars(select(Assignment.assignment_type).distinct()))
        assert kinds == {AssignmentType.ASSIGNED, AssignmentType.ACTIVATED}


def test_seeded_chain_verifies(env: Env, backend_url: str) -> None:
    _seed(env, backend_url)
    result = verify_chain(env.runtime.db)
    assert (result.ok, result.checked) == (True, EVENTS)


def test_seed_appends_to_an_existing_chain(env: Env, backend_url: str) -> None:
    from openpim.audit.writer import AuditEntry, record

    with env.ctx() as ctx:
        record(ctx, AuditEntry(action="setup.init"))
    _seed(env, backend_url)
    assert verify_chain(env.runtime.db).checked == EVENTS + 1


def test_schedules_are_consistent(env: Env, backend_url: str) -> None:
    _seed(env, backend_url)
    with env.runtime.db.reader() as s:
        # An activation never starts before or outlives its eligibility, and is its member's.
        bad = s.scalar(
            select(func.count())
            .select_from(Assignment)
            .join(Eligibility, Eligibility.id == Assignment.eligibility_id)
            .where(
                (Assignment.start_at < Eligibility.start_at)
                | ((Eligibility.end_at.is_not(None)) & (Assignment.end_at > Eligibility.end_at))
                | (Assignment.principal_id != Eligibility.principal_id)
                | (Assignment.role_id != Eligibility.role_id)
            )
        )
        assert bad == 0
        ended = s.scalars(select(Assignment).where(Assignment.end_at <= env.now)).all()
        assert ended and all(a.end_recorded_at is not None for a in ended)
        running = s.scalars(select(Assignment).where(Assignment.end_at > env.now)).all()
        assert all(a.end_recorded_at is None for a in running)
        assert all(a.start_at.tzinfo is not None for a in running)
    if env.runtime.db.dialect == "sqlite":
        with env.runtime.db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []


def test_indexes_are_rebuilt(env: Env, backend_url: str) -> None:
    _seed(env, backend_url)
    names = {i["name"] for i in inspect(env.runtime.db.engine).get_indexes("audit_events")}
    assert {"ix_audit_events_target_time", "ix_audit_events_action_time"} <= names
    names = {i["name"] for i in inspect(env.runtime.db.engine).get_indexes("assignments")}
    assert "ix_assignments_principal" in names


def test_admins_can_sign_in_and_hold_their_roles(env: Env, backend_url: str) -> None:
    summary = _seed(env, backend_url)
    admin = summary["admins"][0]
    assert len(summary["admins"]) == 5
    with env.runtime.db.reader() as s:
        user = s.get(User, uuid.UUID(admin["id"]))
        assert user is not None and user.password_hash is not None
        assert PasswordHasher().verify(user.password_hash, admin["password"])
        assert user.totp_secret == admin["totp_secret"]
        pyotp.TOTP(admin["totp_secret"]).now()  # a valid base32 secret
        held = active_role_ids(s, user.id, env.now)
        assert held == {ids.GLOBAL_ADMINISTRATOR, ids.PRIVILEGED_ROLE_ADMINISTRATOR,
                        ids.SECURITY_ADMINISTRATOR}  # fmt: skip
        directory = s.get(Directory, uuid.UUID(admin["directory_id"]))
        assert directory is not None and directory.pim_enabled_by_id == user.id
        # Ordinary members have no password at all.
        members = s.scalars(select(User).where(User.password_hash.is_(None))).all()
        assert len(members) == USERS - 5


def test_seed_refuses_a_populated_database_unless_reset(env: Env, backend_url: str) -> None:
    _seed(env, backend_url)
    with pytest.raises(SystemExit, match="already holds users"):
        _seed(env, backend_url)
    _seed(env, backend_url, reset=True)
    assert _count(env.runtime.db, User) == USERS


def test_same_seed_same_data(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    first, second = (
        seed_benchmark_dataset(
            f"sqlite:///{tmp_path / name}", users=30, schedules=100, audit_events=300, now=now
        )
        for name in ("a.db", "b.db")
    )
    first.pop("database"), second.pop("database")
    first.pop("timings_seconds"), second.pop("timings_seconds")
    assert first == second


def test_command_line_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "summary.json"
    code = main(["--database-url", f"sqlite:///{tmp_path / 'c.db'}", "--users", "20",
                 "--schedules", "60", "--audit-events", "100", "--summary", str(out)])  # fmt: skip
    assert code == 0
    assert json.loads(out.read_text())["counts"]["audit_events"] == 100
    assert "admin1@bench1.example" in capsys.readouterr().err


def test_every_schedule_pim_made_has_its_request(env: Env, backend_url: str) -> None:
    _seed(env, backend_url)
    with env.runtime.db.reader() as s:
        # Each request names its schedule, for the same member and role, as the services do.
        for model in (Eligibility, Assignment):
            made = s.execute(
                select(
                    model.created_via, model.request_id, RoleRequest.id, RoleRequest.action
                ).outerjoin(
                    RoleRequest,
                    (RoleRequest.id == model.request_id)
                    & (RoleRequest.result_schedule_id == model.id)
                    & (RoleRequest.principal_id == model.principal_id)
                    & (RoleRequest.role_id == model.role_id)
                    & (RoleRequest.status == RequestStatus.PROVISIONED),
                )
            ).all()
            assert made
            for via, request_id, found, _action in made:
                if via == "pim":
                    assert request_id is not None and found == request_id
                else:
                    assert request_id is None
        activations = s.execute(
            select(Assignment.eligibility_id, RoleRequest.action, RoleRequest.eligibility_id)
            .join(RoleRequest, RoleRequest.id == Assignment.request_id)
            .where(Assignment.assignment_type == AssignmentType.ACTIVATED)
        ).all()
        assert activations
        assert {a for _, a, _ in activations} == {RequestAction.SELF_ACTIVATE}
        assert all(e == r for e, _, r in activations)
        # An activation ended early names the member's selfDeactivate request.
        early = s.execute(
            select(Assignment.ended_by_request_id, RoleRequest.action, RoleRequest.status)
            .outerjoin(
                RoleRequest,
                (RoleRequest.id == Assignment.ended_by_request_id)
                & (RoleRequest.target_schedule_id == Assignment.id),
            )
            .where(Assignment.ended_reason == "deactivated")
        ).all()
        assert early
        assert set(early) == {
            (r, RequestAction.SELF_DEACTIVATE, RequestStatus.REVOKED) for r, _, _ in early
        }
        imported = s.scalars(select(Assignment.id).where(Assignment.created_via == "import")).all()
    if env.runtime.db.dialect == "sqlite":
        with env.runtime.db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
    else:  # the foreign keys dropped for the load are back
        names = {
            (fk["constrained_columns"][0], fk["referred_table"])
            for fk in inspect(env.runtime.db.engine).get_foreign_keys("assignments")
        }
        assert {("request_id", "role_requests"), ("ended_by_request_id", "role_requests")} <= names
    # Only the imported rows are "assigned outside PIM".
    with env.runtime.read(Actor.operator("test")) as ctx:
        directory_id = ctx.session.scalars(select(Directory.id)).one()
        flagged = {f.schedule_id for f in outside_pim(ctx, directory_id, {})}
        live = set(
            ctx.session.scalars(
                select(Assignment.id).where(
                    Assignment.id.in_(imported),
                    Assignment.start_at <= env.now,
                    (Assignment.end_at.is_(None)) | (Assignment.end_at > env.now),
                )
            )
        )
    assert flagged == live
