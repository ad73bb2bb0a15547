"""History reports built from real service calls, and their exports checked row by row against
the audit history."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from openpim.assignments import service as assignments
from openpim.assignments.models import MemberType
from openpim.audit.models import AuditEvent
from openpim.directory.models import Directory, User
from openpim.kit.errors import Forbidden, ValidationFailed
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from openpim.reports import service as reports
from openpim.reports.history import CHANGE_ACTIONS, ReportFilter
from openpim.worker import Worker
from tests.alerts.helpers import grant, pim_setup
from tests.factories import PASSWORD_ADMIN, USER_ADMIN, Env

HOUR = timedelta(hours=1)


def _history(env: Env) -> tuple[Directory, User, User, User]:
    """Three activations (deactivated, expired, approved) and a round of membership changes."""
    directory, admin = pim_setup(env)
    approver = env.user(directory, "approver")
    ann = env.user(directory, "ann")
    bob = env.user(directory, "bob")
    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN, RoleSettingsUpdate(require_mfa_on_activation=False)
        )
    grant(env, ann, PASSWORD_ADMIN)
    env.clock.advance(HOUR)
    with env.ctx(ann) as ctx:
        assignments.self_activate(
            ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN, duration=2 * HOUR,
            justification="incident 1", ticket_number="INC-1", ticket_system="snow",
        )  # fmt: skip
    env.clock.advance(timedelta(minutes=20))
    with env.ctx(ann) as ctx:
        assignments.self_deactivate(ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN)
    env.clock.advance(HOUR)
    with env.ctx(ann) as ctx:
        assignments.self_activate(
            ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN, duration=HOUR,
            justification="incident 2",
        )  # fmt: skip
    env.clock.advance(2 * HOUR)
    Worker(env.runtime).run_once()  # records the expiry
    with env.ctx() as ctx:
        update_role_settings(
            ctx, directory.id, PASSWORD_ADMIN,
            RoleSettingsUpdate(require_approval_on_activation=True, approver_ids=[approver.id]),
        )  # fmt: skip
    with env.ctx(ann) as ctx:
        pending = assignments.self_activate(
            ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN, duration=HOUR,
            justification="incident 3",
        )  # fmt: skip
    env.clock.advance(timedelta(minutes=3))
    with env.ctx(approver) as ctx:
        assignments.approve(ctx, pending.id, "ok")
    # Membership changes for bob: added, extended, made permanent, removed.
    env.clock.advance(HOUR)
    grant(env, bob, USER_ADMIN, end=env.now + timedelta(days=10))
    with env.ctx() as ctx:
        assignments.admin_extend(
            ctx, directory_id=directory.id, principal_id=bob.id, role_id=USER_ADMIN,
            member_type=MemberType.ELIGIBLE, end_at=env.now + timedelta(days=40),
        )  # fmt: skip
        assignments.make_permanent(
            ctx, directory_id=directory.id, principal_id=bob.id, role_id=USER_ADMIN
        )
    env.clock.advance(HOUR)
    with env.ctx() as ctx:
        assignments.admin_remove(
            ctx, directory_id=directory.id, principal_id=bob.id, role_id=USER_ADMIN,
            member_type=MemberType.ACTIVE, justification="project over",
        )  # fmt: skip
    return directory, admin, ann, bob


def _events(env: Env, *actions: str) -> list[AuditEvent]:
    with env.runtime.db.reader() as s:
        rows = list(
            s.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.in_(actions))
                .order_by(AuditEvent.occurred_at.desc(), AuditEvent.seq.desc())
            )
        )
        s.expunge_all()
    return rows


def _csv(chunks: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO("".join(chunks))))


def _iso(value: Any) -> str:
    return "" if value is None else value.isoformat().replace("+00:00", "Z")


def test_activation_history_export_matches_the_audit_row_by_row(env: Env) -> None:
    directory, _, ann, _bob = _history(env)
    with env.ctx() as ctx:
        rows = _csv(
            reports.activation_export(ctx, env.runtime.db.engine, directory.id, ReportFilter())
        )
    assert len(rows) == 3
    started = {e.schedule_id: e for e in _events(env, "activation.activated")}
    ended = {e.schedule_id: e for e in _events(env, "activation.deactivated", "activation.expired")}
    approvals = {e.request_id: e for e in _events(env, "request.approved")}
    for row in rows:
        start = started[uuid.UUID(row["activation_id"])]
        assert row["user"] == start.target_label == ann.user_principal_name
        assert row["role"] == start.role_label == "Password Administrator"
        assert row["start_at"] == _iso(start.start_at)
        assert row["justification"] == start.justification
        assert row["request_id"] == str(start.request_id)
    newest, middle, oldest = rows
    assert (oldest["ended_by"], oldest["ticket_number"], oldest["ticket_system"]) == (
        "deactivated", "INC-1", "snow",
    )  # fmt: skip
    assert oldest["requested_seconds"] == "7200" and oldest["actual_seconds"] == "1200"
    end = ended[uuid.UUID(oldest["activation_id"])]
    assert end.action == "activation.deactivated" and oldest["end_at"] == _iso(end.end_at)
    assert middle["ended_by"] == "expired" and middle["actual_seconds"] == "3600"
    assert ended[uuid.UUID(middle["activation_id"])].action == "activation.expired"
    # Ended on time while no worker ran: still reported as ended by expiry.
    assert newest["state"] == "ended" and newest["ended_by"] == "expired"
    assert newest["approver"] == "approver@" + newest["user"].split("@")[1]
    assert uuid.UUID(newest["request_id"]) in approvals


def test_assignment_changes_export_matches_the_audit_row_by_row(env: Env) -> None:
    directory, _, _ann, bob = _history(env)
    with env.ctx() as ctx:
        rows = _csv(reports.change_export(ctx, env.runtime.db.engine, directory.id, ReportFilter()))
    events = _events(env, *CHANGE_ACTIONS)
    assert [int(r["seq"]) for r in rows] == [e.seq for e in events]
    for row, event in zip(rows, events, strict=True):
        assert row["action"] == event.action
        assert (row["change"], row["member_type"]) == CHANGE_ACTIONS[event.action]
        assert row["user"] == (event.target_label or "")
        assert row["role"] == (event.role_label or "")
        assert row["by"] == event.actor_label
        assert row["occurred_at"] == _iso(event.occurred_at)
        assert row["end_at"] == _iso(event.end_at)
        assert row["request_id"] == (str(event.request_id) if event.request_id else "")
    bob_changes = [r["change"] for r in rows if r["user"] == bob.user_principal_name]
    assert bob_changes == ["removed", "converted", "extended", "added"]


def test_json_export_and_pages_agree(env: Env) -> None:
    directory, _, _ann, _bob = _history(env)
    with env.ctx() as ctx:
        exported = json.loads(
            "".join(
                reports.change_export(
                    ctx, env.runtime.db.engine, directory.id, ReportFilter(), "json"
                )
            )
        )
        paged: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = reports.assignment_changes(ctx, directory.id, cursor=cursor, limit=2)
            paged += page.items
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
    assert exported == paged and len(paged) > 4


def test_filters_by_role_user_and_date_range(env: Env) -> None:
    directory, _, ann, bob = _history(env)
    with env.ctx() as ctx:
        by_role = reports.assignment_changes(ctx, directory.id, ReportFilter(role_id=USER_ADMIN))
        assert {r["role"] for r in by_role.items} == {"User Administrator"}
        by_user = reports.activation_history(ctx, directory.id, ReportFilter(user_id=bob.id))
        assert by_user.items == []
        everything = reports.activation_history(ctx, directory.id).items
        oldest_start = everything[-1]["start_at"]
        window = reports.activation_history(
            ctx, directory.id, ReportFilter(since=env.now - 5 * HOUR, until=env.now)
        ).items
        assert oldest_start not in {r["start_at"] for r in window} and len(window) == 2
        with pytest.raises(ValidationFailed):
            reports.activation_history(
                ctx, directory.id, ReportFilter(since=env.now, until=env.now - HOUR)
            )
    del ann


def test_everyone_else_sees_only_their_own_history(env: Env) -> None:
    directory, _, ann, bob = _history(env)
    with env.ctx(ann) as ctx:
        own = reports.activation_history(ctx, directory.id)
        assert len(own.items) == 3 and {r["user_id"] for r in own.items} == {str(ann.id)}
        with pytest.raises(Forbidden):
            reports.activation_history(ctx, directory.id, ReportFilter(user_id=bob.id))
        with pytest.raises(Forbidden):
            reports.statistics(ctx, directory.id)


def test_role_statistics(env: Env) -> None:
    directory, _, ann, _bob = _history(env)
    with env.ctx() as ctx:
        stats = reports.statistics(
            ctx, directory.id, since=env.now - timedelta(days=2), until=env.now + HOUR,
            role_id=PASSWORD_ADMIN,
        )  # fmt: skip
    (summary,) = stats.roles
    assert (summary.activations, summary.distinct_users) == (3, 1)
    assert summary.average_seconds == pytest.approx((1200 + 3600 + 3600) / 3)
    assert summary.eligible == 1 and summary.permanent == 0
    assert sum(p.activations for p in stats.days) == 3
    assert [p.day for p in stats.days][-1] == (env.now + HOUR - timedelta(microseconds=1)).date()
    assert stats.days[-1].eligible == 1
    csv_days = _csv(reports.statistics_export(stats, "days"))
    assert [int(r["activations"]) for r in csv_days] == [p.activations for p in stats.days]
    del ann


def test_a_removal_by_an_access_review_names_the_review(env: Env) -> None:
    from openpim.reviews import service as reviews
    from tests.reviews.helpers import create, items

    directory, _ = pim_setup(env)
    reviewer = env.user(directory, "rita")
    member = env.user(directory, "mo")
    grant(env, member, USER_ADMIN)
    review = create(env, directory, reviewers=[reviewer], scope="eligible")
    (item,) = items(env, review.id).values()
    with env.ctx(reviewer) as ctx:
        reviews.decide(ctx, item.id, "Deny", "not needed")
    with env.ctx() as ctx:
        reviews.complete_review(ctx, review.id)
        reviews.apply_review(ctx, review.id)
        page = reports.assignment_changes(ctx, directory.id, ReportFilter(user_id=member.id))
    removed, added = page.items
    assert (removed["change"], removed["review_id"]) == ("removed", str(review.id))
    assert removed["by"].startswith("access review")
    assert (added["change"], added["review_id"]) == ("added", None)
