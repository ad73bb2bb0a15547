"""The notification channels page: the SMTP relay and the webhooks, and test messages.

Only an active Privileged Role Administrator changes channels or sends test messages (the
services decide, the page only hides buttons). Secrets are write-only: the SMTP password, a
webhook's secret and its full URL go into the service and never come back into a page. A form
that fails is shown again with what was typed, except those fields.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Response
from pydantic import SecretStr

from openpim.kit.errors import DomainError
from openpim.notifications import channels
from openpim.notifications.catalog import EVENTS
from openpim.notifications.schemas import (
    EmailChannelIn,
    Security,
    WebhookFormat,
    WebhookIn,
    WebhookUpdate,
)
from openpim.web import forms
from openpim.web.pages.notifications.channel_forms import (
    Checkbox,
    Secret,
    Text,
    WebhookFields,
    event_patterns,
    payload_format,
    port_number,
    required_text,
    security_mode,
    service_input,
)
from openpim.web.pages.notifications.messages import redirect_message
from openpim.web.portal import Portal, PortalDep
from openpim.web.routing import WebRoute, redirect
from openpim.web.security import CsrfProtected
from openpim.web.templating import render

router = APIRouter(route_class=WebRoute, include_in_schema=False)

CHANNELS = "/notifications/channels"
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
            "message": redirect_message(portal),
        }
        return render(portal.request, "notification_channels.html", context, status_code=status)


@router.get(CHANNELS)
def channels_page(portal: PortalDep) -> Response:
    return _channels_page(portal)


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
            "host": required_text(host, "host", "SMTP server's host name"),
            "port": port_number(port),
            "security": security_mode(security),
            "username": forms.text(username),
            "from_address": required_text(from_address, "from_address", "sender address"),
        }
        # An empty password field keeps the saved one: leave the field out of the update.
        secret = forms.text(password)
        if secret is not None:
            values["password"] = SecretStr(secret)
        with portal.unit() as (ctx, viewer):
            channels.set_email_channel(
                ctx, viewer.directory_id, service_input(EmailChannelIn, **values)
            )
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
def add_webhook(portal: PortalDep, _csrf: CsrfProtected, form: WebhookFields) -> Response:
    try:
        typed_secret = forms.text(form.secret)
        data = service_input(
            WebhookIn,
            name=required_text(form.name, "name", "webhook's name"),
            url=SecretStr(required_text(form.url, "url", "webhook's URL")),
            format=payload_format(form.format),
            secret=SecretStr(typed_secret) if typed_secret is not None else None,
            enabled=bool(form.enabled),
            event_types=event_patterns(form.event_types),
        )
        with portal.unit() as (ctx, viewer):
            created = channels.create_webhook(ctx, viewer.directory_id, data)
    except DomainError as exc:
        return _channels_page(
            portal, error=exc.message, error_field=exc.field, failed="webhook-new",
            form=form.shown_again(), status=exc.status,
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
    form: WebhookFields,
) -> Response:
    try:
        new_url, new_secret = forms.text(form.url), forms.text(form.secret)
        data = service_input(
            WebhookUpdate,
            name=required_text(form.name, "name", "webhook's name"),
            # Empty: keep the saved URL and secret.
            url=SecretStr(new_url) if new_url is not None else None,
            format=payload_format(form.format),
            secret=SecretStr(new_secret) if new_secret is not None else None,
            enabled=bool(form.enabled),
            event_types=event_patterns(form.event_types),
        )
        with portal.unit() as (ctx, viewer):
            channels.update_webhook(ctx, viewer.directory_id, webhook_id, data)
    except DomainError as exc:
        return _channels_page(
            portal, error=exc.message, error_field=exc.field, failed=f"webhook-{webhook_id}",
            form=form.shown_again(), status=exc.status,
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
