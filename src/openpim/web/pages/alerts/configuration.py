"""Saving an alert's configuration: switched on or off, and its thresholds."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from starlette.datastructures import FormData

from openpim.alerts import service as alerts
from openpim.alerts.definitions import definition
from openpim.kit.errors import DomainError
from openpim.web.pages.alerts.detail import alert_page_failure
from openpim.web.pages.alerts.presentation import back_to
from openpim.web.portal import PortalDep
from openpim.web.routing import WebRoute
from openpim.web.security import CsrfProtected

router = APIRouter(route_class=WebRoute, include_in_schema=False)

RAW_THRESHOLD_MAX = 32


async def submitted(request: Request) -> FormData:
    """The posted form as a whole (Starlette caches it): the thresholds differ per alert."""
    return await request.form()


Submitted = Annotated[FormData, Depends(submitted)]
WHOLE = re.compile(r"[+-]?\d{1,18}")


def _threshold(raw: object) -> int | str:
    """A whole number when the text is one; anything else goes to the service as text, so its
    own message ("must be a whole number") is the one shown."""
    text = (raw if isinstance(raw, str) else "").strip()[:RAW_THRESHOLD_MAX]
    return int(text) if WHOLE.fullmatch(text) else text


@router.post("/alerts/{alert_type}/config")
def configure(
    portal: PortalDep,
    _csrf: CsrfProtected,
    alert_type: str,
    posted: Submitted,
    enabled: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    alert = definition(alert_type)
    raw = {t.name: posted.get(f"t_{t.name}") for t in alert.thresholds}
    form = {
        "enabled": bool(enabled),
        "thresholds": {k: v if isinstance(v, str) else "" for k, v in raw.items()},
    }
    try:
        with portal.unit() as (ctx, viewer):
            alerts.update_config(
                ctx,
                viewer.directory_id,
                alert.type.value,
                enabled=bool(enabled),
                thresholds={name: _threshold(value) for name, value in raw.items()},
            )
    except DomainError as exc:
        return alert_page_failure(portal, alert, exc, "config", form)
    return back_to(portal, f"/alerts/{alert.type.value}", done="configured")
