"""`openpim notifications ...`: channels, test messages, the delivery log, retries, a delivery run.

Secrets are read from stdin (--password-stdin, --secret-stdin), never from arguments, so they
stay out of shell history and the process list.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import typer
from pydantic import SecretStr, ValidationError

from openpim.cli.common import (
    DatabaseUrl,
    DirectoryOpt,
    JsonFlag,
    emit_json,
    emit_table,
    open_runtime,
    operator_unit,
    read_secret_line,
    resolve_directory,
)
from openpim.kit.context import Ctx
from openpim.kit.errors import NotFound, ValidationFailed
from openpim.notifications import channels, deliverylog, digest, reminders
from openpim.notifications.delivery import drain
from openpim.notifications.schemas import (
    DeliveryStatus,
    EmailChannelIn,
    Security,
    WebhookFormat,
    WebhookIn,
    WebhookOut,
    WebhookUpdate,
)

notifications_app = typer.Typer(
    help="Email and webhook notifications: channels, delivery log, retries.",
    no_args_is_help=True,
)
email_app = typer.Typer(help="The directory's SMTP relay.", no_args_is_help=True)
webhook_app = typer.Typer(help="The directory's webhooks.", no_args_is_help=True)
notifications_app.add_typer(email_app, name="email")
notifications_app.add_typer(webhook_app, name="webhook")

EventOpt = Annotated[
    list[str] | None,
    typer.Option("--event", help="Only these event types or patterns (request.*); repeatable."),
]


def _invalid(error: ValidationError) -> ValidationFailed:
    first = error.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    return ValidationFailed(f"{field}: {first.get('msg')}", field=field or None)


def _hook_json(hook: WebhookOut) -> dict[str, Any]:
    return hook.model_dump(mode="json")


@notifications_app.command("show")
def show(
    directory: DirectoryOpt = None, database_url: DatabaseUrl = None, json_out: JsonFlag = False
) -> None:
    """The SMTP relay and webhooks (secrets are never shown)."""
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        out = channels.overview(ctx, resolve_directory(ctx, directory).id)
    if json_out:
        emit_json(out.model_dump(mode="json"))
        return
    if out.email is None:
        typer.echo("email: not configured")
    else:
        e = out.email
        login = f", login {e.username} (password set)" if e.username else ""
        state = "enabled" if e.enabled else "DISABLED"
        typer.echo(
            f"email: {e.host}:{e.port} {e.security.value}{login}, from {e.from_address} ({state})"
        )
    emit_table(
        ["webhook", "id", "url", "format", "enabled", "events"],
        [
            [h.name, h.id, h.url, h.format.value, h.enabled, ",".join(h.event_types) or "all"]
            for h in out.webhooks
        ],
    )


@email_app.command("set")
def email_set(
    host: Annotated[str, typer.Option("--host", help="SMTP relay host name or address.")],
    sender: Annotated[
        str, typer.Option("--from", help="Sender, e.g. 'Contoso PIM <pim@contoso.com>'.")
    ],
    port: Annotated[int, typer.Option("--port", help="587 for STARTTLS, 465 for TLS.")] = 587,
    security: Annotated[Security, typer.Option("--security")] = Security.STARTTLS,
    username: Annotated[str | None, typer.Option("--username", help="Log in as this user.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read a new login password from stdin.")
    ] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Save but do not send.")] = False,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Set the SMTP relay. Without --password-stdin a stored password is kept."""
    fields: dict[str, Any] = {
        "enabled": not disabled,
        "host": host,
        "port": port,
        "security": security,
        "username": username,
        "from_address": sender,
    }
    if password_stdin:
        fields["password"] = SecretStr(read_secret_line())
    try:
        data = EmailChannelIn(**fields)
    except ValidationError as error:
        raise _invalid(error) from None
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        out = channels.set_email_channel(ctx, resolve_directory(ctx, directory).id, data)
    if json_out:
        emit_json(out.model_dump(mode="json"))
    else:
        typer.echo(f"email channel saved: {out.host}:{out.port} ({out.security.value})")


@email_app.command("remove")
def email_remove(directory: DirectoryOpt = None, database_url: DatabaseUrl = None) -> None:
    """Remove the SMTP relay: no more email is sent."""
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        channels.remove_email_channel(ctx, resolve_directory(ctx, directory).id)
    typer.echo("email channel removed")


def _find_hook(ctx: Ctx, directory_id: uuid.UUID, name_or_id: str) -> WebhookOut:
    for hook in channels.list_webhooks(ctx, directory_id):
        if name_or_id.strip() in (hook.name, str(hook.id)):
            return hook
    raise NotFound(f"No webhook named {name_or_id!r}.", code="webhook_not_found")


@webhook_app.command("add")
def webhook_add(
    name: Annotated[str, typer.Argument(help="A name to recognise it by.")],
    url: Annotated[str, typer.Argument(help="Where to POST (http:// or https://).")],
    fmt: Annotated[WebhookFormat, typer.Option("--format")] = WebhookFormat.GENERIC,
    secret_stdin: Annotated[
        bool, typer.Option("--secret-stdin", help="Read the shared secret from stdin.")
    ] = False,
    events: EventOpt = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Add a webhook. Without --secret-stdin a secret is generated and printed once."""
    try:
        data = WebhookIn(
            name=name,
            url=SecretStr(url),
            format=fmt,
            secret=SecretStr(read_secret_line()) if secret_stdin else None,
            event_types=events or [],
        )
    except ValidationError as error:
        raise _invalid(error) from None
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        out = channels.create_webhook(ctx, resolve_directory(ctx, directory).id, data)
    if json_out:
        emit_json(out.model_dump(mode="json"))
        return
    typer.echo(f"webhook {out.name!r} added: {out.id}")
    if out.secret:
        typer.echo(f"secret (shown once, store it in the receiver now): {out.secret}")


@webhook_app.command("update")
def webhook_update(
    webhook: Annotated[str, typer.Argument(help="Webhook name or id.")],
    name: Annotated[str | None, typer.Option("--name")] = None,
    url: Annotated[str | None, typer.Option("--url")] = None,
    fmt: Annotated[WebhookFormat | None, typer.Option("--format")] = None,
    secret_stdin: Annotated[bool, typer.Option("--secret-stdin")] = False,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable")] = None,
    events: EventOpt = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Change a webhook; options left out keep their value."""
    try:
        data = WebhookUpdate(
            name=name,
            url=SecretStr(url) if url is not None else None,
            format=fmt,
            secret=SecretStr(read_secret_line()) if secret_stdin else None,
            enabled=enabled,
            event_types=events,
        )
    except ValidationError as error:
        raise _invalid(error) from None
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        hook = _find_hook(ctx, directory_id, webhook)
        out = channels.update_webhook(ctx, directory_id, hook.id, data)
    if json_out:
        emit_json(_hook_json(out))
    else:
        typer.echo(f"webhook {out.name!r} saved")


@webhook_app.command("remove")
def webhook_remove(
    webhook: Annotated[str, typer.Argument(help="Webhook name or id.")],
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a webhook."""
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        hook = _find_hook(ctx, directory_id, webhook)
        channels.remove_webhook(ctx, directory_id, hook.id)
    typer.echo(f"webhook {hook.name!r} removed")


@notifications_app.command("test")
def send_test(
    email: Annotated[str | None, typer.Option("--email", help="Send to this address.")] = None,
    webhook: Annotated[str | None, typer.Option("--webhook", help="Webhook name or id.")] = None,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Queue a test message; the worker (or `notifications deliver`) sends it."""
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        hook_id = _find_hook(ctx, directory_id, webhook).id if webhook else None
        event_id = channels.send_test(ctx, directory_id, email=email, webhook_id=hook_id)
    typer.echo(f"test message queued: {event_id}")


@notifications_app.command("log")
def delivery_log(
    status: Annotated[DeliveryStatus | None, typer.Option("--status")] = None,
    event: Annotated[str | None, typer.Option("--event", help="Only this event type.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=deliverylog.MAX_PAGE)] = 50,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """The newest deliveries: what went where, and why it failed."""
    rt = open_runtime(database_url)
    flt = deliverylog.DeliveryFilter(status=status, event_type=event)
    with operator_unit(rt) as ctx:
        page = deliverylog.list_deliveries(
            ctx, resolve_directory(ctx, directory).id, flt, limit=limit
        )
    if json_out:
        emit_json(page.model_dump(mode="json"))
        return
    emit_table(
        ["created", "id", "event", "to", "status", "tries", "last error"],
        [
            [
                d.created_at,
                d.id,
                d.event_type,
                d.recipient,
                d.status.value,
                d.attempts,
                d.last_error,
            ]
            for d in page.items
        ],
    )


@notifications_app.command("retry")
def retry(
    delivery_id: Annotated[
        str | None, typer.Argument(help="A dead-lettered delivery's id.")
    ] = None,
    all_dead: Annotated[
        bool, typer.Option("--all-dead", help="Every dead-lettered delivery.")
    ] = False,
    directory: DirectoryOpt = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Retry dead-lettered deliveries (after fixing the channel they failed on)."""
    if (delivery_id is None) == (not all_dead):
        raise typer.BadParameter("give a delivery id or --all-dead")
    rt = open_runtime(database_url)
    with operator_unit(rt) as ctx:
        directory_id = resolve_directory(ctx, directory).id
        if all_dead:
            count = deliverylog.retry_dead(ctx, directory_id)
            typer.echo(f"{count} deliveries queued again")
            return
        assert delivery_id is not None
        try:
            wanted = uuid.UUID(delivery_id)
        except ValueError:
            raise typer.BadParameter(f"{delivery_id!r} is not a delivery id") from None
        deliverylog.retry_delivery(ctx, directory_id, wanted)
    typer.echo(f"delivery {wanted} queued again")


@notifications_app.command("deliver")
def deliver(
    limit: Annotated[int, typer.Option("--limit", min=1, max=5000, help="Per batch.")] = 200,
    scan: Annotated[
        bool, typer.Option("--scan/--no-scan", help="Queue due reminders and digests first.")
    ] = True,
    database_url: DatabaseUrl = None,
    json_out: JsonFlag = False,
) -> None:
    """Send everything due now, then stop (the worker does this continuously)."""
    rt = open_runtime(database_url)
    queued = {"reminders": 0, "digests": 0}
    if scan:
        queued = {"reminders": reminders.scan(rt), "digests": digest.scan(rt)}
    counts = drain(rt, limit=limit)
    out = {
        **queued,
        "events_expanded": counts.events_expanded,
        "delivered": counts.delivered,
        "retrying": counts.retrying,
        "dead": counts.dead,
    }
    if json_out:
        emit_json(out)
    else:
        typer.echo(", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in out.items()))
