"""Two reviewers deciding the same member at the same moment: one wins, the other gets a 409.

Each reviewer runs in its own thread and its own unit of work (its own connection), released
together by a barrier, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest

from openpim.kit.errors import Conflict
from openpim.reviews import service as reviews
from tests.alerts.helpers import audit_actions, grant, pim_setup
from tests.factories import USER_ADMIN, Env
from tests.reviews.helpers import create, items


def _race(
    env: Env, calls: list[tuple[object, str, int | None]], item_id: uuid.UUID
) -> list[object]:
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(index: int, reviewer: object, decision: str, version: int | None) -> None:
        barrier.wait()
        try:
            with env.ctx(reviewer) as ctx:  # type: ignore[arg-type]
                results[index] = reviews.decide(
                    ctx, item_id, decision, "my call", expected_version=version
                ).decision
        except Conflict as error:
            results[index] = error
        except Exception as error:
            results[index] = error

    threads = [
        threading.Thread(target=run, args=(i, reviewer, decision, version))
        for i, (reviewer, decision, version) in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("round_", range(3))
def test_two_reviewers_deciding_one_member_give_one_winner(env: Env, round_: int) -> None:
    directory, _ = pim_setup(env)
    alice = env.user(directory, "alice")
    bert = env.user(directory, "bert")
    member = env.user(directory, "member", last_sign_in_at=env.now - timedelta(days=1))
    grant(env, member, USER_ADMIN)
    review = create(env, directory, reviewers=[alice, bert], scope="eligible")
    (item,) = items(env, review.id).values()

    results = _race(env, [(alice, "Approve", None), (bert, "Deny", None)], item.id)

    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, Conflict)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert losers[0].code == "decision_conflict" and losers[0].status == 409
    stored = items(env, review.id)["member:Eligible"]
    assert stored.decision == winners[0] and stored.version == 1
    assert len(audit_actions(env, "review.decided")) == 1
    del round_


def test_changing_a_decision_needs_the_version_last_seen(env: Env) -> None:
    directory, _ = pim_setup(env)
    alice = env.user(directory, "alice")
    bert = env.user(directory, "bert")
    member = env.user(directory, "member")
    grant(env, member, USER_ADMIN)
    review = create(env, directory, reviewers=[alice, bert], scope="eligible")
    (item,) = items(env, review.id).values()
    with env.ctx(alice) as ctx:
        reviews.decide(ctx, item.id, "Deny")
    # Both saw version 1 and both try to change it: again one wins.
    results = _race(env, [(alice, "Approve", 1), (bert, "DontKnow", 1)], item.id)
    assert sum(isinstance(r, Conflict) for r in results) == 1, results
    assert items(env, review.id)["member:Eligible"].version == 2
