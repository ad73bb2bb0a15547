"""Security alerts: the list with Scan now, and each alert's page (what it means, its
configuration, its open incident with the affected users and roles, dismissal, fix actions and
the history of past incidents).

Authorisation is the service's (alerts/service.py, alerts/fixes.py): PIM's readers read and
scan; only an active Privileged Role Administrator is shown, and may use, configuration,
dismissal and fixes. The page only hides what the viewer may not do; the service refuses it.

The portal mounts this package's `router` like any page module, and tries the sub-routers'
routes in the order they are included below, the order the single module had. No two of today's
routes match the same method and path, so the order decides nothing yet; it stays fixed, list
first, so that a route added later with an {alert_type} parameter cannot shadow a literal path
such as POST /alerts/scan.
"""

from __future__ import annotations

from fastapi import APIRouter

from openpim.web.pages.alerts import configuration, detail, incidents, listing
from openpim.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
router.include_router(listing.router)
router.include_router(detail.router)
router.include_router(configuration.router)
router.include_router(incidents.router)

__all__ = ["router"]
