"""The action catalogue (openpim.audit.actions) agrees with the actions the source can write."""

from __future__ import annotations

import pytest

from openpim.audit.actions import ACTION_GROUPS, KNOWN_ACTIONS
from openpim.devtools import audit_rows
from tests.audit.written_actions import ActionScan, Written

# lifecycle.end_schedule names an ended schedule's event "<kind>.<reason>" for every kind of
# schedule, so the scan derives every pairing; its callers pass these reasons with other kinds
# only, so these three are never written. Listed, not catalogued, so the filter offers no
# action that cannot match; the test below drops an entry once the scan stops deriving it.
DERIVED_BUT_NEVER_WRITTEN = {
    "activation.converted": "make_permanent and make_eligible convert an eligibility or an "
    "assigned membership; the activations they end are replaced",
    "eligibility.replaced": "only make_permanent replaces, and only running activations",
    "assignment.replaced": "only make_permanent replaces, and only running activations",
}


@pytest.fixture(scope="module")
def scan() -> tuple[set[Written], list[str]]:
    action_scan = ActionScan()
    return action_scan.written(), action_scan.unresolved


def _listing(written: set[Written]) -> str:
    return "\n".join(sorted(f"  {w.action}  ({w.where})" for w in written))


def test_the_scan_follows_every_action_to_its_text(scan: tuple[set[Written], list[str]]) -> None:
    _, unresolved = scan
    assert not unresolved, (
        "These AuditEntry actions are built in a way tests/audit/written_actions.py cannot "
        "follow; name the action with a literal or a constant, or teach the scan:\n"
        + "\n".join(unresolved)
    )


def test_every_written_action_is_catalogued(scan: tuple[set[Written], list[str]]) -> None:
    written, _ = scan
    missing = {
        w
        for w in written
        if w.action not in KNOWN_ACTIONS and w.action not in DERIVED_BUT_NEVER_WRITTEN
    }
    assert not missing, (
        "Written but not in openpim.audit.actions.ACTION_GROUPS (add each to its group):\n"
        + _listing(missing)
    )


def test_every_catalogued_action_is_written(scan: tuple[set[Written], list[str]]) -> None:
    written, _ = scan
    unused = KNOWN_ACTIONS - {w.action for w in written}
    assert not unused, f"Catalogued but written nowhere: {sorted(unused)}"


def test_the_never_written_list_stays_current(scan: tuple[set[Written], list[str]]) -> None:
    derived = {w.action for w in scan[0]}
    assert set(DERIVED_BUT_NEVER_WRITTEN) <= derived
    assert not set(DERIVED_BUT_NEVER_WRITTEN) & KNOWN_ACTIONS


def test_each_action_is_in_exactly_one_group() -> None:
    listed = [action for group in ACTION_GROUPS.values() for action in group]
    assert len(listed) == len(set(listed)) == len(KNOWN_ACTIONS)
    assert all(title and group for title, group in ACTION_GROUPS.items())


def test_generated_benchmark_histories_use_catalogued_actions() -> None:
    # The benchmark dataset writes audit rows directly, bypassing AuditEntry; its rows are
    # filtered by the same portal.
    generated = {action for action, _ in audit_rows._KINDS}
    assert generated <= KNOWN_ACTIONS
