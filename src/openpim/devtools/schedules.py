"""Eligibilities and assignments: a realistic mix, in bulk.py's neutral row form.

Most members are eligible for one to three roles (permanently, until a date, or already
expired); a few hold a role permanently or until a date; the bulk of the schedule budget is
the history of activations drawn from those eligibilities, nearly all of them over, a few
running now. A schedule that has ended carries end_recorded_at, as if the worker had seen it.

Every schedule PIM made names its request (request_id), and an activation the member ended
early names its selfDeactivate request (ended_by_request_id); the seed writes those requests
from the loaded schedules (seed.py, `_add_requests`). Only the few imported assignments have
none, so they are all the "roles assigned outside PIM" alert finds.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

from openpim.devtools.dataset import (
    DAY_US,
    HOUR_US,
    MINUTE_US,
    Instants,
    Population,
    new_hex,
)

# How many audit-event references to keep per kind of schedule (a sample, to bound memory).
SAMPLE_LIMIT = 200_000
Sched = tuple[int, int, str, int, int | None]  # user index, role index, hex id, start, end


def _pick_roles(pop: Population, rng: random.Random, k: int) -> list[int]:
    picked = rng.choices(range(len(pop.role_hex)), weights=pop.role_weight, k=k)
    return list(dict.fromkeys(picked))


def _row(
    pop: Population, rng: random.Random, inst: Instants, s: Sched, created: int, *, via: str = "pim"
) -> list[Any]:
    u, r, hex_id, start, end = s
    ended = end is not None and end <= pop.now_us
    request_hex = new_hex(rng) if via == "pim" else None
    return [
        hex_id, pop.directory_hex[pop.user_dir[u]], pop.user_hex[u], pop.role_hex[r],
        inst.text(start), None if end is None else inst.text(end), request_hex, via,
        inst.text(created), "expired" if ended else None, None,
        inst.text(end + 5 * 1_000_000) if ended and end is not None else None,
    ]  # fmt: skip


class ScheduleBuilder:
    def __init__(self, pop: Population, rng: random.Random, budget: int) -> None:
        self.pop, self.rng, self.budget = pop, rng, budget
        self.inst = Instants()
        self.eligible: list[Sched] = []
        self.assigned: list[tuple[Sched, str]] = []  # (schedule, "Assigned")
        self._role_index = {hex_id: i for i, hex_id in enumerate(pop.role_hex)}

    def plan(self) -> None:
        """Eligibilities and direct assignments, in memory (a few hundred thousand at most)."""
        pop, rng, now = self.pop, self.rng, self.pop.now_us
        for u, admin in zip(pop.admin_index, pop.admins, strict=True):
            for role in admin["permanent_roles"]:
                r = self._role_index[uuid.UUID(role).hex]
                self.assigned.append(((u, r, new_hex(rng), now - 700 * DAY_US, None), "pim"))
            for role in admin["eligible_roles"]:
                r = self._role_index[uuid.UUID(role).hex]
                self.eligible.append((u, r, new_hex(rng), now - 700 * DAY_US, None))
        admins = set(pop.admin_index)
        for u in range(len(pop.user_hex)):
            if u in admins:
                continue
            if len(self.eligible) + len(self.assigned) >= self.budget:
                break
            roll = rng.random()
            k = 0 if roll < 0.05 else 1 if roll < 0.65 else 2 if roll < 0.90 else 3
            for r in _pick_roles(pop, rng, k):
                kind = rng.random()
                end: int | None
                if kind < 0.5:
                    start, end = now - rng.randrange(DAY_US, 700 * DAY_US), None
                elif kind < 0.9:
                    start = now - rng.randrange(DAY_US, 300 * DAY_US)
                    end = now + rng.randrange(30 * DAY_US, 365 * DAY_US)
                else:
                    end = now - rng.randrange(DAY_US, 300 * DAY_US)
                    start = end - rng.randrange(30 * DAY_US, 365 * DAY_US)
                self.eligible.append((u, r, new_hex(rng), start, end))
            roll = rng.random()
            if roll < 0.03:
                r = _pick_roles(pop, rng, 1)[0]
                s: Sched = (
                    u,
                    r,
                    new_hex(rng),
                    now - rng.randrange(30 * DAY_US, 700 * DAY_US),
                    None,
                )
                # A handful of permanent assignments came from outside PIM (an import).
                self.assigned.append((s, "import" if rng.random() < 0.05 else "pim"))
            elif roll < 0.05:
                r = _pick_roles(pop, rng, 1)[0]
                start = now - rng.randrange(DAY_US, 90 * DAY_US)
                s = (u, r, new_hex(rng), start, now + rng.randrange(7 * DAY_US, 180 * DAY_US))
                self.assigned.append((s, "pim"))
        pop.eligibilities = self.eligible[:SAMPLE_LIMIT]

    def eligibility_rows(self) -> Iterator[list[Any]]:
        for s in self.eligible:
            yield _row(self.pop, self.rng, self.inst, s, s[3])
        self.pop.counts["eligibilities"] = len(self.eligible)

    def assignment_rows(self) -> Iterator[list[Any]]:
        """Direct assignments, then activations until the schedule budget is spent."""
        pop, rng, inst, now = self.pop, self.rng, self.inst, self.pop.now_us
        for s, via in self.assigned:
            yield [*_row(pop, rng, inst, s, s[3], via=via), "Assigned", None]
        activations = max(0, self.budget - len(self.eligible) - len(self.assigned))
        every = max(1, activations // SAMPLE_LIMIT)
        made = 0
        year_ago = now - 365 * DAY_US
        usable = [e for e in self.eligible if pop.user_enabled[e[0]]] or self.eligible
        while made < activations and usable:
            e = usable[rng.randrange(len(usable))]
            u, r, e_hex, e_start, e_end = e
            lo, hi = max(e_start, year_ago), min(e_end if e_end is not None else now, now)
            if hi - lo < HOUR_US:
                continue
            if rng.random() < 0.01 and (e_end is None or e_end > now):
                start = now - rng.randrange(0, 4 * HOUR_US)  # running now
                end = now + rng.randrange(10 * MINUTE_US, 4 * HOUR_US)
            else:
                start = rng.randrange(lo, hi)
                end = start + rng.randrange(30 * MINUTE_US, 8 * HOUR_US)
            if e_end is not None:
                end = min(end, e_end)  # an activation never outlives its eligibility
            s = (u, r, new_hex(rng), start, end)
            row = _row(pop, rng, inst, s, start)
            if end <= now and rng.random() < 0.2:
                row[9] = "deactivated"
                row[10] = new_hex(rng)  # the member's selfDeactivate request
            yield [*row, "Activated", e_hex]
            if made % every == 0 and len(pop.activations) < SAMPLE_LIMIT:
                pop.activations.append(s)
            made += 1
        pop.counts["assignments"] = len(self.assigned) + made
        pop.counts["activations"] = made
