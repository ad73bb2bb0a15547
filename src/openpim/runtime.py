"""The running system's handles (settings, database, clock) and the way adapters call services.

API routes, web pages, the CLI, the worker and tests all open a unit of work here and hand the
resulting Ctx to service functions; none of them manages transactions by itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from openpim.config import Settings, with_secret_key
from openpim.db.session import Database, open_database
from openpim.kit.clock import Clock, SystemClock
from openpim.kit.context import Actor, Ctx
from openpim.kit.errors import DomainError


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        settings = with_secret_key(settings)
        return cls(
            settings=settings, db=open_database(settings.database_url), clock=clock or SystemClock()
        )

    @contextmanager
    def unit(
        self,
        actor: Actor,
        *,
        client_address: str | None = None,
        request_id: str | None = None,
    ) -> Iterator[Ctx]:
        """A write transaction: the service's changes and their audit commit together.

        When the service refuses with a DomainError that carries `after_rollback` work (a failed
        MFA attempt to count and audit), that work commits in its own transaction after the
        failed one rolled back, and the error is raised on.
        """
        try:
            with self.db.unit_of_work() as session:
                yield self._ctx(session, actor, client_address, request_id)
        except DomainError as err:
            work, err.after_rollback = err.after_rollback, None
            if work is not None:
                with self.db.unit_of_work() as session:
                    work(self._ctx(session, actor, client_address, request_id))
            raise

    def _ctx(
        self,
        session: Session,
        actor: Actor,
        client_address: str | None,
        request_id: str | None,
    ) -> Ctx:
        return Ctx(
            session=session,
            clock=self.clock,
            settings=self.settings,
            actor=actor,
            client_address=client_address,
            request_id=request_id,
        )

    @contextmanager
    def read(
        self,
        actor: Actor,
        *,
        client_address: str | None = None,
        request_id: str | None = None,
    ) -> Iterator[Ctx]:
        """A read transaction (on SQLite it never holds the write lock)."""
        with self.db.reader() as session:
            yield self._ctx(session, actor, client_address, request_id)
