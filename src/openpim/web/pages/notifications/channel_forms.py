"""Reading the channel forms: their fields, and the typed text turned into the services' input.

A value the page cannot read, or the service's input model refuses, becomes a
ValidationFailed naming its field, so the form is shown again with the error beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Form
from pydantic import BaseModel
from pydantic import ValidationError as ModelError

from openpim.kit.errors import ValidationFailed
from openpim.notifications.schemas import Security, WebhookFormat
from openpim.web import forms

MAX_PATTERNS = 100

Text = Annotated[str, Form(max_length=320)]
Checkbox = Annotated[str, Form(max_length=8)]
Secret = Annotated[str, Form(max_length=512)]


M = TypeVar("M", bound=BaseModel)


def service_input(model: type[M], **values: Any) -> M:
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


def port_number(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ValidationFailed(
            "Enter a port between 1 and 65535.", code="invalid_port", field="port"
        )
    return port


def security_mode(value: str) -> Security:
    try:
        return Security(value)
    except ValueError:
        raise ValidationFailed("Choose how to secure the connection.", field="security") from None


def payload_format(value: str) -> WebhookFormat:
    try:
        return WebhookFormat(value)
    except ValueError:
        raise ValidationFailed("Choose a payload format.", field="format") from None


def event_patterns(value: str) -> list[str]:
    lines = [line.strip() for line in (forms.text(value) or "").replace(",", "\n").splitlines()]
    lines = [line for line in lines if line]
    if len(lines) > MAX_PATTERNS:
        raise ValidationFailed(
            f"At most {MAX_PATTERNS} event types.", code="too_many", field="event_types"
        )
    return lines


def required_text(value: str, field: str, label: str) -> str:
    text = forms.text(value)
    if text is None:
        raise ValidationFailed(f"Enter the {label}.", code="required", field=field)
    return text


@dataclass(frozen=True)
class WebhookForm:
    """The webhook form's fields as typed, shared by "add" and "change" (which differ only in
    what an empty URL or secret means)."""

    name: str
    url: str
    format: str
    secret: str
    event_types: str
    enabled: str

    def shown_again(self) -> dict[str, str]:
        """What the form shows again after an error: never the URL or the secret."""
        return {
            "name": self.name,
            "format": self.format,
            "event_types": self.event_types,
            "enabled": self.enabled,
        }


def webhook_form(
    name: Annotated[str, Form(max_length=100)] = "",
    url: Annotated[str, Form(max_length=2048)] = "",
    format: Annotated[str, Form(max_length=16)] = "generic",
    secret: Secret = "",
    event_types: Annotated[str, Form(max_length=10_000)] = "",
    enabled: Checkbox = "",
) -> WebhookForm:
    return WebhookForm(name, url, format, secret, event_types, enabled)


WebhookFields = Annotated[WebhookForm, Depends(webhook_form)]
