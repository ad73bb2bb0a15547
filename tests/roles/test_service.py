"""Role catalog service: who may read and change it, and the rules of custom roles."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from openpim.assignments.models import RequestAction, RequestStatus, RoleRequest
from openpim.audit.models import AuditEvent
from openpim.directory.models import Directory, User
from openpim.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from openpim.policies.models import RolePolicy
from openpim.policies.schemas import RoleSettingsUpdate
from openpim.policies.service import update_role_settings
from openpim.roles.catalog import BUILT_IN_ROLES
from openpim.roles.models import RoleDefinition
from openpim.roles.service import (
    create_custom_role,
    delete_custom_role,
    get_role,
    list_roles,
    rename_custom_role,
)
from tests.factories import GA, PASSWORD_ADMIN, PRA, Env


def audit(env: Env, action: str) -> list[AuditEvent]:
    with env.runtime.db.reader() as s:
        events = list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )
        s.expunge_all()  # keep the loaded values once the read transaction ends
        return events


def custom(env: Env, directory: Directory, name: str = "Payroll Approver") -> RoleDefinition:
    with env.ctx() as ctx:
        return create_custom_role(ctx, directory.id, name, "Approves payroll runs")


def request_row(env: Env, user: User, role_id: uuid.UUID) -> None:
    with env.runtime.db.unit_of_work() as s:
        s.add(
            RoleRequest(
                directory_id=user.directory_id,
                action=RequestAction.ADMIN_ASSIGN,
                member_type="Eligible",
                principal_id=user.id,
                role_id=role_id,
                requested_by_label="tests",
                status=RequestStatus.DENIED,
                created_at=env.now,
            )
        )


# --- reading ------------------------------------------------------------------------------


def test_any_member_lists_built_ins_and_own_custom_roles_only(env: Env) -> None:
    directory, _admin = env.pim_directory()
    other, _ = env.pim_directory()
    mine = custom(env, directory, "Zeta Operators")
    theirs = custom(env, other, "Other Directory Role")
    plain = env.user(directory)
    with env.ctx(plain) as ctx:
        roles = list_roles(ctx, directory.id)
    role_ids = {r.id for r in roles}
    assert mine.id in role_ids
    assert theirs.id not in role_ids
    assert len(roles) == len(BUILT_IN_ROLES) + 1
    names = [r.display_name.casefold() for r in roles]
    assert names == sorted(names)


def test_operator_reads_any_directory_but_not_a_missing_one(env: Env) -> None:
    directory, _ = env.pim_directory()
    with env.ctx() as ctx:
        assert len(list_roles(ctx, directory.id)) == len(BUILT_IN_ROLES)
        with pytest.raises(NotFound) as missing:
            list_roles(ctx, uuid.uuid4())
    assert missing.value.code == "directory_not_found"


def test_users_of_another_directory_cannot_read_the_catalog(env: Env) -> None:
    directory, _ = env.pim_directory()
    _other, outsider = env.pim_directory()
    with env.ctx(outsider) as ctx:
        with pytest.raises(Forbidden) as denied:
            list_roles(ctx, directory.id)
        assert denied.value.code == "not_directory_member"
        with pytest.raises(Forbidden):
            get_role(ctx, directory.id, GA)


def test_get_role_finds_built_ins_and_hides_other_directories_custom_roles(env: Env) -> None:
    directory, admin = env.pim_directory()
    other, _ = env.pim_directory()
    theirs = custom(env, other)
    with env.ctx(admin) as ctx:
        role = get_role(ctx, directory.id, GA)
        assert role.display_name == "Global Administrator"
        assert role.mfa_always_required and role.is_built_in
        for missing_id in (uuid.uuid4(), theirs.id):
            with pytest.raises(NotFound) as missing:
                get_role(ctx, directory.id, missing_id)
            assert missing.value.code == "role_not_found"


# --- creating -----------------------------------------------------------------------------


def test_pra_creates_a_custom_role_with_an_audit_record(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.ctx(admin) as ctx:
        role = create_custom_role(ctx, directory.id, "  Payroll Approver  ", "Approves payroll")
    assert role.display_name == "Payroll Approver"
    assert role.directory_id == directory.id
    assert not role.is_built_in and not role.mfa_always_required and role.is_privileged
    with env.ctx(admin) as ctx:
        assert get_role(ctx, directory.id, role.id).description == "Approves payroll"
    [event] = audit(env, "role.created")
    assert event.role_id == role.id and event.actor_id == admin.id
    assert event.directory_id == directory.id
    assert json.loads(event.detail or "{}")["display_name"] == "Payroll Approver"


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "bad\nname", "tab\tname"])
def test_role_names_must_be_1_to_200_printable_characters(env: Env, name: str) -> None:
    directory, admin = env.pim_directory()
    with env.ctx(admin) as ctx, pytest.raises(ValidationFailed) as refused:
        create_custom_role(ctx, directory.id, name)
    assert refused.value.code == "role_name_invalid"
    assert refused.value.field == "display_name"
    assert audit(env, "role.created") == []


def test_a_200_character_name_is_accepted(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.ctx(admin) as ctx:
        assert len(create_custom_role(ctx, directory.id, "n" * 200).display_name) == 200


def test_overlong_descriptions_are_refused(env: Env) -> None:
    directory, admin = env.pim_directory()
    with env.ctx(admin) as ctx, pytest.raises(ValidationFailed) as refused:
        create_custom_role(ctx, directory.id, "Role", "d" * 2001)
    assert refused.value.field == "description"


@pytest.mark.parametrize(
    "name", ["global administrator", "GLOBAL ADMINISTRATOR", "Payroll approver"]
)
def test_names_are_unique_case_insensitively_among_built_ins_and_own_roles(
    env: Env, name: str
) -> None:
    directory, admin = env.pim_directory()
    custom(env, directory, "Payroll Approver")
    with env.ctx(admin) as ctx, pytest.raises(Conflict) as taken:
        create_custom_role(ctx, directory.id, name)
    assert taken.value.code == "role_name_taken"


def test_the_same_custom_name_may_exist_in_two_directories(env: Env) -> None:
    first, _ = env.pim_directory()
    second, _ = env.pim_directory()
    a = custom(env, first, "Payroll Approver")
    b = custom(env, second, "Payroll Approver")
    assert a.id != b.id


def test_only_an_active_pra_or_the_operator_may_create(env: Env) -> None:
    directory, _admin = env.pim_directory()
    ga_only = env.user(directory)
    env.permanent(ga_only, GA)
    eligible_pra = env.user(directory)
    env.eligible(eligible_pra, PRA)
    expired_pra = env.user(directory)
    env.permanent(expired_pra, PRA, end=env.now)
    for user in (ga_only, eligible_pra, expired_pra):
        with env.ctx(user) as ctx, pytest.raises(Forbidden) as denied:
            create_custom_role(ctx, directory.id, "Sneaky")
        assert denied.value.code == "not_privileged_role_administrator"
    assert audit(env, "role.created") == []
    with env.ctx() as ctx:
        role = create_custom_role(ctx, directory.id, "Sneaky")
    [event] = audit(env, "role.created")
    assert event.actor_label == "operator:tests" and event.role_id == role.id


def test_a_pra_of_another_directory_cannot_create_here(env: Env) -> None:
    directory, _ = env.pim_directory()
    _other, foreign_admin = env.pim_directory()
    with env.ctx(foreign_admin) as ctx, pytest.raises(Forbidden):
        create_custom_role(ctx, directory.id, "Foreign")


# --- renaming -----------------------------------------------------------------------------


def test_rename_changes_name_and_description_with_old_and_new_in_the_audit(env: Env) -> None:
    directory, admin = env.pim_directory()
    role = custom(env, directory, "Payroll Approver")
    with env.ctx(admin) as ctx:
        renamed = rename_custom_role(
            ctx, directory.id, role.id, "Payroll Signer", description="Signs payroll"
        )
    assert renamed.display_name == "Payroll Signer"
    [event] = audit(env, "role.renamed")
    detail = json.loads(event.detail or "{}")
    assert detail["display_name"] == {"old": "Payroll Approver", "new": "Payroll Signer"}
    assert detail["description"] == {"old": "Approves payroll runs", "new": "Signs payroll"}
    with env.ctx(admin) as ctx:
        assert get_role(ctx, directory.id, role.id).display_name == "Payroll Signer"


def test_rename_to_a_different_case_of_itself_is_allowed_and_a_no_op_is_not_audited(
    env: Env,
) -> None:
    directory, admin = env.pim_directory()
    role = custom(env, directory, "Payroll Approver")
    with env.ctx(admin) as ctx:
        rename_custom_role(ctx, directory.id, role.id, "Payroll Approver")
    assert audit(env, "role.renamed") == []
    with env.ctx(admin) as ctx:
        assert rename_custom_role(ctx, directory.id, role.id, "payroll approver").display_name == (
            "payroll approver"
        )
    assert len(audit(env, "role.renamed")) == 1


def test_rename_refuses_taken_names_built_ins_and_foreign_roles(env: Env) -> None:
    directory, admin = env.pim_directory()
    other, _ = env.pim_directory()
    role = custom(env, directory, "Payroll Approver")
    custom(env, directory, "Billing Helper")
    theirs = custom(env, other, "Theirs")
    with env.ctx(admin) as ctx:
        with pytest.raises(Conflict) as taken:
            rename_custom_role(ctx, directory.id, role.id, "BILLING HELPER")
        assert taken.value.code == "role_name_taken"
        with pytest.raises(Conflict) as taken_built_in:
            rename_custom_role(ctx, directory.id, role.id, "Security Reader")
        assert taken_built_in.value.code == "role_name_taken"
        with pytest.raises(Forbidden) as built_in:
            rename_custom_role(ctx, directory.id, GA, "Boss")
        assert built_in.value.code == "built_in_role"
        with pytest.raises(NotFound) as foreign:
            rename_custom_role(ctx, directory.id, theirs.id, "Mine now")
        assert foreign.value.code == "role_not_found"
        with pytest.raises(ValidationFailed):
            rename_custom_role(ctx, directory.id, role.id, " ")
    plain = env.user(directory)
    with env.ctx(plain) as ctx, pytest.raises(Forbidden) as denied:
        rename_custom_role(ctx, directory.id, role.id, "Plain's role")
    assert denied.value.code == "not_privileged_role_administrator"
    assert audit(env, "role.renamed") == []


# --- deleting -----------------------------------------------------------------------------


def test_an_unused_custom_role_is_deleted_with_its_settings(env: Env) -> None:
    directory, admin = env.pim_directory()
    role = custom(env, directory)
    with env.ctx(admin) as ctx:
        update_role_settings(ctx, directory.id, role.id, RoleSettingsUpdate(eligible_max_days=30))
    with env.ctx(admin) as ctx:
        delete_custom_role(ctx, directory.id, role.id)
    with env.ctx(admin) as ctx, pytest.raises(NotFound):
        get_role(ctx, directory.id, role.id)
    with env.runtime.db.reader() as s:
        assert s.scalars(select(RolePolicy).where(RolePolicy.role_id == role.id)).all() == []
    [event] = audit(env, "role.deleted")
    assert event.role_id == role.id and event.role_label == "Payroll Approver"
    assert json.loads(event.detail or "{}")["had_custom_settings"] is True
    # The name is free again.
    assert custom(env, directory).display_name == "Payroll Approver"


def test_a_role_anyone_held_or_requested_cannot_be_deleted(env: Env) -> None:
    directory, admin = env.pim_directory()
    member = env.user(directory)
    eligible_role = custom(env, directory, "Eligible Role")
    env.eligible(member, eligible_role.id)
    ended_role = custom(env, directory, "Ended Assignment Role")
    env.permanent(member, ended_role.id, start=env.now - timedelta(days=2), end=env.now)
    requested_role = custom(env, directory, "Requested Role")
    request_row(env, member, requested_role.id)
    for role, what in (
        (eligible_role, "eligibility"),
        (ended_role, "assignment"),
        (requested_role, "request"),
    ):
        with env.ctx(admin) as ctx, pytest.raises(Conflict) as in_use:
            delete_custom_role(ctx, directory.id, role.id)
        assert in_use.value.code == "role_in_use"
        assert in_use.value.extra["referenced_by"] == what
        with env.ctx(admin) as ctx:
            assert get_role(ctx, directory.id, role.id).id == role.id
    assert audit(env, "role.deleted") == []


def test_built_in_foreign_and_unauthorised_deletes_are_refused(env: Env) -> None:
    directory, admin = env.pim_directory()
    other, _ = env.pim_directory()
    role = custom(env, directory)
    theirs = custom(env, other)
    with env.ctx(admin) as ctx:
        with pytest.raises(Forbidden) as built_in:
            delete_custom_role(ctx, directory.id, PASSWORD_ADMIN)
        assert built_in.value.code == "built_in_role"
        with pytest.raises(NotFound) as foreign:
            delete_custom_role(ctx, directory.id, theirs.id)
        assert foreign.value.code == "role_not_found"
    with env.ctx() as ctx, pytest.raises(Forbidden):
        delete_custom_role(ctx, directory.id, GA)
    plain = env.user(directory)
    with env.ctx(plain) as ctx, pytest.raises(Forbidden) as denied:
        delete_custom_role(ctx, directory.id, role.id)
    assert denied.value.code == "not_privileged_role_administrator"
    with env.ctx(admin) as ctx:
        assert get_role(ctx, directory.id, role.id).id == role.id
    assert audit(env, "role.deleted") == []
