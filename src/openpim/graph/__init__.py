"""A Microsoft Graph v1.0-compatible PIM API under /v1.0: a thin translation over the services."""

from openpim.graph.routes import router

__all__ = ["router"]
