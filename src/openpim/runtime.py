"""The running system's handles (settings, database, clock) and the way adapters call services.

API routes, web pages, the CLI, the worker and tests all open a unit of work here and hand the
resulting Ctx to service functions; none of them manages transactions by itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from openpim.config import Settings
from openpim.db.session import Database, open_database
from openpim.kit.clock import Clock, SystemClock
from openpim.kit.context import Actor, Ctx


@dataclass
class Runtime:
    settings: Settings
    db: Database
    clock: Clock = field(default_factory=SystemClock)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
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
        """A write transaction: the service's changes and their audit commit together."""
        with self.db.unit_of_work() as session:
            yield Ctx(
                session=session,
                clock=self.clock,
                settings=self.settings,
                actor=actor,
                client_address=client_address,
                request_id=request_id,
            )

    @contextmanager
    def read(self, actor: Actor) -> Iterator[Ctx]:
        with self.db.reader() as session:
            yield Ctx(session=session, clock=self.clock, settings=self.settings, actor=actor)
