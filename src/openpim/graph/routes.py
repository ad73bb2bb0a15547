"""The /v1.0 router: every Graph resource, plus Graph-shaped answers for unknown addresses.

Mounted by app.py with one include_router line. The fallback comes last and is a plain
Starlette route (it serves no resource, so it is no API route with an access level): a /v1.0
path that no resource matches gets Graph's error shape (404, or 405 when only the method is
wrong) instead of the native API's problem+json.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.routing import Match

from openpim.graph import routes_directory, routes_policies, routes_requests, routes_schedules
from openpim.graph.errors import GraphError, error_response
from openpim.graph.web import PREFIX

_MODULES = (routes_directory, routes_requests, routes_schedules, routes_policies)
router = APIRouter(prefix=PREFIX, tags=["Microsoft Graph v1.0"])
for _module in _MODULES:
    router.include_router(_module.router)

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


async def unknown_address(request: Request) -> Response:
    # Match against the resource routes as if the prefix were not there.
    path = request.scope["path"][len(PREFIX) :]
    scope = {**request.scope, "path": path, "root_path": request.scope.get("root_path", "")}
    allowed: set[str] = set()
    for route in (r for module in _MODULES for r in module.router.routes):
        match, _ = route.matches(scope)
        if match == Match.PARTIAL:
            allowed |= set(getattr(route, "methods", None) or ())
    if allowed:
        err = GraphError(
            405,
            "Request_BadRequest",
            f"{request.method} is not supported on this resource.",
            headers={"Allow": ", ".join(sorted(allowed))},
        )
    else:
        segment = path.strip("/").split("/", 1)[0] or "/"
        err = GraphError(
            404, "Request_ResourceNotFound", f"Resource not found for the segment {segment!r}."
        )
    return error_response(request, err)


# add_route does not apply the router's own prefix (only add_api_route does): without it here the
# fallback would answer every unknown address of the whole app, /api/v1 included.
router.add_route(
    f"{PREFIX}/{{rest:path}}", unknown_address, methods=_METHODS, include_in_schema=False
)
