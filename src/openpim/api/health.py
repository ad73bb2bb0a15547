"""Liveness and readiness: the process answers and the database does too. No authentication."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from openpim.api.deps import PUBLIC, access, get_runtime
from openpim.api.errors import ApiProblem

log = logging.getLogger("openpim.api")

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    summary="Health check: the server and its database answer",
    openapi_extra=access(PUBLIC),
)
def healthz(request: Request) -> dict[str, str]:
    try:
        with get_runtime(request).db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.exception("health check: database unreachable")
        raise ApiProblem(503, "database_unavailable", "The database does not answer.") from None
    return {"status": "ok"}
