"""Who gets an event's email under each of a role's notification rules, through the fan-out."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

from openpim.assignments import service
from openpim.assignments.models import MemberType
from openpim.directory.models import Directory, User
from openpim.kit.context import Actor
from openpim.notifications import delivery
from openpim.notifications.catalog import spec_for
from openpim.notifications.outbox import enqueue
from openpim.notifications.recipients import MAX_RECIPIENTS
from openpim.notifications.role_rules import is_critical
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from tests.assignments.helpers import activate, assign
from tests.factories import PASSWORD_ADMIN, USER_ADMIN, Env
from tests.notifications.helpers import deliveries, email_channel, events

UNUSED_PORT = 9  # nothing is sent: these tests look at the deliveries the fan-out makes


def _setup(env: Env) -> tuple[Directory, User, User]:
    directory, admin = env.pim_directory()
    email_channel(env, directory, UNUSED_PORT)
    return directory, admin, env.user(directory, "member")


def _rules(
    env: Env, directory: Directory, rules: dict[str, Any], role: uuid.UUID = PASSWORD_ADMIN
) -> None:
    with env.ctx() as ctx:
        update_role_settings(
            ctx,
            directory.id,
            role,
            RoleSettingsUpdate.model_validate({"notification_rules": rules}),
        )


def _emails(env: Env) -> dict[str, set[str]]:
    delivery.fan_out(env.runtime, limit=500)
    kinds = {e.id: e.event_type for e in events(env)}
    out: dict[str, set[str]] = defaultdict(set)
    for d in deliveries(env, channel="email"):
        out[kinds[d.outbox_id]].add(d.recipient)
    return out


def _summary(env: Env, event_type: str) -> dict[str, Any]:
    (event,) = events(env, event_type)
    assert event.summary is not None
    return event.summary


def test_by_default_an_activation_reaches_the_admins_and_the_member(env: Env) -> None:
    _directory, admin, member = _setup(env)
    env.eligible(member, PASSWORD_ADMIN)
    activate(env, member, PASSWORD_ADMIN)
    assert _emails(env)["role.activated"] == {
        admin.user_principal_name,
        member.user_principal_name,
    }


def test_default_recipients_off_leaves_only_the_extra_addresses(env: Env) -> None:
    directory, _admin, member = _setup(env)
    env.eligible(member, PASSWORD_ADMIN)
    _rules(
        env,
        directory,
        {
            "activation": {
                "admin": {
                    "default_recipients": False,
                    "extra_recipients": ["soc@fabrikam.example"],
                },
                "requestor": {"default_recipients": False},
            }
        },
    )
    activate(env, member, PASSWORD_ADMIN)
    assert _emails(env)["role.activated"] == {"soc@fabrikam.example"}


def test_everything_off_sends_nothing_and_says_which_rules(env: Env) -> None:
    directory, _admin, member = _setup(env)
    env.eligible(member, PASSWORD_ADMIN)
    _rules(
        env,
        directory,
        {
            "activation": {
                "admin": {"default_recipients": False},
                "requestor": {"level": "None", "extra_recipients": ["never@fabrikam.example"]},
            }
        },
    )
    activate(env, member, PASSWORD_ADMIN)
    assert "role.activated" not in _emails(env)
    why = _summary(env, "role.activated")["email_skipped"]
    assert "activation/admin has no recipient" in why
    assert "activation/requestor is off" in why


def test_level_none_silences_the_extra_addresses_too(env: Env) -> None:
    directory, _admin, member = _setup(env)
    env.eligible(member, PASSWORD_ADMIN)
    _rules(
        env,
        directory,
        {"activation": {"admin": {"level": "None", "extra_recipients": ["soc@fabrikam.example"]}}},
    )
    activate(env, member, PASSWORD_ADMIN)
    assert _emails(env)["role.activated"] == {member.user_principal_name}


def test_critical_only_keeps_highly_privileged_roles_and_drops_the_rest(env: Env) -> None:
    directory, admin, member = _setup(env)
    critical_only = {"activation": {"admin": {"level": "Critical"}}}
    for role in (PASSWORD_ADMIN, USER_ADMIN):  # User Administrator: MFA locked on
        env.eligible(member, role)
        _rules(env, directory, critical_only, role)
    activate(env, member, PASSWORD_ADMIN)
    activate(env, member, USER_ADMIN)
    delivery.fan_out(env.runtime, limit=500)
    by_role: dict[str, set[str]] = defaultdict(set)
    roles = {e.id: e.payload["role_id"] for e in events(env, "role.activated")}
    for d in deliveries(env, channel="email"):
        by_role[roles[d.outbox_id]].add(d.recipient)
    assert by_role[str(PASSWORD_ADMIN)] == {member.user_principal_name}
    assert by_role[str(USER_ADMIN)] == {member.user_principal_name, admin.user_principal_name}


def test_critical_only_still_sends_approval_requests(env: Env) -> None:
    directory, admin, member = _setup(env)
    env.eligible(member, PASSWORD_ADMIN)
    with env.ctx() as ctx:
        update_role_settings(
            ctx,
            directory.id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate.model_validate(
                {
                    "require_approval_on_activation": True,
                    "notification_rules": {
                        "activation": {
                            "approver": {
                                "level": "Critical",
                                "extra_recipients": ["cab@fabrikam.example"],
                            },
                            "requestor": {"level": "Critical"},
                        }
                    },
                }
            ),
        )
    request = activate(env, member, PASSWORD_ADMIN)
    with env.ctx(env.actor(admin, mfa=True)) as ctx:
        service.deny(ctx, request.id, "not now")
    emails = _emails(env)
    # Asking for a decision is critical; the denial of an ordinary role is not.
    assert emails["request.pending_approval"] == {
        admin.user_principal_name,
        "cab@fabrikam.example",
    }
    assert "request.denied" not in emails
    assert "critical emails only" in _summary(env, "request.denied")["email_skipped"]


def test_the_approver_rule_can_switch_approval_emails_off(env: Env) -> None:
    directory, _admin, member = _setup(env)
    env.eligible(member, PASSWORD_ADMIN)
    with env.ctx() as ctx:
        update_role_settings(
            ctx,
            directory.id,
            PASSWORD_ADMIN,
            RoleSettingsUpdate.model_validate(
                {
                    "require_approval_on_activation": True,
                    "notification_rules": {"activation": {"approver": {"level": "None"}}},
                }
            ),
        )
    activate(env, member, PASSWORD_ADMIN)
    assert "request.pending_approval" not in _emails(env)


def test_assignment_rules_follow_the_membership_type(env: Env) -> None:
    directory, admin, member = _setup(env)
    other = env.user(directory, "other")
    _rules(
        env,
        directory,
        {
            "eligible_assignment": {
                "admin": {"default_recipients": False},
                "requestor": {"extra_recipients": ["hr@fabrikam.example"]},
            },
            "active_assignment": {"requestor": {"level": "None"}},
        },
    )
    assign(env, admin, member, PASSWORD_ADMIN, MemberType.ELIGIBLE)
    assign(
        env, admin, other, PASSWORD_ADMIN, MemberType.ACTIVE, end_at=env.now + timedelta(days=30)
    )
    with env.ctx(env.actor(admin, mfa=True)) as ctx:
        service.admin_remove(
            ctx,
            directory_id=directory.id,
            principal_id=member.id,
            role_id=PASSWORD_ADMIN,
            member_type=MemberType.ELIGIBLE,
        )
    delivery.fan_out(env.runtime, limit=500)
    got: dict[tuple[str, str], set[str]] = defaultdict(set)
    kinds = {e.id: (e.event_type, e.payload["kind"]) for e in events(env)}
    for d in deliveries(env, channel="email"):
        got[kinds[d.outbox_id]].add(d.recipient)
    eligible = {member.user_principal_name, "hr@fabrikam.example"}
    assert got[("assignment.added", "eligibility")] == eligible
    assert got[("eligibility.ended", "eligibility")] == eligible
    assert got[("assignment.added", "assignment")] == {admin.user_principal_name}


def test_an_extend_request_goes_to_the_approvers_of_its_membership_type(env: Env) -> None:
    directory, _admin, member = _setup(env)
    env.eligible(member, PASSWORD_ADMIN, duration=timedelta(days=5))
    _rules(
        env,
        directory,
        {
            "eligible_assignment": {
                "approver": {
                    "default_recipients": False,
                    "extra_recipients": ["cab@fabrikam.example"],
                }
            },
            "active_assignment": {"approver": {"level": "None"}},
        },
    )
    with env.ctx(env.actor(member)) as ctx:
        service.self_extend(
            ctx,
            directory_id=directory.id,
            role_id=PASSWORD_ADMIN,
            member_type=MemberType.ELIGIBLE,
            end_at=env.now + timedelta(days=60),
            justification="still on call",
        )
    # The PRA (admin) would be the default approver: switched off, only the extra address.
    assert _emails(env)["request.pending_admin_decision"] == {"cab@fabrikam.example"}


def test_the_cap_holds_for_events_under_role_rules(env: Env) -> None:
    directory, admin, member = _setup(env)
    extras = [f"extra{n:03d}@fabrikam.example" for n in range(100)]
    _rules(env, directory, {"activation": {"admin": {"extra_recipients": extras}}})
    many = [f"user{n:04d}@fabrikam.example" for n in range(MAX_RECIPIENTS)]
    with env.ctx(Actor.system()) as ctx:
        enqueue(
            ctx,
            "role.activated",
            {"principal_id": member.id, "role_id": PASSWORD_ADMIN, "recipient_emails": many},
            directory_id=directory.id,
        )
    emails = _emails(env)["role.activated"]
    assert len(emails) == MAX_RECIPIENTS
    # admin + member + 100 extras + 1,000 from the payload, 102 left out.
    assert _summary(env, "role.activated")["truncated"] == 102
    assert admin.user_principal_name in emails  # sorted by address: "admin@" comes first


def test_what_is_critical() -> None:
    assert is_critical(spec_for("request.pending_approval"), highly_privileged=False)
    assert is_critical(spec_for("request.pending_admin_decision"), highly_privileged=False)
    assert is_critical(spec_for("role.activated"), highly_privileged=True)
    assert is_critical(spec_for("assignment.added"), highly_privileged=True)
    assert not is_critical(spec_for("role.activated"), highly_privileged=False)
    assert not is_critical(spec_for("assignment.added"), highly_privileged=False)
    assert not is_critical(spec_for("request.approved"), highly_privileged=False)
