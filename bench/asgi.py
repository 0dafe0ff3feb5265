"""What the benchmark serves: the production app (``create_app()``, settings from the environment),
plus two bench-only additions that the production entry point ``app.asgi`` does not have:

- ``GET /__bench/floor`` — a route that does nothing, so the run can measure the framework's floor
  (every middleware still runs: security headers, sessions, CSRF, compression);
- the probes' query counter and CPU timing (``bench.probe``).
"""

from __future__ import annotations

from litestar import get

from app.models.db import engine
from app.web.app import create_app
from bench.probe import install_query_counter, with_query_count


@get("/__bench/floor", name="bench_floor", include_in_schema=False)
async def floor() -> str:
    return "ok"


litestar_app = create_app()
litestar_app.register(floor)
install_query_counter(engine())
app = with_query_count(litestar_app)
