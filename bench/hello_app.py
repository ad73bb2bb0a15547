"""The baseline for the HTTP access check: a bare FastAPI hello-world (bench/bench_http.py).

Served with the very same uvicorn settings as OpenPIM (factory, 1 process):
    uvicorn --factory bench.hello_app:create_app  (or --app-dir bench hello_app:create_app)
"""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app
