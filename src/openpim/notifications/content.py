"""Rendering an event into what is sent: subject, plain text, HTML, facts and a portal link.

Rendered once, at fan-out, and stored on the outbox row: every recipient and every retry gets
the same message. Payload values are only ever data in a template context, never a template,
and the HTML environment escapes them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape

from openpim.notifications.catalog import EventSpec
from openpim.notifications.facts import Facts

SUBJECT_PREFIX = "PIM: "
SUBJECT_MAX = 200

_loader = PackageLoader("openpim.notifications", "templates")
_html = Environment(
    loader=_loader,
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_text = Environment(
    loader=_loader,
    autoescape=False,  # noqa: S701 - plain-text mail: there is no markup to escape for
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@lru_cache(maxsize=256)
def _compiled(source: str) -> Template:
    """The catalog's few subject, intro and link templates, each compiled once."""
    return _text.from_string(source)


def _one_line(value: str) -> str:
    """Header-safe: no line breaks (header injection), squeezed spaces, bounded length."""
    text = " ".join(value.split())
    return text if len(text) <= SUBJECT_MAX else text[: SUBJECT_MAX - 1] + "…"


def _portal_link(base_url: str, path: str) -> str:
    # Only a path under our own portal: a payload must not turn the button into a link to
    # somewhere else.
    path = path.strip()
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        path = "/"
    return base_url.rstrip("/") + path


def _digest_lines(digest: dict[str, Any]) -> list[tuple[str, Any]]:
    labels = [
        ("activations", "Activations"),
        ("made_permanent", "Made permanent"),
        ("assignments_in_pim", "Active assignments made in PIM"),
        ("assignments_outside_pim", "Active assignments made outside PIM"),
        ("eligible_assignments", "Eligible assignments"),
    ]
    return [(label, digest[key]) for key, label in labels if key in digest]


def render(spec: EventSpec, facts: Facts, *, base_url: str) -> dict[str, Any]:
    """The stored content of an event: {subject, title, intro, text, html, facts, link}."""
    ctx = facts.context
    title = _one_line(_compiled(spec.subject).render(ctx))
    intro = " ".join(_compiled(spec.intro).render(ctx).split())
    link = _portal_link(base_url, _compiled(spec.link).render(ctx))
    digest = ctx["data"].get("digest") if isinstance(ctx["data"].get("digest"), dict) else {}
    view = {
        **ctx,
        "subject": SUBJECT_PREFIX + title,
        "title": title,
        "intro": intro,
        "facts": facts.table,
        "width": max((len(label) for label, _ in facts.table), default=0) + 1,
        "link": link,
        "link_label": "Open in PIM",
        "action_needed": spec.action_needed,
        "digest_lines": _digest_lines(digest),
        "top_roles": list(digest.get("top_roles", [])),
    }
    if spec.template == "digest":
        view["width"] = max((len(label) for label, _ in view["digest_lines"]), default=0) + 1
    return {
        "subject": view["subject"],
        "title": title,
        "intro": intro,
        "text": _text.get_template(f"{spec.template}.txt").render(view),
        "html": _html.get_template(f"{spec.template}.html").render(view),
        "facts": [[label, value] for label, value in facts.table],
        "link": link,
        "action_needed": spec.action_needed,
    }
