"""Races with real separate connections: the database, not luck, picks one winner.

Each thread opens its own unit of work (its own pooled connection). On PostgreSQL that is true
concurrency with row locks; on SQLite the write lock serialises the units, and the same
invariants must hold.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select

from openpim.assignments import service
from openpim.assignments.models import Assignment, AssignmentType, RoleRequest
from openpim.kit.errors import DomainError
from tests.assignments.test_activate import _set_policy
from tests.factories import PASSWORD_ADMIN, PRA, Env


def _race(n: int, work: Callable[[int], object]) -> Counter[str]:
    """Run `work` in n threads released together; count outcomes by error code."""
    barrier = threading.Barrier(n)
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
            result = "ok"
        except DomainError as err:
            result = err.code
        with lock:
            outcomes[result] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_twenty_concurrent_activations_give_one_assignment(env: Env) -> None:
    directory, _ = env.pim_directory()
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    actor = env.actor(bob, mfa=True)

    def activate(_: int) -> object:
        with env.ctx(actor) as ctx:
            return service.self_activate(
                ctx,
                directory_id=directory.id,
                role_id=PASSWORD_ADMIN,
                duration=timedelta(hours=1),
                justification="race",
            )

    outcomes = _race(20, activate)
    assert outcomes["ok"] == 1, outcomes
    assert outcomes["already_active"] == 19, outcomes
    with env.runtime.db.reader() as s:
        count = s.execute(
            select(func.count())
            .select_from(Assignment)
            .where(
                Assignment.principal_id == bob.id,
                Assignment.assignment_type == AssignmentType.ACTIVATED,
            )
        ).scalar_one()
    assert count == 1


def test_ten_concurrent_approvers_give_one_decision(env: Env) -> None:
    directory, _ = env.pim_directory()
    _set_policy(env, directory.id, PASSWORD_ADMIN, require_approval_on_activation=True)
    approvers = [env.user(directory, f"pra{i}") for i in range(10)]
    for approver in approvers:
        env.permanent(approver, PRA)
    bob = env.user(directory, "bob")
    env.eligible(bob, PASSWORD_ADMIN)
    with env.ctx(env.actor(bob, mfa=True)) as ctx:
        request = service.self_activate(
            ctx,
            directory_id=directory.id,
            role_id=PASSWORD_ADMIN,
            duration=timedelta(hours=1),
            justification="please",
        )

    def decide(i: int) -> object:
        with env.ctx(approvers[i]) as ctx:
            if i % 2:
                return service.approve(ctx, request.id, f"approver {i}")
            return service.deny(ctx, request.id, f"approver {i}")

    outcomes = _race(10, decide)
    assert outcomes["ok"] == 1, outcomes
    assert outcomes["request_already_decided"] == 9, outcomes
    with env.runtime.db.reader() as s:
        row = s.get(RoleRequest, request.id)
        assert row is not None and row.decided_by_id in {a.id for a in approvers}
        status = row.status
        activations = s.execute(
            select(func.count()).select_from(Assignment).where(Assignment.principal_id == bob.id)
        ).scalar_one()
    assert activations == (1 if status == "Provisioned" else 0)


def test_concurrent_removals_of_the_last_two_global_admins_keep_one(env: Env) -> None:
    from openpim.assignments.models import MemberType
    from openpim.roles.ids import GLOBAL_ADMINISTRATOR as GA

    directory, admin = env.pim_directory()
    second = env.user(directory, "second")
    env.permanent(second, GA)
    env.permanent(second, PRA)

    def remove(i: int) -> object:
        actor, target = (admin, second) if i == 0 else (second, admin)
        with env.ctx(actor) as ctx:
            return service.admin_remove(
                ctx,
                directory_id=directory.id,
                principal_id=target.id,
                role_id=GA,
                member_type=MemberType.ACTIVE,
            )

    outcomes = _race(2, remove)
    assert outcomes["ok"] == 1, outcomes
    assert outcomes["last_global_administrator"] == 1, outcomes
