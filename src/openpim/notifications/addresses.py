"""Email addresses, host names and webhook URLs: what a relay and an HTTP client accept."""

from __future__ import annotations

import ipaddress
import re
from email.headerregistry import Address
from email.utils import parseaddr

import httpx

from openpim.kit.errors import ValidationFailed

# Dot-atom local part and a dotted DNS name: what a mail relay will accept without surprises.
# Role settings' extra recipients are checked with is_address too (policies/validation.py).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL = re.compile(
    rf"{_ATEXT}(?:\.{_ATEXT})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+"
    r"(?:[A-Za-z]{2,63}|[Xx][Nn]--[A-Za-z0-9-]{1,59})"
)
_HOST = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*"
)
_EVENT_PATTERN = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*(?:\.\*)?|\*")


def is_address(value: str) -> bool:
    if len(value) > 254 or _EMAIL.fullmatch(value) is None:
        return False
    return len(value.rsplit("@", 1)[0]) <= 64


def canonical_address(value: str) -> str:
    """Domain lower-cased (case-insensitive); the local part kept as given."""
    local, domain = value.strip().rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def check_from_address(value: str, field: str = "from_address") -> str:
    """'pim@contoso.com' or 'Contoso PIM <pim@contoso.com>'; returns it in header form."""
    if any(ch in value for ch in "\r\n\x00"):
        raise ValidationFailed("The sender address has a line break.", field=field)
    name, address = parseaddr(value.strip())
    if not address or not is_address(address):
        raise ValidationFailed(
            f"{value!r} is not an email address (e.g. pim@contoso.com).",
            code="invalid_email",
            field=field,
        )
    address = canonical_address(address)
    return str(Address(display_name=name, addr_spec=address)) if name else address


def check_host(value: str, field: str = "host") -> str:
    host = value.strip()
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    if _HOST.fullmatch(host) is None:
        raise ValidationFailed(
            f"{value!r} is not a host name or IP address.", code="invalid_host", field=field
        )
    return host.lower()


def check_webhook_url(value: str, field: str = "url") -> str:
    text = value.strip()
    invalid = ValidationFailed(
        "The webhook URL must be an absolute http:// or https:// address without a user name.",
        code="invalid_webhook_url",
        field=field,
    )
    if len(text) > 2048 or any(ch.isspace() or ord(ch) < 32 for ch in text):
        raise invalid
    try:
        url = httpx.URL(text)
    except (httpx.InvalidURL, ValueError):
        raise invalid from None
    if url.scheme not in ("http", "https") or not url.host or url.userinfo:
        raise invalid
    return str(url)


def redact_url(value: str) -> str:
    """Scheme, host, port and the first path segment: enough to recognise, not to call."""
    url = httpx.URL(value)
    port = f":{url.port}" if url.port else ""
    segments = [s for s in url.path.split("/") if s]
    path = f"/{segments[0]}" if segments else "/"
    hidden = len(segments) > 1 or bool(url.query)
    return f"{url.scheme}://{url.host}{port}{path}{'/…' if hidden else ''}"


def check_event_patterns(values: list[str], field: str = "event_types") -> list[str]:
    out: list[str] = []
    for raw in values:
        value = raw.strip().lower()
        if len(value) > 64 or _EVENT_PATTERN.fullmatch(value) is None:
            raise ValidationFailed(
                f"{raw!r} is not an event type or pattern (e.g. role.activated, request.*).",
                code="invalid_event_type",
                field=field,
            )
        if value not in out:
            out.append(value)
    return out


def matches_event(patterns: list[str], event_type: str) -> bool:
    if not patterns:
        return True
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False
