"""The bare framework beside the app: a Litestar app with one route and nothing else (no middleware,
templates, sessions or database), served by ``bench.run`` exactly as the app is, in the same run."""

from __future__ import annotations

from litestar import Litestar, get


@get("/", include_in_schema=False)
async def hello() -> str:
    return "hello"


app = Litestar([hello], openapi_config=None, logging_config=None)
