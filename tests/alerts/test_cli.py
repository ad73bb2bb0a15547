"""The alerts, reviews and reports commands, end to end on the test database."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from tests.alerts.cli_support import Cli4, cli4  # noqa: F401 - fixture
from tests.alerts.helpers import grant, pim_setup
from tests.factories import USER_ADMIN, Env


def test_alert_commands(env: Env, cli4: Cli4) -> None:  # noqa: F811
    directory, _ = pim_setup(env, pras=1)
    listed = cli4.json(["alerts", "list"])
    assert len(listed) == 7
    scanned = cli4.json(["alerts", "scan", "--alert", "too_few_privileged_role_administrators"])
    assert [s["change"] for s in scanned] == ["raised"]
    refused = cli4(["alerts", "configure", "stale_accounts_in_privileged_roles", "--set", "days=0"])
    assert refused.exit_code == 1
    assert "threshold_out_of_bounds" in refused.stderr and "thresholds.days" in refused.stderr
    ok = cli4(["alerts", "configure", "stale_accounts_in_privileged_roles", "--set", "days=45"])
    assert ok.exit_code == 0 and "days=45" in ok.stdout
    (incident,) = cli4.json(["alerts", "incidents", "--status", "open"])
    shown = cli4(["alerts", "show", incident["id"]])
    assert "pra_holders:1" in shown.stdout
    done = cli4(["alerts", "dismiss", incident["id"], "--reason", "hiring a second PRA"])
    assert done.exit_code == 0, done.output
    again = cli4(["alerts", "dismiss", incident["id"], "--reason", "again"])
    assert again.exit_code == 4  # conflict
    del directory


def test_review_and_report_commands(env: Env, cli4: Cli4) -> None:  # noqa: F811
    directory, _ = pim_setup(env)
    member = env.user(directory, "member", last_sign_in_at=env.now - timedelta(days=200))
    grant(env, member, USER_ADMIN)
    (review,) = cli4.json(
        ["reviews", "create", "--name", "UA", "--role", "User Administrator",
         "--duration", "P7D", "--scope", "eligible", "--default-decision", "recommendation"]
    )  # fmt: skip
    assert review["status"] == "InProgress" and review["members"] == 1
    (item,) = cli4.json(["reviews", "items", review["id"]])
    assert item["recommendation"] == "Deny"
    assert cli4(["reviews", "complete", review["id"]]).exit_code == 0
    applied = cli4(["reviews", "apply", review["id"]])
    assert "removed 1" in applied.stdout, applied.output
    assert "removed 0" in cli4(["reviews", "apply", review["id"]]).stdout
    exported = cli4(["reviews", "export", review["id"]])
    (row,) = csv.DictReader(io.StringIO(exported.stdout))
    assert row["applied_result"] == "removed"

    changes = cli4(["reports", "changes", "--user", member.user_principal_name])
    rows = list(csv.DictReader(io.StringIO(changes.stdout)))
    assert [r["change"] for r in rows] == ["removed", "added"]
    assert rows[0]["review_id"] == review["id"]
    stats = cli4(["reports", "statistics", "--role", "User Administrator", "--format", "json"])
    assert stats.exit_code == 0, stats.output
    (summary,) = json.loads(stats.stdout)
    assert (summary["role"], summary["eligible"]) == ("User Administrator", 0)


def test_a_reviewer_lists_and_decides_from_the_cli(env: Env, cli4: Cli4) -> None:  # noqa: F811
    from tests.api.helpers import PASSWORD
    from tests.auth.helpers import set_password

    directory, _ = pim_setup(env)
    reviewer = env.user(directory, "rita")
    set_password(env, reviewer)
    grant(env, env.user(directory, "member"), USER_ADMIN)
    (review,) = cli4.json(
        ["reviews", "create", "--name", "UA", "--role", "User Administrator", "--duration",
         "P7D", "--reviewer", reviewer.user_principal_name, "--scope", "eligible"]
    )  # fmt: skip
    mine = cli4(["reviews", "mine", "--as", reviewer.user_principal_name, "--json"],
                input=PASSWORD + "\n")  # fmt: skip
    assert mine.exit_code == 0, mine.output
    assert [r["pending_for_me"] for r in json.loads(mine.stdout)] == [1]
    (item,) = cli4.json(["reviews", "items", review["id"]])
    decided = cli4(
        ["reviews", "decide", item["id"], "Deny", "--as", reviewer.user_principal_name,
         "--reason", "gone"], input=PASSWORD + "\n",
    )  # fmt: skip
    assert decided.exit_code == 0 and "Deny (version 1)" in decided.stdout, decided.output
    again = cli4(
        ["reviews", "decide", item["id"], "Approve", "--as", reviewer.user_principal_name,
         "--reason", "x"], input=PASSWORD + "\n",
    )  # fmt: skip
    assert again.exit_code == 4 and "decision_conflict" in again.stderr
