"""Random sequences of PIM operations, checked after every step against a naive oracle.

The oracle keeps plain lists of eligibilities, activations and pending requests and applies
the rules of DESIGN.md in the most direct way; the system must agree with it on who holds which
role active at every moment, and on which operations succeed.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule

from openpim.access.service import active_role_ids
from openpim.assignments import service
from openpim.assignments.models import MemberType, RequestStatus
from openpim.config import Settings
from openpim.db.session import Database
from openpim.kit.clock import FrozenClock
from openpim.kit.errors import DomainError
from openpim.policies.models import RolePolicy
from openpim.runtime import Runtime
from tests.conftest import _reset
from tests.factories import HELPDESK_ADMIN, PASSWORD_ADMIN, Env

DIRECT = PASSWORD_ADMIN  # activation needs no approval
APPROVED = HELPDESK_ADMIN  # activation waits for a PRA
ROLES = (DIRECT, APPROVED)
FIVE = timedelta(minutes=5)
MAX_ACTIVATION = timedelta(hours=8)


@dataclass
class Window:
    start: datetime
    end: datetime | None

    def live(self, t: datetime) -> bool:
        return self.start <= t and (self.end is None or t < self.end)

    def overlaps(self, start: datetime, end: datetime | None) -> bool:
        after_start = self.end is None or self.end > start
        before_end = end is None or self.start < end
        return after_start and before_end and (self.end is None or self.end > self.start)


@dataclass
class Pending:
    request_id: uuid.UUID
    user: int
    role: uuid.UUID
    duration: timedelta


class MembershipMachine(RuleBasedStateMachine):
    def __init__(self, database: Database, backend_url: str) -> None:
        super().__init__()
        self.clock = FrozenClock()
        _reset(database, self.clock)
        runtime = Runtime(
            settings=Settings(database_url=backend_url, secret_key="k" * 32),  # type: ignore[arg-type]
            db=database,
            clock=self.clock,
        )
        self.env = Env(runtime=runtime, clock=self.clock)
        self.directory, self.admin = self.env.pim_directory()
        self.users = [self.env.user(self.directory, f"u{i}") for i in range(3)]
        with database.unit_of_work() as s:
            for role in ROLES:
                s.add(
                    RolePolicy(
                        directory_id=self.directory.id,
                        role_id=role,
                        updated_at=self.clock.now(),
                        activation_max_seconds=int(MAX_ACTIVATION.total_seconds()),
                        require_mfa_on_activation=False,
                        require_justification_on_activation=True,
                        require_ticket_on_activation=False,
                        require_approval_on_activation=role == APPROVED,
                        approver_ids=[],
                        notify_default_recipients=True,
                        notify_extra_recipients=[],
                        eligible_allow_permanent=True,
                        eligible_max_days=365,
                        active_allow_permanent=True,
                        active_max_days=180,
                        require_mfa_on_active_assignment=False,
                        require_justification_on_active_assignment=True,
                    )
                )
        self.eligibilities: dict[tuple[int, uuid.UUID], list[Window]] = {}
        self.activations: dict[tuple[int, uuid.UUID], list[Window]] = {}
        self.pending: list[Pending] = []

    # --- oracle helpers ---------------------------------------------------------------
    @property
    def now(self) -> datetime:
        return self.clock.now()

    def _elig(self, user: int, role: uuid.UUID) -> list[Window]:
        return self.eligibilities.setdefault((user, role), [])

    def _acts(self, user: int, role: uuid.UUID) -> list[Window]:
        return self.activations.setdefault((user, role), [])

    def _covering(self, user: int, role: uuid.UUID, t: datetime) -> Window | None:
        live = [w for w in self._elig(user, role) if w.live(t)]
        if not live:
            return None
        return max(live, key=lambda w: (w.end is None, w.end or t))

    def _expect(self, ok: bool, call) -> object:  # type: ignore[no-untyped-def]
        try:
            result = call()
        except DomainError as err:
            assert not ok, f"system refused what the oracle allows: {err.code}: {err}"
            return None
        assert ok, "system allowed what the oracle refuses"
        return result

    def _as(self, user: int):  # type: ignore[no-untyped-def]
        return self.env.ctx(self.env.actor(self.users[user], mfa=True))

    # --- rules --------------------------------------------------------------------------
    pairs = Bundle("pairs")

    @initialize()
    def start(self) -> None:
        pass

    @rule(
        target=pairs,
        user=st.integers(0, 2),
        role=st.sampled_from(ROLES),
        days=st.one_of(st.none(), st.integers(1, 3)),
    )
    def assign(self, user: int, role: uuid.UUID, days: int | None) -> tuple[int, uuid.UUID]:
        end = self.now + timedelta(days=days) if days else None
        ok = not any(w.overlaps(self.now, end) for w in self._elig(user, role))

        def call():  # type: ignore[no-untyped-def]
            with self.env.ctx(self.admin) as ctx:
                return service.admin_assign(
                    ctx,
                    directory_id=self.directory.id,
                    principal_id=self.users[user].id,
                    role_id=role,
                    member_type=MemberType.ELIGIBLE,
                    end_at=end,
                )

        if self._expect(ok, call) is not None:
            self._elig(user, role).append(Window(self.now, end))
        return (user, role)

    @rule(pair=pairs, minutes=st.integers(1, 600))
    def activate_assigned(self, pair: tuple[int, uuid.UUID], minutes: int) -> None:
        """Activations of pairs that were assigned at some point (most of them succeed)."""
        self.activate(pair[0], pair[1], minutes)

    @rule(user=st.integers(0, 2), role=st.sampled_from(ROLES), minutes=st.integers(1, 600))
    def activate(self, user: int, role: uuid.UUID, minutes: int) -> None:
        duration = timedelta(minutes=minutes)
        elig = self._covering(user, role, self.now)
        end = self.now + duration
        if elig is not None and elig.end is not None:
            end = min(end, elig.end)
        has_pending = any(p.user == user and p.role == role for p in self.pending)
        ok = (
            FIVE <= duration <= MAX_ACTIVATION
            and elig is not None
            and end - self.now >= FIVE
            and not any(w.overlaps(self.now, end) for w in self._acts(user, role))
            and not has_pending
        )

        def call():  # type: ignore[no-untyped-def]
            with self._as(user) as ctx:
                return service.self_activate(
                    ctx,
                    directory_id=self.directory.id,
                    role_id=role,
                    duration=duration,
                    justification="machine",
                )

        request = self._expect(ok, call)
        if request is None:
            return
        if role == APPROVED:
            assert request.status == RequestStatus.PENDING_APPROVAL  # type: ignore[attr-defined]
            self.pending.append(Pending(request.id, user, role, duration))  # type: ignore[attr-defined]
        else:
            self._acts(user, role).append(Window(self.now, end))

    @rule(pair=pairs)
    def deactivate_assigned(self, pair: tuple[int, uuid.UUID]) -> None:
        self.deactivate(pair[0], pair[1])

    @rule(user=st.integers(0, 2), role=st.sampled_from(ROLES))
    def deactivate(self, user: int, role: uuid.UUID) -> None:
        live = [w for w in self._acts(user, role) if w.end is None or w.end > self.now]
        live.sort(key=lambda w: w.start)
        target = live[0] if live else None
        ok = target is not None and not (
            target.start <= self.now and self.now - target.start < FIVE
        )

        def call():  # type: ignore[no-untyped-def]
            with self._as(user) as ctx:
                return service.self_deactivate(ctx, directory_id=self.directory.id, role_id=role)

        if self._expect(ok, call) is not None and target is not None:
            target.end = self.now if target.start <= self.now else target.start

    @rule(user=st.integers(0, 2), role=st.sampled_from(ROLES))
    def remove(self, user: int, role: uuid.UUID) -> None:
        current = [w for w in self._elig(user, role) if w.end is None or w.end > self.now]
        ok = bool(current)

        def call():  # type: ignore[no-untyped-def]
            with self.env.ctx(self.admin) as ctx:
                return service.admin_remove(
                    ctx,
                    directory_id=self.directory.id,
                    principal_id=self.users[user].id,
                    role_id=role,
                    member_type=MemberType.ELIGIBLE,
                )

        if self._expect(ok, call) is not None:
            for w in current:
                w.end = self.now if w.start <= self.now else w.start
            for w in self._acts(user, role):
                if w.end is None or w.end > self.now:
                    w.end = self.now if w.start <= self.now else w.start

    @rule(index=st.integers(0, 5), decision=st.sampled_from(["approve", "deny", "cancel"]))
    def decide(self, index: int, decision: str) -> None:
        if not self.pending:
            return
        pending = self.pending.pop(index % len(self.pending))
        if decision == "cancel":
            with self._as(pending.user) as ctx:
                service.cancel(ctx, pending.request_id)
            return
        with self.env.ctx(self.admin) as ctx:
            if decision == "deny":
                service.deny(ctx, pending.request_id, "no")
                return
            result = service.approve(ctx, pending.request_id, "yes")
        elig = self._covering(pending.user, pending.role, self.now)
        end = self.now + pending.duration
        if elig is not None and elig.end is not None:
            end = min(end, elig.end)
        ok = (
            elig is not None
            and end - self.now >= FIVE
            and not any(w.overlaps(self.now, end) for w in self._acts(pending.user, pending.role))
        )
        expected = RequestStatus.PROVISIONED if ok else RequestStatus.FAILED
        assert result.status == expected
        if ok:
            self._acts(pending.user, pending.role).append(Window(self.now, end))

    @rule(minutes=st.integers(1, 240))
    def advance(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    @invariant()
    def active_roles_agree(self) -> None:
        with self.env.runtime.db.reader() as s:
            for i, user in enumerate(self.users):
                expected = {
                    role for role in ROLES if any(w.live(self.now) for w in self._acts(i, role))
                }
                assert active_role_ids(s, user.id, self.now) == expected, (i, self.now)


@pytest.mark.slow
def test_membership_state_machine(database: Database, backend_url: str) -> None:
    examples = 40 if backend_url.startswith("sqlite") else 10
    MembershipMachine.TestCase.settings = settings(
        max_examples=examples,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(
        lambda: MembershipMachine(database, backend_url),
        settings=MembershipMachine.TestCase.settings,
    )
