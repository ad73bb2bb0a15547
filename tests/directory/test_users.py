from __future__ import annotations

import json

import pytest

from openpim.auth.models import AuthToken
from openpim.auth.passwords import verify_password
from openpim.directory.models import Directory, User
from openpim.directory.schemas import UserOut
from openpim.directory.service import (
    create_user,
    find_user_by_upn,
    get_user,
    list_users,
    set_password,
)
from openpim.kit.errors import Conflict, Forbidden, NotFound, ValidationFailed
from tests.auth.helpers import PASSWORD, attempt, audit_events, reload, session
from tests.factories import GLOBAL_READER, USER_ADMIN, Env


def _admin(env: Env) -> tuple[Directory, User]:
    directory = env.directory()
    admin = env.user(directory, "admin")
    env.permanent(admin, USER_ADMIN)
    return directory, admin


def test_create_user_normalizes_and_classifies(env: Env) -> None:
    directory, admin = _admin(env)
    domain = env.domain_of(directory)
    with env.ctx(admin) as ctx:
        org = create_user(ctx, directory.id, f" Alice@{domain.upper()} ", " Alice ", PASSWORD)
        ext = create_user(ctx, directory.id, "bob@outlook.example", "Bob", None)

    assert (org.user_principal_name, org.display_name) == (f"alice@{domain}", "Alice")
    assert (org.account_kind, ext.account_kind) == ("organizational", "external")
    stored = reload(env, User, org.id)
    assert stored.password_hash is not None and verify_password(stored.password_hash, PASSWORD)
    assert reload(env, User, ext.id).password_hash is None
    assert stored.enabled and not stored.mfa_enrolled
    [first, _] = audit_events(env, "user.created")
    assert first.target_user_id == org.id and first.actor_id == admin.id
    assert PASSWORD not in (first.detail or "")


def test_duplicate_user_is_a_conflict(env: Env) -> None:
    directory, admin = _admin(env)
    with env.ctx(admin) as ctx:
        create_user(ctx, directory.id, "pat@outlook.example", "Pat", None)
    with pytest.raises(Conflict) as caught, env.ctx(admin) as ctx:
        create_user(ctx, directory.id, "PAT@outlook.example", "Pat again", None)
    assert caught.value.code == "user_exists"
    # The same external name may exist in another directory.
    with env.ctx() as ctx:
        create_user(ctx, env.directory().id, "pat@outlook.example", "Pat", None)


@pytest.mark.parametrize(
    ("upn", "name", "password", "field"),
    [
        ("no-at-sign", "X", None, "user_principal_name"),
        ("a..b@contoso.example", "X", None, "user_principal_name"),
        ("a b@contoso.example", "X", None, "user_principal_name"),
        ("a@nodot", "X", None, "user_principal_name"),
        ("@contoso.example", "X", None, "user_principal_name"),
        ("ok@contoso.example", "   ", None, "display_name"),
        ("ok@contoso.example", "X", "elevenchars", "password"),
    ],
)
def test_create_user_validation(
    env: Env, upn: str, name: str, password: str | None, field: str
) -> None:
    directory, admin = _admin(env)
    with pytest.raises(ValidationFailed) as caught, env.ctx(admin) as ctx:
        create_user(ctx, directory.id, upn, name, password)
    assert caught.value.field == field


def test_create_user_needs_a_user_administrator_of_that_directory(env: Env) -> None:
    directory, _ = _admin(env)
    bob = env.user(directory, "bob")
    _, foreign_admin = _admin(env)
    for actor in (bob, foreign_admin):
        with pytest.raises(Forbidden), env.ctx(actor) as ctx:
            create_user(ctx, directory.id, "new@outlook.example", "New", None)


def test_list_users_pages_by_name_and_searches(env: Env) -> None:
    directory, admin = _admin(env)
    with env.ctx(admin) as ctx:
        for local in ("carol", "dave", "erin", "frank"):
            create_user(ctx, directory.id, f"{local}@outlook.example", f"{local.title()} X", None)
        create_user(ctx, directory.id, "zed@outlook.example", "Percent 100% Sure", None)

    seen: list[str] = []
    after = None
    with env.ctx(admin) as ctx:
        while True:
            page = list_users(ctx, directory.id, limit=2, after=after)
            seen += [u.user_principal_name for u in page.items]
            if page.next_after is None:
                break
            after = page.next_after
        assert seen == sorted(seen) and len(seen) == 6  # five new ones plus the admin
        by_name = list_users(ctx, directory.id, search="FRANK")
        assert [u.display_name for u in by_name.items] == ["Frank X"]
        # LIKE wildcards in the search are taken literally.
        assert [u.display_name for u in list_users(ctx, directory.id, search="0%").items] == [
            "Percent 100% Sure"
        ]
        assert list_users(ctx, directory.id, search="_").items == []
        with pytest.raises(ValidationFailed):
            list_users(ctx, directory.id, limit=0)


def test_reading_users(env: Env) -> None:
    directory, _ = _admin(env)
    alice = env.user(directory, "alice")
    bob = env.user(directory, "bob")
    reader = env.user(directory, "reader")
    env.permanent(reader, GLOBAL_READER)
    elsewhere = env.directory()

    with env.ctx(alice) as ctx:
        assert get_user(ctx, directory.id, alice.id).id == alice.id
        assert find_user_by_upn(ctx, directory.id, alice.user_principal_name) is not None
    with pytest.raises(Forbidden), env.ctx(alice) as ctx:
        get_user(ctx, directory.id, bob.id)
    with pytest.raises(Forbidden), env.ctx(alice) as ctx:
        list_users(ctx, directory.id)
    with env.ctx(reader) as ctx:
        assert get_user(ctx, directory.id, bob.id).id == bob.id
        found = find_user_by_upn(ctx, directory.id, bob.user_principal_name.upper())
        assert found is not None and found.id == bob.id
        assert find_user_by_upn(ctx, directory.id, "nobody@outlook.example") is None
        with pytest.raises(Forbidden):
            get_user(ctx, elsewhere.id, bob.id)
    with pytest.raises(NotFound), env.ctx() as ctx:  # the operator may look anywhere
        get_user(ctx, elsewhere.id, bob.id)


def test_set_password_ends_the_users_sessions(env: Env) -> None:
    directory, admin = _admin(env)
    alice = env.user(directory, "alice", mfa=False)
    _, token = session(env, alice)
    with env.ctx(admin) as ctx:
        set_password(ctx, directory.id, alice.id, "a brand new password")
    assert reload(env, AuthToken, token.id).revoked_at == env.now
    assert attempt(env, alice.user_principal_name, "a brand new password").ok
    [event] = audit_events(env, "user.password_set")
    assert json.loads(event.detail or "{}")["tokens_revoked"] == 1


def test_user_out_never_carries_secrets(env: Env) -> None:
    alice = env.user(env.directory(), "alice")
    stored = reload(env, User, alice.id)
    stored.password_hash = "$argon2id$secret-hash"
    out = UserOut.model_validate(stored).model_dump()
    assert out["mfa_enrolled"] is True
    assert not {"password_hash", "totp_secret", "totp_pending_secret", "totp_last_step"} & set(out)
    dumped = UserOut.model_validate(stored).model_dump_json()
    assert stored.totp_secret is not None and stored.totp_secret not in dumped
    assert "secret-hash" not in dumped
