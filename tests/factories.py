"""Factories: small functions that put realistic rows in place, one call per thing a test needs.

They write rows directly (fast, no audit) so each test sets up only what it is about; the
behaviour under test always goes through the services.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import count

import pyotp

from openpim.assignments.models import Assignment, AssignmentType, Eligibility, RoleRequest
from openpim.auth.mfa import seal_secret
from openpim.directory.models import AccountKind, Directory, User, VerifiedDomain
from openpim.kit.clock import FrozenClock
from openpim.kit.context import Actor, ActorKind, Ctx
from openpim.roles import ids
from openpim.runtime import Runtime

_seq = count(1)

GA = ids.GLOBAL_ADMINISTRATOR
PRA = ids.PRIVILEGED_ROLE_ADMINISTRATOR
SECURITY_ADMIN = ids.SECURITY_ADMINISTRATOR
SECURITY_READER = ids.SECURITY_READER
GLOBAL_READER = ids.GLOBAL_READER
USER_ADMIN = ids.USER_ADMINISTRATOR
# Not on Microsoft's highly-privileged list, so MFA on activation may be switched off.
PASSWORD_ADMIN = uuid.UUID("966707d0-3269-4727-9be2-8c3a10f19b9d")
HELPDESK_ADMIN = uuid.UUID("729827e3-9c14-49f7-bb1b-9608f156bbb8")


@dataclass
class Env:
    runtime: Runtime
    clock: FrozenClock
    totp_secrets: dict[uuid.UUID, str] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        return self.clock.now()

    # --- transactions -------------------------------------------------------------------
    @contextmanager
    def ctx(self, actor: Actor | User | None = None) -> Iterator[Ctx]:
        """A unit of work acting as `actor` (a User, an Actor, or the operator by default)."""
        with self.runtime.unit(self._actor(actor), client_address="198.51.100.7") as ctx:
            yield ctx

    def _actor(self, actor: Actor | User | None) -> Actor:
        if actor is None:
            return Actor.operator("tests")
        if isinstance(actor, User):
            return self.actor(actor)
        return actor

    def actor(self, user: User, *, mfa: bool = False, token_kind: str = "session") -> Actor:
        return Actor(
            kind=ActorKind.USER,
            label=user.user_principal_name,
            user_id=user.id,
            directory_id=user.directory_id,
            token_kind=token_kind,
            mfa_verified_at=self.now if mfa else None,
        )

    # --- directory ----------------------------------------------------------------------
    def directory(self, name: str = "Contoso", domain: str | None = None) -> Directory:
        n = next(_seq)
        domain = domain or f"contoso{n}.example"
        with self.runtime.db.unit_of_work() as s:
            directory = Directory(name=name, created_at=self.now)
            s.add(directory)
            s.flush()
            s.add(VerifiedDomain(directory_id=directory.id, domain=domain, created_at=self.now))
        return directory

    def domain_of(self, directory: Directory) -> str:
        with self.runtime.db.reader() as s:
            rows = s.query(VerifiedDomain).filter_by(directory_id=directory.id).all()
            return rows[0].domain

    def user(
        self,
        directory: Directory,
        name: str | None = None,
        *,
        external: bool = False,
        enabled: bool = True,
        mfa: bool = True,
        last_sign_in_at: datetime | None = None,
    ) -> User:
        n = next(_seq)
        local = name or f"user{n}"
        domain = "outlook.example" if external else self.domain_of(directory)
        secret = pyotp.random_base32()
        with self.runtime.db.unit_of_work() as s:
            user = User(
                directory_id=directory.id,
                user_principal_name=f"{local}@{domain}",
                display_name=local.title(),
                account_kind=AccountKind.EXTERNAL if external else AccountKind.ORGANIZATIONAL,
                enabled=enabled,
                totp_secret=seal_secret(self.runtime.settings, secret) if mfa else None,
                totp_enrolled_at=self.now if mfa else None,
                created_at=self.now,
                last_sign_in_at=last_sign_in_at,
            )
            s.add(user)
        if mfa:
            self.totp_secrets[user.id] = secret
        return user

    def totp(self, user: User, at: datetime | None = None) -> str:
        return pyotp.TOTP(self.totp_secrets[user.id]).at(at or self.now)

    # --- schedules ----------------------------------------------------------------------
    def eligible(
        self,
        user: User,
        role_id: uuid.UUID,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        duration: timedelta | None = None,
    ) -> Eligibility:
        start = start or self.now
        if duration is not None:
            end = start + duration
        with self.runtime.db.unit_of_work() as s:
            row = Eligibility(
                directory_id=user.directory_id,
                principal_id=user.id,
                role_id=role_id,
                start_at=start,
                end_at=end,
                created_via="pim",
                created_at=self.now,
            )
            s.add(row)
        return row

    def permanent(
        self,
        user: User,
        role_id: uuid.UUID,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        created_via: str = "pim",
    ) -> Assignment:
        with self.runtime.db.unit_of_work() as s:
            row = Assignment(
                directory_id=user.directory_id,
                principal_id=user.id,
                role_id=role_id,
                start_at=start or self.now,
                end_at=end,
                assignment_type=AssignmentType.ASSIGNED,
                created_via=created_via,
                created_at=self.now,
            )
            s.add(row)
        return row

    def pim_directory(self) -> tuple[Directory, User]:
        """A directory with PIM enabled and one permanent GA + PRA + Security Admin."""
        directory = self.directory()
        admin = self.user(directory, "admin")
        for role in (GA, PRA, SECURITY_ADMIN):
            self.permanent(admin, role)
        with self.runtime.db.unit_of_work() as s:
            row = s.get(Directory, directory.id)
            assert row is not None
            row.pim_enabled_at = self.now
            row.pim_enabled_by_id = admin.id
        return directory, admin

    # --- worker: activations and pending requests (appended by the worker helper) ----------
    def activated(
        self,
        user: User,
        role_id: uuid.UUID,
        *,
        eligibility: Eligibility | None = None,
        start: datetime | None = None,
        duration: timedelta = timedelta(hours=1),
    ) -> Assignment:
        """A time-bound activation drawn on `eligibility` (one is made when not given)."""
        eligibility = eligibility or self.eligible(user, role_id)
        start = start or self.now
        with self.runtime.db.unit_of_work() as s:
            row = Assignment(
                directory_id=user.directory_id,
                principal_id=user.id,
                role_id=role_id,
                start_at=start,
                end_at=start + duration,
                assignment_type=AssignmentType.ACTIVATED,
                eligibility_id=eligibility.id,
                created_via="pim",
                created_at=self.now,
            )
            s.add(row)
        return row

    def pending_request(
        self,
        user: User,
        role_id: uuid.UUID,
        *,
        status: str = "PendingApproval",
        deadline: timedelta | None = timedelta(hours=24),
        duration: timedelta = timedelta(hours=1),
        justification: str = "fix the mail flow",
    ) -> RoleRequest:
        """A self-activation request awaiting a decision, due `deadline` from now."""
        with self.runtime.db.unit_of_work() as s:
            row = RoleRequest(
                directory_id=user.directory_id,
                action="selfActivate",
                member_type="Active",
                principal_id=user.id,
                role_id=role_id,
                requested_by_id=user.id,
                requested_by_label=user.user_principal_name,
                status=status,
                start_at=self.now,
                end_at=self.now + duration,
                justification=justification,
                created_at=self.now,
                approval_deadline=self.now + deadline if deadline is not None else None,
            )
            s.add(row)
        return row


# --- portal (appended by the web portal helper) ------------------------------------------------
PORTAL_PASSWORD = "correct horse battery staple"


def set_password(env: Env, user: User, password: str = PORTAL_PASSWORD) -> None:
    """Give a factory user a password so it can sign in through the portal."""
    from openpim.auth import passwords

    with env.runtime.db.unit_of_work() as s:
        row = s.get(User, user.id)
        assert row is not None
        row.password_hash = passwords.hash_password(password)
