"""The `openpim` command line: a thin adapter over the services for operators and scripts.

Every command builds its Runtime through `make_runtime` (tests replace it to inject a frozen
clock), acts as the operator at this shell unless it says `--as UPN`, and maps domain errors to
stable exit codes (see EXIT_CODES_HELP).
"""

from __future__ import annotations

import typer

# Every model first: module-level Core statements (access.service) take their parameter types
# from foreign-key columns, which stay untyped until the referenced table is imported.
import openpim.db.models  # noqa: F401
from openpim.alerts.cli import alerts_app
from openpim.cli import acting, audit, membership, people, system
from openpim.cli.common import EXIT_CODES_HELP, ErrorMappingGroup, make_runtime
from openpim.notifications.cli import notifications_app
from openpim.policies.cli import role_settings
from openpim.reports.cli import reports_app
from openpim.reviews.cli import reviews_app

__all__ = ["app", "main", "make_runtime"]

app = typer.Typer(
    name="openpim",
    cls=ErrorMappingGroup,
    help="OpenPIM: just-in-time privileged roles, approvals and a tamper-evident audit.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

app.command()(system.migrate)
app.command()(system.init)
app.command()(system.serve)
app.command()(system.worker)
app.command()(system.bootstrap)
app.add_typer(people.directory_app, name="directory")
app.add_typer(people.user_app, name="user")
app.add_typer(people.mfa_app, name="mfa")
app.add_typer(acting.pim_app, name="pim")
app.add_typer(membership.role_app, name="role")
membership.role_app.command("settings")(role_settings)
app.command()(membership.assign)
app.command()(membership.remove)
app.command()(membership.check)
app.command()(acting.activate)
app.command()(acting.deactivate)
app.add_typer(acting.requests_app, name="requests")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(system.dev_app, name="dev")
app.add_typer(alerts_app, name="alerts")
app.add_typer(reviews_app, name="reviews")
app.add_typer(reports_app, name="reports")
app.add_typer(notifications_app, name="notifications")


def main() -> None:
    app()
