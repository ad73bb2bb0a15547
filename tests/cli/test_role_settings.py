"""`openpim role settings`: shows a role's settings and sets its notification rules."""

from __future__ import annotations

import json

from sqlalchemy import select

from openpim.audit.models import AuditEvent
from openpim.policies.notification_rules import Level, RecipientType, Stage
from openpim.policies.service import read_role_settings
from tests.cli.conftest import Cli
from tests.factories import PASSWORD_ADMIN, Env


def test_show_then_set_notification_rules(cli: Cli, env: Env) -> None:
    directory, _admin = env.pim_directory()
    shown = cli(["role", "settings", "password administrator"])
    assert shown.exit_code == 0, shown.output
    assert "Password Administrator" in shown.stdout and "defaults" in shown.stdout
    assert "Role activation alert" in shown.stdout
    assert cli.json(["role", "settings", str(PASSWORD_ADMIN)])["notification_rules"]["activation"][
        "admin"
    ] == {"default_recipients": True, "extra_recipients": [], "level": "All"}

    out = cli.json(
        [
            "role",
            "settings",
            "Password Administrator",
            "--notify",
            "activation.admin.level=critical",
            "--notify",
            "eligible-assignment.requestor.default=off",
            "--notify",
            "activation.admin.extra=soc@contoso.example, Lead@Contoso.example",
        ]
    )
    assert out["notification_rules"]["activation"]["admin"] == {
        "default_recipients": True,
        "extra_recipients": ["soc@contoso.example", "Lead@contoso.example"],
        "level": "Critical",
    }
    with env.runtime.db.reader() as s:
        rules = read_role_settings(s, directory.id, PASSWORD_ADMIN).notification_rules
        assert not rules.get(Stage.ELIGIBLE_ASSIGNMENT, RecipientType.REQUESTOR).default_recipients
        assert rules.get(Stage.ACTIVATION, RecipientType.ADMIN).level == Level.CRITICAL
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "policy.updated"))
        assert event.actor_label.startswith("operator:")
        assert set(json.loads(event.detail or "{}")["changes"]) == {
            "notification_rules.activation.admin",
            "notification_rules.eligible_assignment.requestor",
        }
    cleared = cli.json(
        ["role", "settings", "Password Administrator", "--notify", "activation.admin.extra="]
    )
    assert cleared["notification_rules"]["activation"]["admin"]["extra_recipients"] == []


def test_bad_notify_options_are_refused(cli: Cli, env: Env) -> None:
    env.pim_directory()
    for bad in ("activation.admin", "expiry.admin.level=all", "activation.boss.level=all",
                "activation.admin.colour=red", "activation.admin.default=maybe"):  # fmt: skip
        result = cli(["role", "settings", "Password Administrator", "--notify", bad])
        assert result.exit_code == 2, (bad, result.output)
    level = cli(
        ["role", "settings", "Password Administrator", "--notify", "activation.admin.level=often"]
    )
    assert level.exit_code == 1
    assert (
        "invalid_level" in level.stderr
        and "notification_rules.activation.admin.level" in level.stderr
    )
    address = cli(
        ["role", "settings", "Password Administrator", "--notify", "activation.approver.extra=nope"]
    )
    assert address.exit_code == 1 and "invalid_email" in address.stderr
