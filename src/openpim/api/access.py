"""The access check: does user U hold role R active (now, or at a given instant)?

This is the hot path other systems call before letting an admin act, so it stays lean: a plain
`def` route (one thread hop), one read transaction holding the token lookup and the access
query, and a small dict for FastAPI to encode. It answers from the same read-time predicate
as everything else (access.service), so it never lags behind the worker.
"""

from __future__ import annotations

import uuid
from datetime import UTC
from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime

from openpim.access import checks
from openpim.api.deps import SELF_OR_READER, CallerDep, access

router = APIRouter(prefix="/access", tags=["access"])


@router.get(
    "/users/{user_id}/roles",
    summary="The role ids a user holds active at `at` (default: now)",
    openapi_extra=access(SELF_OR_READER),
)
def active_roles(
    user_id: uuid.UUID, caller: CallerDep, at: AwareDatetime | None = None
) -> dict[str, Any]:
    with caller.read() as ctx:
        role_ids = checks.active_roles_of(ctx, user_id, at)
        instant = (at or ctx.now).astimezone(UTC)
    return {
        "user_id": str(user_id),
        "at": instant.isoformat().replace("+00:00", "Z"),
        "role_ids": sorted(str(r) for r in role_ids),
    }


@router.get(
    "/users/{user_id}/roles/{role_id}",
    summary="Whether a user holds a role active at `at` (default: now)",
    openapi_extra=access(SELF_OR_READER),
)
def role_active(
    user_id: uuid.UUID, role_id: uuid.UUID, caller: CallerDep, at: AwareDatetime | None = None
) -> dict[str, Any]:
    with caller.read() as ctx:
        return {"active": checks.holds_role(ctx, user_id, role_id, at)}
