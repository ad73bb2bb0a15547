"""`openpim alerts ...`: list, scan, configure, incidents, dismiss and fix (as the operator)."""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from openpim.alerts import fixes
from openpim.alerts import service as alerts
from openpim.alerts.schemas import AlertOut, IncidentDetailOut, IncidentOut, ScanOutcomeOut
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
)

alerts_app = typer.Typer(help="Security alerts and their incidents.", no_args_is_help=True)

AlertArg = Annotated[
    str, typer.Argument(help="Alert type, e.g. stale_accounts_in_privileged_roles")
]
IncidentArg = Annotated[uuid.UUID, typer.Argument(help="Incident id.")]


@alerts_app.command("list")
def list_cmd(
    directory: DirectoryOpt = None, database_url: DatabaseUrl = None, json_out: JsonFlag = False
) -> None:
    """Every alert: on/off, thresholds, open incident."""
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        views = [
            AlertOut.of(v) for v in alerts.list_alerts(ctx, resolve_directory(ctx, directory).id)
        ]
    if json_out:
        emit_json([v.model_dump(mode="json") for v in views])
        return
    emit_table(
        ["ALERT", "SEVERITY", "ON", "THRESHOLDS", "OPEN INCIDENT", "AFFECTED"],
        [
            [
                v.type, v.severity, v.enabled,
                " ".join(f"{t.name}={t.value}" for t in v.thresholds) or "-",
                v.incident.id if v.incident else None,
                v.incident.affected_count if v.incident else 0,
            ]
            for v in views
        ],
    )  # fmt: skip


@alerts_app.command("scan")
def scan_cmd(
    alert: Annotated[str | None, typer.Option(help="Only this alert type.")] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Scan now and update incidents."""
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        outcomes = alerts.scan_now(ctx, resolve_directory(ctx, directory).id, alert)
    rows = [ScanOutcomeOut.of(o) for o in outcomes]
    if json_out:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    emit_table(
        ["ALERT", "CHANGE", "AFFECTED", "INCIDENT"],
        [[r.alert_type, r.change, r.affected, r.incident_id] for r in rows],
    )


@alerts_app.command("configure")
def configure_cmd(
    alert: AlertArg,
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="On or off.")] = None,
    threshold: Annotated[
        list[str] | None, typer.Option("--set", help="NAME=VALUE, e.g. --set days=60")
    ] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Switch an alert on or off and change thresholds (out-of-bounds values are refused)."""
    values: dict[str, object] = {}
    for item in threshold or []:
        name, _, raw = item.partition("=")
        try:
            values[name.strip()] = int(raw)
        except ValueError:
            raise typer.BadParameter(
                f"{item!r} is not NAME=WHOLE_NUMBER.", param_hint="--set"
            ) from None
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        view = AlertOut.of(
            alerts.update_config(
                ctx, resolve_directory(ctx, directory).id, alert, enabled=enable,
                thresholds=values or None,
            )
        )  # fmt: skip
    if json_out:
        emit_json(view.model_dump(mode="json"))
    else:
        settings = " ".join(f"{t.name}={t.value}" for t in view.thresholds)
        typer.echo(f"{view.type}: {'on' if view.enabled else 'off'} {settings}".rstrip())


@alerts_app.command("incidents")
def incidents_cmd(
    status: Annotated[str | None, typer.Option(help="open, dismissed or resolved")] = None,
    alert: Annotated[str | None, typer.Option(help="Only this alert type.")] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Incidents, newest first."""
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        rows = [
            IncidentOut.of(i)
            for i in alerts.list_incidents(
                ctx, resolve_directory(ctx, directory).id, status=status, alert_type=alert
            )
        ]
    if json_out:
        emit_json([r.model_dump(mode="json") for r in rows])
        return
    emit_table(
        ["ID", "ALERT", "SEVERITY", "STATUS", "OPENED", "AFFECTED"],
        [[r.id, r.alert_type, r.severity, r.status, r.opened_at, r.affected_count] for r in rows],
    )


@alerts_app.command("show")
def show_cmd(
    incident: IncidentArg, database_url: DatabaseUrl = None, json_out: JsonFlag = False
) -> None:
    """An incident and its affected users and roles (item keys are what `fix` takes)."""
    rt = open_runtime(database_url)
    with rt.read(operator()) as ctx:
        detail = IncidentDetailOut.of(alerts.get_incident(ctx, incident))
    if json_out:
        emit_json(detail.model_dump(mode="json"))
        return
    i = detail.incident
    typer.echo(f"{i.alert_type} ({i.severity}) {i.status}, {i.affected_count} affected")
    emit_table(
        ["KEY", "USER", "ROLE", "MEMBER TYPE", "SINCE"],
        [[t.key, t.user, t.role, t.member_type, t.onset_at] for t in detail.items],
    )


@alerts_app.command("dismiss")
def dismiss_cmd(
    incident: IncidentArg,
    reason: Annotated[str, typer.Option(help="Why (kept in the audit).")],
    database_url: DatabaseUrl = None,
) -> None:
    """Dismiss an open incident."""
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        alerts.dismiss(ctx, incident, reason)
    typer.echo(f"incident {incident} dismissed")


@alerts_app.command("fix")
def fix_cmd(
    incident: IncidentArg,
    action: Annotated[str, typer.Argument(help="require_mfa, remove_assignment or make_eligible")],
    items: Annotated[list[str], typer.Argument(help="Item keys (see `openpim alerts show`).")],
    justification: Annotated[str | None, typer.Option(help="Why (kept in the audit).")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Apply a fix to affected items, all or none."""
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        result = fixes.fix(ctx, incident, action, items, justification)
        status, left = result.incident.status, result.incident.affected_count
    typer.echo(f"fixed {len(result.fixed)} item(s); incident now {status} ({left} affected)")
