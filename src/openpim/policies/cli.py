"""`openpim role settings ROLE`: a role's settings, and changes to its notification rules.

    openpim role settings "Password Administrator"
    openpim role settings "Password Administrator" \\
        --notify activation.admin.level=critical \\
        --notify eligible_assignment.requestor.default=off \\
        --notify activation.admin.extra=soc@contoso.example,lead@contoso.example

Each --notify is STAGE.RECIPIENT.FIELD=VALUE: STAGE eligible_assignment, active_assignment or
activation; RECIPIENT admin, requestor or approver; FIELD default (on/off), extra (addresses,
comma-separated; empty clears them) or level (all, critical, none). The service checks the
values and audits the change like any other settings change.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from openpim.cli.common import (
    DatabaseUrl,
    DirectoryOpt,
    JsonFlag,
    emit_json,
    emit_table,
    open_runtime,
    operator,
    operator_unit,
    resolve_directory,
    resolve_role,
    usage_error,
)
from openpim.policies.notification_rules import RULE_TITLES, RecipientType, Stage
from openpim.policies.schemas import RoleSettingsOut, RoleSettingsUpdate
from openpim.policies.service import get_role_settings, update_role_settings
from openpim.policies.settings import RoleSettings

RoleArg = Annotated[str, typer.Argument(help="Role name (any case) or id.")]
NotifyOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--notify",
        help="STAGE.RECIPIENT.FIELD=VALUE, e.g. activation.admin.level=critical "
        "(stages: eligible_assignment, active_assignment, activation; recipients: admin, "
        "requestor, approver; fields: default=on|off, extra=a@x,b@y, level=all|critical|none).",
    ),
]
_FIELDS = {
    "default": "default_recipients",
    "default_recipients": "default_recipients",
    "extra": "extra_recipients",
    "extra_recipients": "extra_recipients",
    "level": "level",
}
_SWITCH = {"on": True, "yes": True, "true": True, "off": False, "no": False, "false": False}


def _one(item: str) -> tuple[Stage, RecipientType, str, Any]:
    path, equals, raw = item.partition("=")
    parts = [p.strip().lower().replace("-", "_") for p in path.split(".")]
    if not equals or len(parts) != 3:
        raise usage_error(f"{item!r} is not STAGE.RECIPIENT.FIELD=VALUE.", "--notify")
    stage = next((s for s in Stage if s.value == parts[0]), None)
    recipient = next((r for r in RecipientType if r.value == parts[1]), None)
    field = _FIELDS.get(parts[2])
    if stage is None:
        raise usage_error(f"{parts[0]!r} is not one of {', '.join(Stage)}.", "--notify")
    if recipient is None:
        raise usage_error(f"{parts[1]!r} is not one of {', '.join(RecipientType)}.", "--notify")
    if field is None:
        raise usage_error(f"{parts[2]!r} is not one of default, extra, level.", "--notify")
    value: Any = raw.strip()
    if field == "default_recipients":
        if value.lower() not in _SWITCH:
            raise usage_error(f"{item!r}: default is on or off.", "--notify")
        value = _SWITCH[value.lower()]
    elif field == "extra_recipients":
        value = [a.strip() for a in value.split(",") if a.strip()]
    return stage, recipient, field, value


def parse_notify(items: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """--notify options as a notification_rules change ({stage: {recipient: {field: value}}})."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for item in items:
        stage, recipient, field, value = _one(item)
        out.setdefault(stage.value, {}).setdefault(recipient.value, {})[field] = value
    return out


def _print(name: str, settings: RoleSettings) -> None:
    out = RoleSettingsOut.from_settings(settings)
    typer.echo(f"{name} ({settings.role_id}){' - defaults' if settings.is_default else ''}")
    typer.echo(
        f"  activation: max {out.activation_max_duration}, MFA {_yn(out.require_mfa_on_activation)}"
        f", justification {_yn(out.require_justification_on_activation)}"
        f", ticket {_yn(out.require_ticket_on_activation)}"
        f", approval {_yn(out.require_approval_on_activation)}"
    )
    typer.echo(
        f"  assignment: eligible {_limit(out.eligible_allow_permanent, out.eligible_max_days)}"
        f", active {_limit(out.active_allow_permanent, out.active_max_days)}"
    )
    typer.echo("  notifications:")
    emit_table(
        ["STAGE", "RECIPIENT", "ROW", "DEFAULT", "EXTRA", "LEVEL"],
        [
            [
                stage.value,
                recipient.value,
                RULE_TITLES[(stage, recipient)],
                rule.default_recipients,
                ",".join(rule.extra_recipients) or "-",
                rule.level.value,
            ]
            for (stage, recipient), rule in settings.notification_rules.items()
        ],
    )


def _yn(value: bool) -> str:
    return "on" if value else "off"


def _limit(permanent: bool, days: int) -> str:
    return "permanent allowed" if permanent else f"ends within {days} days"


def role_settings(
    role: RoleArg,
    notify: NotifyOpt = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Show a role's settings; --notify changes its notification rules (audited)."""
    changes = parse_notify(notify or [])
    rt = open_runtime(database_url)
    if changes:
        with operator_unit(rt) as ctx:
            directory_id = resolve_directory(ctx, directory).id
            found = resolve_role(ctx, directory_id, role)
            name = found.display_name
            settings = update_role_settings(
                ctx,
                directory_id,
                found.id,
                RoleSettingsUpdate.model_validate({"notification_rules": changes}),
            )
    else:
        with rt.read(operator()) as ctx:
            directory_id = resolve_directory(ctx, directory).id
            found = resolve_role(ctx, directory_id, role)
            name = found.display_name
            settings = get_role_settings(ctx, directory_id, found.id)
    if json_out:
        emit_json(RoleSettingsOut.from_settings(settings).model_dump(mode="json"))
    else:
        _print(name, settings)
