from __future__ import annotations

import uuid

import pyotp
import pytest
from sqlalchemy import select

from openpim.assignments.models import Assignment
from openpim.directory.models import Directory, User, VerifiedDomain
from openpim.directory.service import (
    add_verified_domain,
    bootstrap,
    create_directory,
    create_user,
    list_domains,
    remove_verified_domain,
)
from openpim.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from openpim.roles.ids import GLOBAL_ADMINISTRATOR
from tests.auth.helpers import PASSWORD, attempt, audit_actions, opened, reload
from tests.factories import USER_ADMIN, Env


def _domains(env: Env, directory_id: uuid.UUID) -> list[str]:
    with env.ctx() as ctx:
        return [d.domain for d in list_domains(ctx, directory_id)]


def test_operator_creates_a_directory_with_normalized_domains(env: Env) -> None:
    with env.ctx() as ctx:
        directory = create_directory(
            ctx, " Fabrikam ", ["Fabrikam.COM", "fabrikam.com.", "eu.fabrikam.com"]
        )
    assert reload(env, Directory, directory.id).name == "Fabrikam"
    assert _domains(env, directory.id) == ["eu.fabrikam.com", "fabrikam.com"]
    assert "directory.created" in audit_actions(env)


def test_users_cannot_create_directories(env: Env) -> None:
    _directory, admin = env.pim_directory()
    with pytest.raises(Forbidden) as caught, env.ctx(admin) as ctx:
        create_directory(ctx, "Mine", [])
    assert caught.value.code == "not_operator"


@pytest.mark.parametrize(
    "domain",
    [
        "localhost",
        "-bad.com",
        "bad-.com",
        "a..b.com",
        "exa mple.com",
        "x.123",
        "ünï.com",
        "a_b.com",
    ],
)
def test_invalid_domains_are_refused(env: Env, domain: str) -> None:
    with pytest.raises(ValidationFailed) as caught, env.ctx() as ctx:
        create_directory(ctx, "Fabrikam", [domain])
    assert caught.value.code == "invalid_domain"


def test_a_domain_is_verified_in_one_directory_only(env: Env) -> None:
    first = env.directory(domain="shared.example")
    second = env.directory()
    with pytest.raises(Conflict) as caught, env.ctx() as ctx:
        add_verified_domain(ctx, second.id, "SHARED.example")
    assert caught.value.code == "domain_taken"
    with pytest.raises(Conflict), env.ctx() as ctx:
        create_directory(ctx, "Third", ["shared.example"])
    assert _domains(env, first.id) == ["shared.example"]


def test_verifying_a_domain_makes_its_users_organizational(env: Env) -> None:
    directory = env.directory()
    admin = env.user(directory, "admin")
    env.permanent(admin, USER_ADMIN)
    with env.ctx(admin) as ctx:
        partner = create_user(ctx, directory.id, "pat@fabrikam.example", "Pat", None)
    assert partner.account_kind == "external"

    with env.ctx(admin) as ctx:
        add_verified_domain(ctx, directory.id, "fabrikam.example")

    assert reload(env, User, partner.id).account_kind == "organizational"
    assert "domain.added" in audit_actions(env)


def test_domain_changes_need_a_user_administrator(env: Env) -> None:
    directory = env.directory()
    bob = env.user(directory, "bob")
    with pytest.raises(Forbidden), env.ctx(bob) as ctx:
        add_verified_domain(ctx, directory.id, "bob.example")
    with pytest.raises(Forbidden), env.ctx(bob) as ctx:
        remove_verified_domain(ctx, directory.id, env.domain_of(directory))


def test_a_domain_in_use_cannot_be_removed(env: Env) -> None:
    directory = env.directory()
    domain = env.domain_of(directory)
    env.user(directory, "alice")
    with env.ctx() as ctx:
        add_verified_domain(ctx, directory.id, "spare.example")
    with pytest.raises(Conflict) as caught, env.ctx() as ctx:
        remove_verified_domain(ctx, directory.id, domain)
    assert caught.value.code == "domain_in_use"

    with env.ctx() as ctx:
        remove_verified_domain(ctx, directory.id, "spare.example")
    assert _domains(env, directory.id) == [domain]
    with pytest.raises(NotFound), env.ctx() as ctx:
        remove_verified_domain(ctx, directory.id, "spare.example")
    assert "domain.removed" in audit_actions(env)


# --- bootstrap ------------------------------------------------------------------------------


def _bootstrap(env: Env, admin_upn: str = "Admin@Contoso.example") -> tuple[Directory, User, str]:
    with env.ctx() as ctx:
        return bootstrap(ctx, "Contoso", "contoso.example", admin_upn, "The Admin", PASSWORD)


def test_bootstrap_creates_the_first_admin_with_a_permanent_global_administrator_role(
    env: Env,
) -> None:
    directory, admin, secret = _bootstrap(env)

    assert admin.user_principal_name == "admin@contoso.example"
    assert admin.account_kind == "organizational"
    stored = reload(env, User, admin.id)
    assert stored.totp_secret is not None and secret not in stored.totp_secret
    assert opened(env, stored.totp_secret) == secret and stored.totp_enrolled_at == env.now
    with env.runtime.db.reader() as s:
        [assignment] = s.execute(select(Assignment)).scalars().all()
        assert (assignment.principal_id, assignment.role_id) == (admin.id, GLOBAL_ADMINISTRATOR)
        assert assignment.end_at is None and assignment.request_id is None
        assert (assignment.assignment_type, assignment.created_via) == ("Assigned", "bootstrap")
        assert [d.domain for d in s.execute(select(VerifiedDomain)).scalars()] == [
            "contoso.example"
        ]
    assert {"directory.created", "user.created", "assignment.created"} <= set(audit_actions(env))
    # The admin can sign in with the password and the returned secret.
    code = pyotp.TOTP(secret).at(env.now)
    assert attempt(env, "admin@contoso.example", PASSWORD, code).ok
    assert directory.name == "Contoso"


def test_bootstrap_runs_once(env: Env) -> None:
    _bootstrap(env)
    with pytest.raises(Conflict) as caught:
        _bootstrap(env, "other@contoso.example")
    assert caught.value.code == "already_bootstrapped"


def test_bootstrap_refuses_once_any_directory_exists(env: Env) -> None:
    env.directory()
    with pytest.raises(Conflict):
        _bootstrap(env)


def test_bootstrap_admin_must_be_on_the_domain_and_have_a_good_password(env: Env) -> None:
    with pytest.raises(ValidationFailed) as off_domain:
        _bootstrap(env, "admin@outlook.example")
    assert off_domain.value.field == "admin_upn"
    with pytest.raises(ValidationFailed) as weak, env.ctx() as ctx:
        bootstrap(ctx, "Contoso", "contoso.example", "a@contoso.example", "A", "short")
    assert weak.value.field == "admin_password"
    with env.runtime.db.reader() as s:
        assert s.execute(select(Directory)).first() is None
