"""The one error every OData parser raises, so callers catch query mistakes in one place."""

from __future__ import annotations

from openpim.graph.errors import GraphError


class ODataError(GraphError):
    """A query option is malformed (BadRequest) or outside the supported subset."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(400, "Request_UnsupportedQuery" if unsupported else "BadRequest", message)
