"""The web portal: server-rendered pages (Jinja2 + htmx) over the same services as the API.

Mount it with `openpim.web.install(app)`: the page routes plus /static.

Every module in `openpim.web.pages` that defines a `router` is a group of pages and is
included, in name order, so a new screen is one new module (no central list to edit). A
package counts as one module: its own `router` includes its sub-modules' routers, in the order
it chooses (pages/alerts/, pages/notifications/).
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from openpim.web import pages
from openpim.web.templating import STATIC, STATIC_PREFIX


def page_modules() -> list[str]:
    """Names of the page modules, sorted, so route order never depends on the file system."""
    return sorted(
        f"{pages.__name__}.{info.name}"
        for info in pkgutil.iter_modules(pages.__path__)
        if not info.name.startswith("_")
    )


router = APIRouter(include_in_schema=False)
for _name in page_modules():
    _module = importlib.import_module(_name)
    _pages = getattr(_module, "router", None)
    if isinstance(_pages, APIRouter):
        router.include_router(_pages)


def install(app: FastAPI) -> None:
    """Add the portal's pages and its static files to the application."""
    app.include_router(router)
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="static")


__all__ = ["install", "page_modules", "router"]
