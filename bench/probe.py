"""What the load generator's probes ask a benchmarked server: a request that carries
``x-bench-count-queries: 1`` gets ``x-bench-queries: N`` (the statements the engine ran for it,
including a streamed body's) and ``x-bench-cpu-us``: the CPU time the process spent on it (the probes
come one at a time, so nothing else ran meanwhile; the server's HTTP parsing is not in it). Such a
response is buffered until complete, so only the untimed probes ask for it. Unlike requests per
second, CPU per request hardly moves with what else the machine is doing."""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar

from litestar.types import ASGIApp, Message, Receive, Scope, Send

COUNT_HEADER = b"x-bench-count-queries"
RESULT_HEADER = b"x-bench-queries"
CPU_HEADER = b"x-bench-cpu-us"
_queries: ContextVar[list[int] | None] = ContextVar("bench_queries", default=None)


def install_query_counter(engine) -> None:
    """Wrap the engine's two ways of running SQL so the current request's counter sees each one."""
    engine_class = type(engine)
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

        started = time.thread_time()
        try:
            await inner(scope, until_finished, hold)
        finally:
            _queries.reset(token)
        cpu_us = round((time.thread_time() - started) * 1e6)
        for message in held:
            if message["type"] == "http.response.start":
                extra = [(RESULT_HEADER, str(counter[0]).encode()), (CPU_HEADER, str(cpu_us).encode())]
                message = {**message, "headers": [*message["headers"], *extra]}
            await send(message)

    return counted
