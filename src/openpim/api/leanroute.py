"""A route class for the access check: documented by FastAPI, served without its machinery.

FastAPI's per-request dependency solving and response serialisation cost more than the access
check itself (two indexed reads). A LeanRoute keeps everything FastAPI derives from the
endpoint's signature at start-up (path matching, the OpenAPI entry), but at request time calls
the endpoint with its parameters parsed here and answers with a plain JSONResponse.

Supported signatures, deliberately few: a `Request` parameter, path parameters typed
`uuid.UUID`, and optional query parameters of any type pydantic can validate from a string.
The endpoint is async and returns a JSON-ready dict. Bad input raises the same
RequestValidationError FastAPI would, so errors keep the usual problem+json shape.
"""

from __future__ import annotations

import inspect
import typing
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.responses import JSONResponse


class LeanRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        assert inspect.iscoroutinefunction(endpoint), "a LeanRoute endpoint must be async"
        hints = typing.get_type_hints(endpoint, include_extras=True)
        path_names = set(self.param_convertors)
        request_arg: str | None = None
        path_args: list[str] = []
        query_args: list[tuple[str, TypeAdapter[Any], Any]] = []
        for name, parameter in inspect.signature(endpoint).parameters.items():
            annotation: Any = hints.get(name)
            if annotation is Request:
                request_arg = name
            elif name in path_names:
                assert annotation is uuid.UUID, f"{name}: LeanRoute path parameters are UUIDs"
                path_args.append(name)
            else:
                assert parameter.default is not inspect.Parameter.empty, f"{name} needs a default"
                adapter: TypeAdapter[Any] = TypeAdapter(annotation)
                query_args.append((name, adapter, parameter.default))

        async def handler(request: Request) -> Response:
            kwargs: dict[str, Any] = {}
            errors: list[dict[str, Any]] = []
            for name in path_args:
                try:
                    kwargs[name] = uuid.UUID(request.path_params[name])
                except ValueError:
                    errors.append(_error("path", name, "Input should be a valid UUID", "uuid"))
            query = request.query_params if request.scope["query_string"] else {}
            for name, adapter, default in query_args:
                raw = query.get(name)
                if raw is None:
                    kwargs[name] = default
                    continue
                try:
                    kwargs[name] = adapter.validate_python(raw)
                except ValidationError as invalid:
                    first = invalid.errors()[0]
                    errors.append(_error("query", name, first["msg"], first["type"]))
            if errors:
                raise RequestValidationError(errors)
            if request_arg is not None:
                kwargs[request_arg] = request
            return JSONResponse(await endpoint(**kwargs))

        return handler


def _error(where: str, name: str, message: str, kind: str) -> dict[str, Any]:
    return {"loc": (where, name), "msg": message, "type": kind}
