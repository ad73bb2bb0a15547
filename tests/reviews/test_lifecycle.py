"""The full life of an access review: snapshot, decisions, completion, apply, recurrence."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from openpim.assignments import service as assignments
from openpim.assignments.models import Eligibility, MemberType
from openpim.kit.errors import Conflict, Forbidden, ValidationFailed
from openpim.reviews import service as reviews
from openpim.reviews.rules import ReviewSpec
from tests.alerts.helpers import audit_actions, grant, outbox_count, pim_setup
from tests.factories import GA, SECURITY_READER, USER_ADMIN, Env
from tests.reviews.helpers import create, items, review_row


def _members(env: Env):  # type: ignore[no-untyped-def]
    directory, admin = pim_setup(env)
    reviewer = env.user(directory, "rita", last_sign_in_at=env.now)
    ann = env.user(directory, "ann", last_sign_in_at=env.now - timedelta(days=3))
    bob = env.user(directory, "bob", last_sign_in_at=env.now - timedelta(days=200))
    cid = env.user(directory, "cid", last_sign_in_at=None)
    dan = env.user(directory, "dan", last_sign_in_at=env.now - timedelta(days=90))
    for user in (ann, bob, cid):
        grant(env, user, USER_ADMIN)
    grant(env, dan, USER_ADMIN, MemberType.ACTIVE)
    with env.runtime.db.reader() as s:
        cid_eligibility = s.scalars(
            select(Eligibility).where(Eligibility.principal_id == cid.id)
        ).one()
        s.expunge_all()
    env.activated(cid, USER_ADMIN, eligibility=cid_eligibility, start=env.now - timedelta(days=2))
    return directory, admin, reviewer, (ann, bob, cid, dan)


def test_the_snapshot_holds_members_in_scope_with_recommendations_and_evidence(env: Env) -> None:
    directory, _, reviewer, (ann, bob, cid, dan) = _members(env)
    review = create(env, directory, reviewers=[reviewer])
    assert review.status == "InProgress"
    got = items(env, review.id)
    assert set(got) == {"ann:Eligible", "bob:Eligible", "cid:Eligible", "dan:Active"}
    assert got["ann:Eligible"].recommendation == "Approve"
    assert "signed in" in got["ann:Eligible"].recommendation_reason
    assert got["bob:Eligible"].recommendation == "Deny"
    assert got["cid:Eligible"].recommendation == "Approve"
    assert got["cid:Eligible"].last_activation_at == env.now - timedelta(days=2)
    assert got["dan:Active"].recommendation == "Deny"
    assert got["dan:Active"].last_sign_in_at == env.now - timedelta(days=90)
    (started,) = audit_actions(env, "review.started")
    assert started.detail is not None and '"members": 4' in started.detail
    assert outbox_count(env, "review.started") == 1

    # A member added afterwards is not part of this review.
    grant(env, env.user(directory, "eve"), USER_ADMIN)
    assert len(items(env, review.id)) == 4
    del ann, bob, cid, dan


def test_scope_limits_the_snapshot(env: Env) -> None:
    directory, _, reviewer, _users = _members(env)
    eligible = create(env, directory, reviewers=[reviewer], scope="eligible")
    active = create(env, directory, reviewers=[reviewer], scope="active")
    assert set(items(env, eligible.id)) == {"ann:Eligible", "bob:Eligible", "cid:Eligible"}
    assert set(items(env, active.id)) == {"dan:Active"}


def test_decide_complete_apply_and_apply_again(env: Env) -> None:
    directory, _, reviewer, (ann, bob, cid, dan) = _members(env)
    review = create(env, directory, reviewers=[reviewer], default_decision="no_change")
    got = items(env, review.id)
    with env.ctx(reviewer) as ctx:
        reviews.decide(ctx, got["ann:Eligible"].id, "Approve", "on call this quarter")
        reviews.decide(ctx, got["bob:Eligible"].id, "Deny", "left the team")
        reviews.decide(ctx, got["cid:Eligible"].id, "DontKnow")
        reviews.decide(ctx, got["dan:Active"].id, "Deny", "should be eligible only")
    # Nothing changes until completion.
    with env.ctx() as ctx:
        with pytest.raises(Conflict) as early:
            reviews.apply_review(ctx, review.id)
        assert early.value.code == "review_not_completed"

    env.clock.advance(timedelta(days=7))
    due = reviews.reviews_due(env.runtime)
    assert due.completed == [review.id]
    got = items(env, review.id)
    assert {k: v.outcome for k, v in got.items()} == {
        "ann:Eligible": "Approve",
        "bob:Eligible": "Deny",
        "cid:Eligible": "NoChange",
        "dan:Active": "Deny",
    }
    # Dan's assignment went away by other means before the review was applied.
    with env.ctx() as ctx:
        assignments.make_eligible(
            ctx, directory_id=directory.id, principal_id=dan.id, role_id=USER_ADMIN,
            justification="moved to eligible",
        )  # fmt: skip
    with env.ctx() as ctx:
        first = reviews.apply_review(ctx, review.id)
    assert (first.removed, first.already_gone, first.failed, first.kept) == (1, 1, 0, 2)
    (removed,) = audit_actions(env, "eligibility.removed")
    assert removed.target_user_id == bob.id
    assert removed.actor_label.startswith("access review 'Quarterly User Administrator review'")
    assert removed.actor_label.endswith("applied by operator:tests")
    assert removed.justification == (
        "Denied in access review 'Quarterly User Administrator review': left the team"
    )
    (link,) = audit_actions(env, "review.member_removed")
    assert link.request_id == removed.request_id
    got = items(env, review.id)
    assert got["bob:Eligible"].applied_result == "removed"
    assert got["dan:Active"].applied_result == "already_gone"
    assert got["ann:Eligible"].applied_result == "kept"

    with env.ctx() as ctx:
        second = reviews.apply_review(ctx, review.id)
    assert second.already_applied and (second.removed, second.already_gone) == (0, 0)
    assert len(audit_actions(env, "eligibility.removed")) == 1
    assert len(audit_actions(env, "review.applied")) == 1
    assert review_row(env, review.id).status == "Applied"
    del ann, cid


@pytest.mark.parametrize(
    ("default", "expected"),
    [
        ("no_change", {"ann": "NoChange", "bob": "NoChange"}),
        ("remove", {"ann": "Deny", "bob": "Deny"}),
        ("approve", {"ann": "Approve", "bob": "Approve"}),
        ("recommendation", {"ann": "Approve", "bob": "Deny"}),
    ],
)
def test_members_nobody_reviewed_follow_the_default(
    env: Env, default: str, expected: dict[str, str]
) -> None:
    directory, _, reviewer, _users = _members(env)
    review = create(
        env, directory, reviewers=[reviewer], default_decision=default, scope="eligible"
    )
    with env.ctx() as ctx:
        reviews.stop_review(ctx, review.id)
    got = items(env, review.id)
    assert {k.split(":")[0]: got[k].outcome for k in ("ann:Eligible", "bob:Eligible")} == expected
    source = "recommendation" if default == "recommendation" else "default"
    assert got["ann:Eligible"].outcome_source == source


def test_auto_apply_on_completion_removes_denied_members(env: Env) -> None:
    directory, _, reviewer, (_ann, bob, _cid, _dan) = _members(env)
    review = create(
        env, directory, reviewers=[reviewer], default_decision="recommendation",
        auto_apply=True, scope="eligible",
    )  # fmt: skip
    env.clock.advance(timedelta(days=7))
    reviews.reviews_due(env.runtime)
    row = review_row(env, review.id)
    assert row.status == "Applied"
    assert {e.target_user_id for e in audit_actions(env, "eligibility.removed")} == {bob.id}
    (removed,) = audit_actions(env, "eligibility.removed")
    assert "applied by system:access-reviews" in removed.actor_label


def test_a_refused_removal_is_recorded_and_the_rest_applied(env: Env) -> None:
    directory, admin, reviewer, (_ann, bob, _cid, _dan) = _members(env)
    ga_review = create(env, directory, reviewers=[reviewer], role_ids=[GA], scope="active")
    ua_review = create(env, directory, reviewers=[reviewer], scope="eligible")
    with env.ctx(reviewer) as ctx:
        (ga_item,) = items(env, ga_review.id).values()
        reviews.decide(ctx, ga_item.id, "Deny", "too many GAs")
        reviews.decide(ctx, items(env, ua_review.id)["bob:Eligible"].id, "Deny", "gone")
    with env.ctx() as ctx:
        reviews.complete_review(ctx, ga_review.id)
        summary = reviews.apply_review(ctx, ga_review.id)
    assert summary.failed == 1
    (ga_item,) = items(env, ga_review.id).values()
    assert ga_item.applied_result == "failed"
    assert ga_item.applied_detail is not None
    assert ga_item.applied_detail.startswith("last_global_administrator")
    assert audit_actions(env, "assignment.removed") == []
    del admin, bob


def test_recurrence_creates_the_next_instance(env: Env) -> None:
    directory, _, reviewer, _users = _members(env)
    review = create(env, directory, reviewers=[reviewer], recurrence="monthly")
    env.clock.advance(timedelta(days=7))
    reviews.reviews_due(env.runtime)
    first = review_row(env, review.id)
    assert first.status == "Completed" and first.next_review_id is not None
    following = review_row(env, first.next_review_id)
    assert following.status == "NotStarted" and following.instance == 2
    assert following.series_id == first.series_id
    assert following.start_at == review.start_at.replace(month=review.start_at.month + 1)
    assert following.end_at - following.start_at == timedelta(days=7)
    with env.ctx() as ctx:
        assert reviews.get_review(ctx, following.id).reviewer_ids == [reviewer.id]
    # It starts (snapshot) when its start comes, and completing it schedules the third.
    env.clock.set(following.start_at)
    assert reviews.reviews_due(env.runtime).started == [following.id]
    assert len(items(env, following.id)) == 4
    env.clock.set(following.end_at)
    reviews.reviews_due(env.runtime)
    third_id = review_row(env, following.id).next_review_id
    assert third_id is not None and review_row(env, third_id).instance == 3
    # Completing twice does not make two next instances.
    with pytest.raises(Conflict), env.ctx() as ctx:
        reviews.complete_review(ctx, following.id)


def test_remind_stop_reset_and_delete(env: Env) -> None:
    directory, _, reviewer, _users = _members(env)
    review = create(env, directory, reviewers=[reviewer])
    got = items(env, review.id)
    with env.ctx(reviewer) as ctx:
        reviews.decide(ctx, got["bob:Eligible"].id, "Deny")
    with env.ctx() as ctx:
        assert reviews.remind(ctx, review.id) == 1
        assert reviews.reset_decisions(ctx, review.id) == 1
    assert outbox_count(env, "review.reminder") == 1
    assert items(env, review.id)["bob:Eligible"].decision == "NotReviewed"
    with env.ctx() as ctx:
        reviews.stop_review(ctx, review.id)
    row = review_row(env, review.id)
    assert row.status == "Completed" and row.stopped_at == env.now
    with env.ctx() as ctx:
        reviews.delete_review(ctx, review.id)
        assert reviews.list_reviews(ctx, directory.id) == []
    assert [e.action for e in audit_actions(env, "review.deleted")] == ["review.deleted"]


def test_export_csv_lists_every_member_with_its_decision(env: Env) -> None:
    directory, _, reviewer, _users = _members(env)
    review = create(env, directory, reviewers=[reviewer])
    got = items(env, review.id)
    with env.ctx(reviewer) as ctx:
        reviews.decide(ctx, got["bob:Eligible"].id, "Deny", "=cmd|' /C calc'!A0")
    with env.ctx() as ctx:
        reviews.stop_review(ctx, review.id)
        loaded, role = reviews.export_statement(ctx, review.id)
    text = "".join(reviews.export_csv(env.runtime.db.engine, loaded, role))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["member"].split("@")[0] for r in rows] == ["ann", "bob", "cid", "dan"]
    bob_row = rows[1]
    assert bob_row["decision"] == "Deny" and bob_row["outcome"] == "Deny"
    assert bob_row["decision_reason"].startswith("'=")  # neutralised for spreadsheets
    assert bob_row["role"] == "User Administrator"
    assert rows[0]["recommendation"] == "Approve" and rows[0]["decision"] == "NotReviewed"


def test_who_may_do_what(env: Env) -> None:
    directory, _, reviewer, (ann, bob, _cid, _dan) = _members(env)
    sec_reader = env.user(directory, "sr")
    grant(env, sec_reader, SECURITY_READER, MemberType.ACTIVE)
    review = create(env, directory, reviewers=[reviewer])
    got = items(env, review.id)
    with env.ctx(sec_reader) as ctx:
        assert [p.review.id for p in reviews.ongoing_reviews(ctx, directory.id)] == [review.id]
        with pytest.raises(Forbidden):
            reviews.create_reviews(
                ctx,
                directory.id,
                ReviewSpec(
                    name="x",
                    role_ids=[USER_ADMIN],
                    reviewer_mode="self",
                    duration=timedelta(days=2),
                ),
            )
        with pytest.raises(Forbidden):
            reviews.decide(ctx, got["ann:Eligible"].id, "Deny")
    with env.ctx(ann) as ctx, pytest.raises(Forbidden):
        reviews.get_review(ctx, review.id)
    with env.ctx(reviewer) as ctx:
        mine = reviews.my_reviews(ctx)
        assert [(p.review.id, p.pending_for_me) for p in mine] == [(review.id, 4)]
        with pytest.raises(ValidationFailed) as no_reason:
            reviews.decide(ctx, got["ann:Eligible"].id, "Approve")
        assert no_reason.value.field == "reason"
    env.clock.advance(timedelta(days=7))
    with pytest.raises(Conflict), env.ctx(reviewer) as ctx:
        reviews.decide(ctx, got["ann:Eligible"].id, "Deny")
    del bob


def test_members_review_themselves_only(env: Env) -> None:
    directory, _, _reviewer, (ann, bob, _cid, _dan) = _members(env)
    review = create(env, directory, scope="eligible")
    got = items(env, review.id)
    with env.ctx(ann) as ctx:
        visible, _ = reviews.list_items(ctx, review.id)
        assert [i.principal_id for i in visible] == [ann.id]
        reviews.decide(ctx, got["ann:Eligible"].id, "Approve", "still needed")
        with pytest.raises(Forbidden):
            reviews.decide(ctx, got["bob:Eligible"].id, "Deny")
    with env.ctx(bob) as ctx:
        assert [p.pending_for_me for p in reviews.my_reviews(ctx)] == [1]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"duration": timedelta(hours=23)}, "duration"),
        ({"duration": timedelta(days=366)}, "duration"),
        ({"duration": timedelta(days=8), "recurrence": "weekly"}, "duration"),
        ({"recurrence": "fortnightly"}, "recurrence"),
        ({"scope": "everyone"}, "scope"),
        ({"name": "  "}, "name"),
        ({"reviewer_mode": "selected", "reviewer_ids": []}, "reviewer_ids"),
    ],
)
def test_creation_is_validated(env: Env, changes: dict[str, object], field: str) -> None:
    directory, _ = pim_setup(env)
    args: dict[str, object] = {
        "name": "r", "role_ids": [USER_ADMIN], "reviewer_mode": "self",
        "duration": timedelta(days=7), **changes,
    }  # fmt: skip
    with pytest.raises(ValidationFailed) as refused, env.ctx() as ctx:
        reviews.create_reviews(ctx, directory.id, ReviewSpec(**args))  # type: ignore[arg-type]
    assert refused.value.field == field


def test_several_roles_make_one_review_each_and_a_future_start_waits(env: Env) -> None:
    directory, _, reviewer, _users = _members(env)
    start = env.now + timedelta(days=2)
    with env.ctx() as ctx:
        made = reviews.create_reviews(
            ctx, directory.id,
            ReviewSpec(name="both", role_ids=[USER_ADMIN, GA], reviewer_ids=[reviewer.id],
                       start_at=start, end_at=start + timedelta(days=5)),
        )  # fmt: skip
    assert [r.role_id for r in made] == [USER_ADMIN, GA]
    assert {r.status for r in made} == {"NotStarted"}
    assert reviews.reviews_due(env.runtime).started == []
    env.clock.set(start)
    assert sorted(reviews.reviews_due(env.runtime).started) == sorted(r.id for r in made)
