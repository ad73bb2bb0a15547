"""The OpenAPI document: the bearer scheme, required on every route that is not public."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from openpim.api.deps import ACCESS_KEY, BEARER_DESCRIPTION, PUBLIC

SCHEME = "bearer"


def add_bearer_security(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                SCHEME: {"type": "http", "scheme": "bearer", "description": BEARER_DESCRIPTION}
            }
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    if isinstance(operation, dict) and operation.get(ACCESS_KEY) != PUBLIC:
                        operation["security"] = [{SCHEME: []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
