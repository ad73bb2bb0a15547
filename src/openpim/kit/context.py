"""Who is acting, when, and through which transaction: passed to every service call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from openpim.config import Settings
from openpim.kit.clock import Clock


class ActorKind(StrEnum):
    USER = "user"
    # Someone at the server's shell (the CLI): holds the database, so PIM's own rules of who may
    # manage do not apply, but every change is still audited under this label.
    OPERATOR = "operator"
    # The worker and other automatic processes.
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    label: str
    user_id: uuid.UUID | None = None
    directory_id: uuid.UUID | None = None
    token_id: uuid.UUID | None = None
    token_kind: str | None = None  # "session" or "api"
    # When the caller's sign-in session last proved MFA; never set for API tokens.
    mfa_verified_at: datetime | None = None

    @classmethod
    def operator(cls, label: str) -> Actor:
        return cls(kind=ActorKind.OPERATOR, label=f"operator:{label}")

    @classmethod
    def system(cls, label: str = "system:worker") -> Actor:
        return cls(kind=ActorKind.SYSTEM, label=label)


@dataclass
class Ctx:
    """Service context. `session` is inside a unit of work; services flush, never commit."""

    session: Session
    clock: Clock
    settings: Settings
    actor: Actor
    client_address: str | None = None
    request_id: str | None = None
    _now: datetime | None = field(default=None, repr=False)

    @property
    def now(self) -> datetime:
        """One instant per service call, so a rule never sees two different 'nows'."""
        if self._now is None:
            self._now = self.clock.now()
        return self._now
