"""Jinja2 set-up: autoescaped templates, the date and duration filters, and `render`."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from openpim.web.security import csrf_token

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
STATIC_PREFIX = "/static"

# Messages shown after a redirect (?msg=key): a fixed list, so a link cannot inject text.
MESSAGES = {
    "signed_out": "You are signed out.",
    "session_ended": "Your session has ended. Sign in again.",
    "pim_enabled": "PIM is enabled. You are now Privileged Role Administrator and Security "
    "Administrator.",
    "wizard_done": "Done: the selected administrators are now eligible.",
    "wizard_closed": "The security wizard is closed. You can reopen it from the dashboard.",
    "activated": "Your role is active.",
    "activation_pending": "Your activation request is waiting for approval.",
    "activation_scheduled": "Your activation is scheduled.",
    "deactivated": "The role is deactivated.",
    "extension_requested": "Your request was sent to the administrators.",
    "request_canceled": "The request is canceled.",
    "approved": "The request is approved.",
    "denied": "The request is denied.",
    "member_added": "The member was added.",
    "member_removed": "The member was removed.",
    "made_permanent": "The assignment is now permanent.",
    "made_eligible": "The member is now eligible.",
    "settings_saved": "The role settings are saved.",
    "mfa_verified": "Your code is confirmed for this session.",
    "mfa_enrolled": "Your authenticator app is set up.",
}


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def iso_utc(value: datetime) -> str:
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_tag(value: datetime | None, empty: str = "—") -> Markup:
    """A <time> element in UTC; static/app.js shows it in the viewer's zone, UTC on hover."""
    if value is None:
        return escape(empty)
    utc = _utc(value)
    text = utc.strftime("%Y-%m-%d %H:%M UTC")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(iso_utc(utc), text, text)


def human_duration(value: timedelta | None) -> str:
    if value is None:
        return "no end"
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    if mins or not parts:
        parts.append(f"{mins} minute{'s' if mins != 1 else ''}")
    return " ".join(parts)


@lru_cache(maxsize=64)
def _static_version(name: str) -> str:
    path = STATIC / name
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return "missing"


def static_url(name: str) -> str:
    return f"{STATIC_PREFIX}/{name}?v={_static_version(name)}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html", "xml"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["dt"] = time_tag
    env.filters["iso"] = iso_utc
    env.filters["duration"] = human_duration
    env.filters["minutes"] = lambda m: human_duration(timedelta(minutes=int(m)))
    env.globals["static_url"] = static_url
    return env


templates = _environment()


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    values: dict[str, Any] = {
        "request": request,
        "viewer": getattr(request.state, "viewer", None),
        "csrf": csrf_token(request),
        "message": MESSAGES.get(request.query_params.get("msg", "")),
        "path": request.url.path,
    }
    values.update(context or {})
    html = templates.get_template(name).render(values)
    return HTMLResponse(html, status_code=status_code, headers=headers)
