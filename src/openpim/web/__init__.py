"""The web portal: server-rendered pages (Jinja2 + htmx) over the same services as the API.

Mount it with `openpim.web.install(app)`: the page routes plus /static.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from openpim.web.pages import (
    account,
    audit,
    auth,
    dashboard,
    members,
    my_roles,
    pim,
    requests,
    roles,
)
from openpim.web.pages import settings as role_settings
from openpim.web.templating import STATIC, STATIC_PREFIX

router = APIRouter(include_in_schema=False)
for _module in (
    auth,
    pim,
    dashboard,
    my_roles,
    requests,
    roles,
    role_settings,
    members,
    audit,
    account,
):
    router.include_router(_module.router)


def install(app: FastAPI) -> None:
    """Add the portal's pages and its static files to the application."""
    app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="static")


__all__ = ["install", "router"]
