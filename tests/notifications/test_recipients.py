"""Who gets each event's email (DESIGN.md's notification list), checked on the fan-out."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta

from openpim.assignments import service
from openpim.assignments.models import MemberType
from openpim.directory.models import Directory, User
from openpim.kit.context import Actor
from openpim.notifications import delivery
from openpim.notifications.outbox import enqueue
from openpim.notifications.recipients import MAX_RECIPIENTS
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from openpim.reviews.decisions import remind
from openpim.reviews.lifecycle import create_reviews
from openpim.reviews.rules import ReviewSpec
from openpim.worker import Worker
from tests.assignments.helpers import activate, assign
from tests.factories import GA, PASSWORD_ADMIN, PRA, SECURITY_ADMIN, Env
from tests.notifications.helpers import deliveries, email_channel, events, webhook

UNUSED_PORT = 9  # nothing is sent in these tests: they look at the deliveries made


def _setup(env: Env) -> tuple[Directory, User]:
    directory, admin = env.pim_directory()
    email_channel(env, directory, UNUSED_PORT)
    return directory, admin


def _emails_by_event(env: Env) -> dict[str, set[str]]:
    delivery.fan_out(env.runtime, limit=500)
    kinds = {e.id: e.event_type for e in events(env)}
    out: dict[str, set[str]] = defaultdict(set)
    for d in deliveries(env, channel="email"):
        out[kinds[d.outbox_id]].add(d.recipient)
    return out


def _approval_settings(env: Env, directory: Directory, approvers: list[uuid.UUID]) -> None:
    with env.ctx() as ctx:
        update_role_settings(
            ctx,
            directory.id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate(require_approval_on_activation=True, approver_ids=approvers),
        )


def test_pending_approval_goes_to_named_approvers_and_the_decision_to_the_requester(
    env: Env,
) -> None:
    directory, admin = _setup(env)
    approver = env.user(directory, "approver")
    user = env.user(directory, "asker")
    env.eligible(user, PASSWORD_ADMIN)
    _approval_settings(env, directory, [approver.id])
    request = activate(env, user, PASSWORD_ADMIN)
    with env.ctx(env.actor(approver, mfa=True)) as ctx:
        service.approve(ctx, request.id, "go ahead")
    emails = _emails_by_event(env)
    assert emails["request.pending_approval"] == {approver.user_principal_name}
    assert emails["request.approved"] == {user.user_principal_name}
    assert emails["role.activated"] == {admin.user_principal_name, user.user_principal_name}


def test_without_named_approvers_the_pras_approve_and_a_denial_reaches_the_requester(
    env: Env,
) -> None:
    directory, admin = _setup(env)
    second_pra = env.user(directory, "pra2")
    env.permanent(second_pra, PRA)
    user = env.user(directory, "asker")
    env.eligible(user, PASSWORD_ADMIN)
    _approval_settings(env, directory, [])
    request = activate(env, user, PASSWORD_ADMIN)
    with env.ctx(env.actor(admin, mfa=True)) as ctx:
        service.deny(ctx, request.id, "not today")
    emails = _emails_by_event(env)
    assert emails["request.pending_approval"] == {
        admin.user_principal_name,
        second_pra.user_principal_name,
    }
    assert emails["request.denied"] == {user.user_principal_name}
    denied = next(e for e in events(env, "request.denied"))
    assert denied.content is not None
    assert ["Decision", "not today"] in denied.content["facts"]


def test_pending_approval_goes_to_the_pras_when_no_named_approver_can_act(env: Env) -> None:
    """An approver disabled since being named, and the asker named as their own approver,
    cannot decide: the request is mailed to the PRAs, who decide it (approval.can_decide)."""
    directory, admin = _setup(env)
    gone = env.user(directory, "gone")
    user = env.user(directory, "asker")
    env.eligible(user, PASSWORD_ADMIN)
    _approval_settings(env, directory, [gone.id, user.id])
    with env.runtime.db.unit_of_work() as s:
        row = s.get(User, gone.id)
        assert row is not None
        row.enabled = False
    activate(env, user, PASSWORD_ADMIN)
    emails = _emails_by_event(env)
    assert emails["request.pending_approval"] == {admin.user_principal_name}


def test_members_and_admins_hear_about_assignments_but_not_a_members_own_deactivation(
    env: Env,
) -> None:
    directory, admin = _setup(env)
    user = env.user(directory, "member")
    assign(env, admin, user, PASSWORD_ADMIN, MemberType.ELIGIBLE)
    activate(env, user, PASSWORD_ADMIN)
    env.clock.advance(timedelta(minutes=10))
    with env.ctx(env.actor(user, mfa=True)) as ctx:
        service.self_deactivate(ctx, directory_id=directory.id, role_id=PASSWORD_ADMIN)
    with env.ctx(env.actor(admin, mfa=True)) as ctx:
        service.admin_remove(
            ctx,
            directory_id=directory.id,
            principal_id=user.id,
            role_id=PASSWORD_ADMIN,
            member_type=MemberType.ELIGIBLE,
        )
    emails = _emails_by_event(env)
    # Entra's defaults: the assignee and the admins (role assignment alert).
    both = {user.user_principal_name, admin.user_principal_name}
    assert emails["assignment.added"] == both
    assert emails["eligibility.ended"] == both
    assert "activation.ended" not in emails  # they deactivated it themselves
    assert {e.event_type for e in events(env)} >= {"activation.ended", "role.activated"}


def test_expiry_reaches_the_member_except_for_activations(env: Env) -> None:
    directory, _admin = _setup(env)
    user = env.user(directory, "expiring")
    eligibility = env.eligible(user, PASSWORD_ADMIN, duration=timedelta(hours=3))
    env.activated(user, PASSWORD_ADMIN, eligibility=eligibility, duration=timedelta(hours=1))
    env.clock.advance(timedelta(hours=4))
    Worker(env.runtime).run_once()
    emails = _emails_by_event(env)
    assert emails["eligibility.expired"] == {user.user_principal_name}
    assert "activation.expired" not in emails


def test_pim_enabled_goes_to_every_active_admin_and_never_to_disabled_users(env: Env) -> None:
    directory = env.directory()
    email_channel(env, directory, UNUSED_PORT)
    enabler = env.user(directory, "enabler")
    env.permanent(enabler, GA)
    security = env.user(directory, "security")
    env.permanent(security, SECURITY_ADMIN)
    gone = env.user(directory, "gone", enabled=False)
    env.permanent(gone, GA)
    expired = env.user(directory, "expired")
    env.permanent(expired, GA, end=env.now + timedelta(minutes=1))
    env.clock.advance(timedelta(minutes=2))
    with env.ctx(env.actor(enabler, mfa=True)) as ctx:
        service.enable_pim(ctx, directory.id)
    emails = _emails_by_event(env)
    assert emails["pim.enabled"] == {enabler.user_principal_name, security.user_principal_name}


def test_high_severity_alerts_are_emailed_and_every_alert_reaches_webhooks(env: Env) -> None:
    directory, admin = _setup(env)
    webhook(env, directory, "http://127.0.0.1:9/hook")
    with env.ctx(Actor.system()) as ctx:
        for severity in ("high", "medium"):
            enqueue(
                ctx,
                "alert.raised",
                {"alert": f"A {severity} alert", "severity": severity, "affected_count": 2},
                directory_id=directory.id,
            )
    emails = _emails_by_event(env)
    assert emails["alert.raised"] == {admin.user_principal_name}
    assert len(deliveries(env, channel="email")) == 1
    assert len(deliveries(env, channel="webhook")) == 2
    high = next(e for e in events(env) if e.payload["severity"] == "high")
    assert high.content is not None
    assert high.content["subject"] == "PIM: Alert: A high alert"


def test_an_unknown_event_uses_the_default_wording_and_its_payload_recipients(env: Env) -> None:
    directory, admin = _setup(env)
    reviewer = env.user(directory, "reviewer")
    with env.ctx(Actor.system()) as ctx:
        enqueue(
            ctx,
            "vault.secret_rotated",
            {
                "recipient_ids": [reviewer.id, uuid.uuid4()],
                "recipient_emails": ["auditor@fabrikam.example", "not-an-address"],
                "link_path": "https://evil.example/phish",
            },
            directory_id=directory.id,
        )
    emails = _emails_by_event(env)
    assert emails["vault.secret_rotated"] == {
        reviewer.user_principal_name,
        "auditor@fabrikam.example",
    }
    event = events(env, "vault.secret_rotated")[0]
    assert event.content is not None
    assert event.content["subject"] == "PIM: Vault secret rotated"
    assert event.content["link"] == "http://127.0.0.1:8000/"  # never a link off the portal
    assert admin.user_principal_name not in emails["vault.secret_rotated"]


def test_at_most_a_thousand_recipients_per_event(env: Env) -> None:
    directory, _admin = _setup(env)
    many = [f"user{n:04d}@fabrikam.example" for n in range(MAX_RECIPIENTS + 250)]
    with env.ctx(Actor.system()) as ctx:
        enqueue(ctx, "notice.bulk", {"recipient_emails": many}, directory_id=directory.id)
    emails = _emails_by_event(env)
    assert len(emails["notice.bulk"]) == MAX_RECIPIENTS
    summary = events(env)[0].summary
    assert summary is not None and summary["truncated"] == 250


def test_access_reviews_reach_their_reviewers_or_the_members_who_review_themselves(
    env: Env,
) -> None:
    directory, _admin = _setup(env)
    reviewer = env.user(directory, "reviewer")
    members = [env.user(directory, f"member{n}") for n in range(3)]
    for member in members:
        env.eligible(member, PASSWORD_ADMIN)
    with env.ctx() as ctx:
        (selected,) = create_reviews(
            ctx,
            directory.id,
            ReviewSpec(
                name="Q1 passwords",
                role_ids=[PASSWORD_ADMIN],
                reviewer_ids=[reviewer.id],
                duration=timedelta(days=7),
            ),
        )
        create_reviews(
            ctx,
            directory.id,
            ReviewSpec(
                name="Self check",
                role_ids=[PASSWORD_ADMIN],
                reviewer_mode="self",
                duration=timedelta(days=7),
            ),
        )
        remind(ctx, selected.id)
    delivery.fan_out(env.runtime, limit=500)
    by_name: dict[str, set[str]] = defaultdict(set)
    kinds = {e.id: (e.event_type, e.payload.get("name")) for e in events(env)}
    for d in deliveries(env, channel="email"):
        kind, name = kinds[d.outbox_id]
        by_name[f"{kind} {name}"].add(d.recipient)
    assert by_name["review.started Q1 passwords"] == {reviewer.user_principal_name}
    assert by_name["review.reminder Q1 passwords"] == {reviewer.user_principal_name}
    assert by_name["review.started Self check"] == {m.user_principal_name for m in members}
    started = next(e for e in events(env, "review.started") if e.payload["name"] == "Q1 passwords")
    assert started.content is not None
    assert started.content["subject"] == "PIM: Access review started: Q1 passwords"
    assert started.content["link"].endswith(f"/my-reviews/{selected.id}")
