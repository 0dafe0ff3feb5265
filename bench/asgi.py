"""What the benchmark serves: the production app (``create_app()``, settings from the environment),
plus two bench-only additions that the production entry point ``app.asgi`` does not have:

- ``GET /__bench/floor`` — a route that does nothing, so the run can measure the framework's floor
  (every middleware still runs: security headers, sessions, CSRF, compression);
- a query counter: a request that carries ``x-bench-count-queries: 1`` gets ``x-bench-queries: N``
  (the statements the engine ran for it, including a streamed body's). Such a response is buffered
  until complete, so only the load generator's untimed probe requests ask for it.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar

from litestar import get
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.models.db import engine
from app.web.app import create_app

COUNT_HEADER = b"x-bench-count-queries"
RESULT_HEADER = b"x-bench-queries"
_queries: ContextVar[list[int] | None] = ContextVar("bench_queries", default=None)


def install_query_counter() -> None:
    """Wrap the engine's two ways of running SQL so the current request's counter sees each one."""
    engine_class = type(engine())
    original_query, original_ddl = engine_class.run_querystring, engine_class.run_ddl

    async def run_querystring(self, querystring, *args, **kwargs):
        counter = _queries.get()
        if counter is not None:
            counter[0] += 1
        return await original_query(self, querystring, *args, **kwargs)

    async def run_ddl(self, ddl, *args, **kwargs):
        counter = _queries.get()
        if counter is not None:
            counter[0] += 1
        return await original_ddl(self, ddl, *args, **kwargs)

    engine_class.run_querystring, engine_class.run_ddl = run_querystring, run_ddl


def with_query_count(inner: ASGIApp) -> ASGIApp:
    async def counted(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (COUNT_HEADER, b"1") not in scope.get("headers", []):
            await inner(scope, receive, send)
            return
        counter = [0]
        token = _queries.set(counter)
        held: list[Message] = []
        finished = asyncio.Event()
        body_read = False

        async def hold(message: Message) -> None:
            held.append(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished.set()

        async def until_finished() -> Message:
            # A streaming response listens for the client going away; the server only says so once it
            # has the response, which is held here, so say it when the held response is complete.
            nonlocal body_read
            if not body_read:
                message = await receive()
                body_read = message["type"] != "http.request" or not message.get("more_body", False)
                return message
            await finished.wait()
            return {"type": "http.disconnect"}

        try:
            await inner(scope, until_finished, hold)
        finally:
            _queries.reset(token)
        for message in held:
            if message["type"] == "http.response.start":
                message = {
                    **message,
                    "headers": [*message["headers"], (RESULT_HEADER, str(counter[0]).encode())],
                }
            await send(message)

    return counted


@get("/__bench/floor", name="bench_floor", include_in_schema=False)
async def floor() -> str:
    return "ok"


litestar_app = create_app()
litestar_app.register(floor)
install_query_counter()
app = with_query_count(litestar_app)
