"""The bare framework beside the app: a Litestar app with one route and nothing else (no middleware,
templates, sessions or database), served by ``bench.run`` exactly as the app is, in the same run.
Only the probes' CPU timing (``bench.probe``) wraps it (a header check per request)."""

from __future__ import annotations

from litestar import Litestar, get

from bench.probe import with_query_count


@get("/", include_in_schema=False)
async def hello() -> str:
    return "hello"


litestar_app = Litestar([hello], openapi_config=None, logging_config=None)
app = with_query_count(litestar_app)
