"""Small helpers for the auth and directory tests (kept here, not in the shared factories)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TypeVar

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from openpim.assignments.models import Assignment, AssignmentType
from openpim.audit.models import AuditEvent
from openpim.auth import passwords
from openpim.auth.anonymous import anonymous_actor
from openpim.auth.mfa import open_secret
from openpim.auth.models import AuthFailure, AuthToken
from openpim.auth.outcome import Outcome
from openpim.auth.password_check import check_password
from openpim.auth.sign_in import sign_in
from openpim.auth.tokens import issue_session
from openpim.directory.models import User
from openpim.kit.context import Actor, ActorKind
from tests.factories import Env

PASSWORD = "correct horse battery staple"
ADDRESS = "203.0.113.5"
M = TypeVar("M")


def fast_hasher() -> Iterator[PasswordHasher]:
    """Real argon2id with tiny parameters: tests that are not about hashing stay fast."""
    previous = passwords.use_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield passwords.current_hasher()
    passwords.use_hasher(previous)


fast_hasher_fixture = pytest.fixture(autouse=True, name="fast_hasher")(fast_hasher)


def set_password(env: Env, user: User, password: str = PASSWORD) -> None:
    with env.runtime.db.unit_of_work() as s:
        row = s.get(User, user.id)
        assert row is not None
        row.password_hash = passwords.hash_password(password)


def attempt(
    env: Env,
    upn: str,
    password: str = PASSWORD,
    code: str | None = None,
    *,
    address: str | None = ADDRESS,
    directory_id: uuid.UUID | None = None,
) -> Outcome[tuple[str, AuthToken]]:
    """A sign-in as the API adapter does it: the password is checked in a read transaction,
    the sign-in recorded in a unit that commits, then the caller unwraps."""
    with env.runtime.read(anonymous_actor(), client_address=address) as ctx:
        check = check_password(ctx, upn, password, directory_id)
    with env.runtime.unit(anonymous_actor(), client_address=address) as ctx:
        return sign_in(ctx, check, code)


def session(env: Env, user: User, *, mfa: bool = False) -> tuple[str, AuthToken]:
    with env.runtime.unit(env.actor(user)) as ctx:
        row = ctx.session.get(User, user.id)
        assert row is not None
        return issue_session(ctx, row, mfa_verified_at=ctx.now if mfa else None)


def token_actor(env: Env, user: User, token: AuthToken) -> Actor:
    return Actor(
        kind=ActorKind.USER,
        label=user.user_principal_name,
        user_id=user.id,
        directory_id=user.directory_id,
        token_id=token.id,
        token_kind=token.kind,
        mfa_verified_at=token.mfa_verified_at,
    )


def code_at(secret: str, at: datetime) -> str:
    return pyotp.TOTP(secret).at(at)


def activation(
    env: Env,
    user: User,
    role_id: uuid.UUID,
    *,
    start: datetime | None = None,
    duration: timedelta = timedelta(hours=1),
) -> Assignment:
    start = start or env.now
    with env.runtime.db.unit_of_work() as s:
        row = Assignment(
            directory_id=user.directory_id,
            principal_id=user.id,
            role_id=role_id,
            start_at=start,
            end_at=start + duration,
            assignment_type=AssignmentType.ACTIVATED,
            created_via="pim",
            created_at=env.now,
        )
        s.add(row)
    return row


def audit_actions(env: Env) -> list[str]:
    with env.runtime.db.reader() as s:
        return list(s.execute(select(AuditEvent.action).order_by(AuditEvent.seq)).scalars())


def audit_events(env: Env, action: str) -> list[AuditEvent]:
    with env.runtime.db.reader() as s:
        statement = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        rows = list(s.execute(statement).scalars())
        s.expunge_all()
        return rows


def failure_count(env: Env) -> int:
    with env.runtime.db.reader() as s:
        return int(s.execute(select(func.count()).select_from(AuthFailure)).scalar_one())


def reload(env: Env, model: type[M], row_id: uuid.UUID) -> M:
    """A fresh copy of a row, detached before the read session's rollback can expire it."""
    with env.runtime.db.reader() as s:
        row = s.get(model, row_id)
        assert row is not None
        s.expunge(row)
        return row


def opened(env: Env, stored: str | None) -> str | None:
    """A stored TOTP secret in clear (they are sealed at rest)."""
    return None if stored is None else open_secret(env.runtime.settings, stored)
