"""Notification channels (the SMTP relay, webhooks) and the delivery log.

PIM's readers see both pages; only an active Privileged Role Administrator changes channels,
sends test messages or retries deliveries (the services decide, the page only hides buttons).
Secrets are write-only: the SMTP password, a webhook's secret and its full URL go into the
service and never come back into a page. A form that fails is shown again with what was
typed, except those fields.

The portal mounts this package's `router` like any page module, and tries the sub-routers'
routes in the order they are included below, the order the single module had. No path of the
one can match a route of the other (/notifications/channels/... against
/notifications/deliveries/... and /notifications/events/...), so the order decides nothing;
it is fixed all the same, so the route table does not depend on import order.
"""

from __future__ import annotations

from fastapi import APIRouter

from openpim.web.pages.notifications import channels, deliveries
from openpim.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
router.include_router(channels.router)
router.include_router(deliveries.router)

__all__ = ["router"]
