"""Notification channels (the SMTP relay, webhooks) and the delivery log.

PIM's readers see both pages; only an active Privileged Role Administrator changes channels,
sends test messages or retries deliveries (the services decide, the page only hides buttons).
Secrets are write-only: the SMTP password, a webhook's secret and its full URL go into the
service and never come back into a page. A form that fails is shown again with what was
typed, except those fields.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Response
from pydantic import BaseModel, SecretStr
from pydantic import ValidationError as ModelError

from openpim.kit.errors import DomainError, ValidationFailed
from openpim.notifications import channels, deliverylog
from openpim.notifications.catalog import EVENTS
from openpim.notifications.schemas import (
    DeliveryStatus,
    EmailChannelIn,
    Security,
    WebhookFormat,
    WebhookIn,
    WebhookUpdate,
)
from openpim.web import forms
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

CHANNELS = "/notifications/channels"
DELIVERIES = "/notifications/deliveries"
PAGE = 50
MAX_PATTERNS = 100
# Messages after a redirect (?msg=key): a fixed list, so a link cannot inject text.
MESSAGES = {
    "email_saved": "The email channel is saved.",
    "email_removed": "The email channel is removed: no more email is sent.",
    "webhook_added": "The webhook is added.",
    "webhook_saved": "The webhook is saved.",
    "webhook_removed": "The webhook is removed.",
    "test_queued": "A test message is queued: follow it in the delivery log.",
    "retried": "The delivery is queued again.",
    "retried_all": "Every dead-lettered delivery is queued again.",
    "nothing_dead": "No delivery was dead-lettered.",
    "event_retried": "The event is queued again.",
}
SECURITY_LABELS = {
    Security.STARTTLS: "STARTTLS (usually port 587)",
    Security.TLS: "Implicit TLS (usually port 465)",
    Security.NONE: "None (a relay on this host or network only; no login)",
}
FORMAT_LABELS = {
    WebhookFormat.GENERIC: "Generic JSON (signed)",
    WebhookFormat.SLACK: "Slack-compatible",
    WebhookFormat.TEAMS: "Microsoft Teams-compatible",
}
STATUS_LABELS = {
    "pending": "Pending",
    "sending": "Sending",
    "delivered": "Delivered",
    "dead": "Dead-lettered",
}

Text = Annotated[str, Form(max_length=320)]
Checkbox = Annotated[str, Form(max_length=8)]
Secret = Annotated[str, Form(max_length=512)]


M = TypeVar("M", bound=BaseModel)


def _model(model: type[M], **values: Any) -> M:
    """The service's input model; a value it refuses is that field's error on the form."""
    try:
        return model(**values)
    except ModelError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else None
        raise ValidationFailed(
            f"{(field or 'A value').replace('_', ' ').capitalize()}: {first['msg']}.",
            code="invalid_field",
            field=field,
        ) from None


def _message(portal: Portal) -> str | None:
    return MESSAGES.get(portal.request.query_params.get("msg", ""))


# --- channels -------------------------------------------------------------------------------


def _channels_page(
    portal: Portal,
    *,
    error: str | None = None,
    error_field: str | None = None,
    failed: str | None = None,
    form: dict[str, str] | None = None,
    generated: tuple[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The channels page. `failed` names the form whose values are shown again ("email",
    "webhook-new", "webhook-<id>", "test"); `generated` is a server-made webhook secret,
    shown in this one response only."""
    with portal.read() as (ctx, viewer):
        settings = channels.overview(ctx, viewer.directory_id)
        context: dict[str, Any] = {
            "email": settings.email,
            "webhooks": settings.webhooks,
            "error": error,
            "error_field": error_field,
            "failed": failed,
            "form": form or {},
            "generated": generated,
            "security_labels": SECURITY_LABELS,
            "format_labels": FORMAT_LABELS,
            "events": sorted(EVENTS),
            "message": _message(portal),
        }
        return render(portal.request, "notification_channels.html", context, status_code=status)


@router.get(CHANNELS)
def channels_page(portal: PortalDep) -> Response:
    return _channels_page(portal)


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValidationFailed(
            "Enter a port between 1 and 65535.", code="invalid_port", field="port"
        )
    return port


def _security(value: str) -> Security:
    try:
        return Security(value)
    except ValueError:
        raise ValidationFailed("Choose how to secure the connection.", field="security") from None


def _format(value: str) -> WebhookFormat:
    try:
        return WebhookFormat(value)
    except ValueError:
        raise ValidationFailed("Choose a payload format.", field="format") from None


def _patterns(value: str) -> list[str]:
    lines = [line.strip() for line in (forms.text(value) or "").replace(",", "\n").splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > MAX_PATTERNS:
        raise ValidationFailed(
            f"At most {MAX_PATTERNS} event types.", code="too_many", field="event_types"
        )
    return lines


def _required(value: str, field: str, label: str) -> str:
    text = forms.text(value)
    if text is None:
        raise ValidationFailed(f"Enter the {label}.", code="required", field=field)
    return text


@router.post(f"{CHANNELS}/email")
def save_email(
    portal: PortalDep,
    _csrf: CsrfProtected,
    host: Text = "",
    port: Annotated[str, Form(max_length=8)] = "",
    security: Annotated[str, Form(max_length=16)] = "starttls",
    username: Text = "",
    password: Secret = "",
    from_address: Text = "",
    enabled: Checkbox = "",
) -> Response:
    typed = {
        "host": host,
        "port": port,
        "security": security,
        "username": username,
        "from_address": from_address,
        "enabled": enabled,
    }
    try:
        values: dict[str, Any] = {
            "enabled": bool(enabled),
            "host": _required(host, "host", "SMTP server's host name"),
            "port": _port(port),
            "security": _security(security),
            "username": forms.text(username),
            "from_address": _required(from_address, "from_address", "sender address"),
        }
        # An empty password field keeps the saved one: leave the field out of the update.
        secret = forms.text(password)
        if secret is not None:
            values["password"] = SecretStr(secret)
        with portal.unit() as (ctx, viewer):
            channels.set_email_channel(ctx, viewer.directory_id, _model(EmailChannelIn, **values))
    except DomainError as exc:
        return _channels_page(
            portal, error=exc.message, error_field=exc.field, failed="email", form=typed,
            status=exc.status,
        )  # fmt: skip
    return redirect(portal.request, f"{CHANNELS}?msg=email_saved")


@router.post(f"{CHANNELS}/email/remove")
def remove_email(portal: PortalDep, _csrf: CsrfProtected) -> Response:
    try:
        with portal.unit() as (ctx, viewer):
            channels.remove_email_channel(ctx, viewer.directory_id)
    except DomainError as exc:
        return _channels_page(portal, error=exc.message, status=exc.status)
    return redirect(portal.request, f"{CHANNELS}?msg=email_removed")


@router.post(f"{CHANNELS}/webhooks")
def add_webhook(
    portal: PortalDep,
    _csrf: CsrfProtected,
    name: Annotated[str, Form(max_length=100)] = "",
    url: Annotated[str, Form(max_length=2048)] = "",
    format: Annotated[str, Form(max_length=16)] = "generic",
    secret: Secret = "",
    event_types: Annotated[str, Form(max_length=10_000)] = "",
    enabled: Checkbox = "",
) -> Response:
    typed = {"name": name, "format": format, "event_types": event_types, "enabled": enabled}
    try:
        typed_secret = forms.text(secret)
        data = _model(
            WebhookIn,
            name=_required(name, "name", "webhook's name"),
            url=SecretStr(_required(url, "url", "webhook's URL")),
            format=_format(format),
            secret=SecretStr(typed_secret) if typed_secret is not None else None,
            enabled=bool(enabled),
            event_types=_patterns(event_types),
        )
        with portal.unit() as (ctx, viewer):
            created = channels.create_webhook(ctx, viewer.directory_id, data)
    except DomainError as exc:
        return _channels_page(
            portal, error=exc.message, error_field=exc.field, failed="webhook-new", form=typed,
            status=exc.status,
        )  # fmt: skip
    if created.secret is not None:
        # The server made the secret: this response is the only place it is ever shown.
        return _channels_page(portal, generated=(created.name, created.secret))
    return redirect(portal.request, f"{CHANNELS}?msg=webhook_added")


@router.post(CHANNELS + "/webhooks/{webhook_id}")
def change_webhook(
    portal: PortalDep,
    _csrf: CsrfProtected,
    webhook_id: uuid.UUID,
    name: Annotated[str, Form(max_length=100)] = "",
    url: Annotated[str, Form(max_length=2048)] = "",
    format: Annotated[str, Form(max_length=16)] = "generic",
    secret: Secret = "",
    event_types: Annotated[str, Form(max_length=10_000)] = "",
    enabled: Checkbox = "",
) -> Response:
    typed = {"name": name, "format": format, "event_types": event_types, "enabled": enabled}
    try:
        new_url, new_secret = forms.text(url), forms.text(secret)
        data = _model(
            WebhookUpdate,
            name=_required(name, "name", "webhook's name"),
            # Empty: keep the saved URL and secret.
            url=SecretStr(new_url) if new_url is not None else None,
            format=_format(format),
            secret=SecretStr(new_secret) if new_secret is not None else None,
            enabled=bool(enabled),
            event_types=_patterns(event_types),
        )
        with portal.unit() as (ctx, viewer):
            channels.update_webhook(ctx, viewer.directory_id, webhook_id, data)
    except DomainError as exc:
        return _channels_page(
            portal, error=exc.message, error_field=exc.field, failed=f"webhook-{webhook_id}",
            form=typed, status=exc.status,
        )  # fmt: skip
    return redirect(portal.request, f"{CHANNELS}?msg=webhook_saved")


@router.post(CHANNELS + "/webhooks/{webhook_id}/remove")
def remove_webhook(portal: PortalDep, _csrf: CsrfProtected, webhook_id: uuid.UUID) -> Response:
    try:
        with portal.unit() as (ctx, viewer):
            channels.remove_webhook(ctx, viewer.directory_id, webhook_id)
    except DomainError as exc:
        return _channels_page(portal, error=exc.message, status=exc.status)
    return redirect(portal.request, f"{CHANNELS}?msg=webhook_removed")


@router.post(f"{CHANNELS}/test")
def send_test(
    portal: PortalDep,
    _csrf: CsrfProtected,
    email: Text = "",
    webhook_id: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    try:
        hook = forms.parse_id(webhook_id, "webhook_id")
        with portal.unit() as (ctx, viewer):
            channels.send_test(
                ctx, viewer.directory_id, email=forms.text(email) if hook is None else None,
                webhook_id=hook,
            )  # fmt: skip
    except DomainError as exc:
        return _channels_page(
            portal, error=exc.message, error_field=exc.field, failed="test",
            form={"email": email}, status=exc.status,
        )  # fmt: skip
    return redirect(portal.request, f"{CHANNELS}?msg=test_queued")


# --- the delivery log -----------------------------------------------------------------------

StatusQ = Annotated[str, Query(pattern="^(all|pending|sending|delivered|dead)$")]
ChannelQ = Annotated[str, Query(pattern="^(all|email|webhook)$")]


def _query(status: str, channel: str, **extra: str) -> str:
    values = {"status": status, "channel": channel, **extra}
    return urlencode({k: v for k, v in values.items() if v and v != "all"})


@router.get(DELIVERIES)
def deliveries_page(
    portal: PortalDep,
    status: StatusQ = "all",
    channel: ChannelQ = "all",
    cursor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    flt = deliverylog.DeliveryFilter(
        status=None if status == "all" else DeliveryStatus(status),
        channel=None if channel == "all" else channel,
    )
    with portal.read() as (ctx, viewer):
        error = None
        try:
            page = deliverylog.list_deliveries(
                ctx, viewer.directory_id, flt, limit=PAGE, cursor=forms.text(cursor)
            )
        except ValidationFailed as exc:  # a cursor from somewhere else
            error = exc.message
            page = deliverylog.list_deliveries(ctx, viewer.directory_id, flt, limit=PAGE)
        dead_events = deliverylog.dead_events(ctx, viewer.directory_id)
        context: dict[str, Any] = {
            "page": page,
            "status": status,
            "channel": channel,
            "statuses": ["all", *STATUS_LABELS],
            "status_labels": STATUS_LABELS,
            "first_page": not cursor,
            "query": _query,
            "dead_events": dead_events,
            "error": error,
            "message": _message(portal),
        }
        return render(portal.request, "notification_deliveries.html", context)


@router.get(DELIVERIES + "/{delivery_id}")
def delivery_page(portal: PortalDep, delivery_id: uuid.UUID) -> Response:
    with portal.read() as (ctx, viewer):
        detail = deliverylog.get_delivery(ctx, viewer.directory_id, delivery_id)
        context = {"d": detail, "status_labels": STATUS_LABELS, "message": _message(portal)}
        return render(portal.request, "notification_delivery.html", context)


@router.post(DELIVERIES + "/retry-dead")
def retry_dead(portal: PortalDep, _csrf: CsrfProtected) -> Response:
    with portal.unit() as (ctx, viewer):
        count = deliverylog.retry_dead(ctx, viewer.directory_id)
    return redirect(
        portal.request, f"{DELIVERIES}?msg={'retried_all' if count else 'nothing_dead'}"
    )


@router.post(DELIVERIES + "/{delivery_id}/retry")
def retry_delivery(portal: PortalDep, _csrf: CsrfProtected, delivery_id: uuid.UUID) -> Response:
    with portal.unit() as (ctx, viewer):
        deliverylog.retry_delivery(ctx, viewer.directory_id, delivery_id)
    return redirect(portal.request, f"{DELIVERIES}/{delivery_id}?msg=retried")


@router.post("/notifications/events/{event_id}/retry")
def retry_event(portal: PortalDep, _csrf: CsrfProtected, event_id: uuid.UUID) -> Response:
    with portal.unit() as (ctx, viewer):
        deliverylog.retry_event(ctx, viewer.directory_id, event_id)
    return redirect(portal.request, f"{DELIVERIES}?msg=event_retried")
