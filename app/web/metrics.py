"""``/metrics`` in the Prometheus text format, and the request counts and latencies behind it.

Only answered to ``Authorization: Bearer $METRICS_TOKEN`` (404 when no token is set). Several web
processes (``serve --workers N``) share their request figures through prometheus-client's
multiprocess mode when ``PROMETHEUS_MULTIPROC_DIR`` is set (the systemd unit sets it).
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import time

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Response
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from app.logs import REQUEST_ID
from app.services.operations import Figures, figures_now
from app.web.runtime import AppRuntime, Now

REQUESTS = Counter(
    "stillwater_http_requests", "Requests answered, by route and status.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "stillwater_http_request_duration_seconds",
    "Time to answer a request, by route.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
request_log = logging.getLogger("stillwater.request")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ObserveRequests:
    """Gives every request an id (``X-Request-ID`` on the answer, ``request_id`` on its log lines and
    on jobs it queues), counts and times it and logs one line, all by its route template
    (``/clients/{client_id}``, never the path: no ids, search words or tokens); a path that matches
    no route is ``unmatched``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id = secrets.token_hex(8)
        reset = REQUEST_ID.set(request_id)

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [*message["headers"], (b"x-request-id", request_id.encode())],
                }
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = scope.get("path_template") or "unmatched"
            seconds = time.perf_counter() - started
            REQUESTS.labels(scope["method"], route, str(status)).inc()
            LATENCY.labels(scope["method"], route).observe(seconds)
            fields = {"method": scope["method"], "route": route, "status": status}
            fields["duration_ms"] = round(seconds * 1000, 1)
            request_log.info("%s %s %s", scope["method"], route, status, extra={"fields": fields})
            REQUEST_ID.reset(reset)


def figures_registry(figures: Figures) -> CollectorRegistry:
    registry = CollectorRegistry()

    def gauge(name: str, text: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(name, text, labels, registry=registry)

    by_state = gauge("stillwater_charges", "Charges by state.", ("state",))
    for state, count in figures.charges_by_state.items():
        by_state.labels(state).set(count)
    gauge("stillwater_charges_due_uncollected", "Charges past their due time, not yet collected.").set(
        figures.due_uncollected
    )
    gauge(
        "stillwater_charge_oldest_due_age_seconds", "How long the oldest uncollected due charge has waited."
    ).set(figures.oldest_due_age)
    gauge("stillwater_outbox_unsent", "Messages waiting to be sent.", ("channel",)).labels("email").set(
        figures.emails_unsent
    )
    gauge("stillwater_outbox_failed", "Messages that failed for good.", ("channel",)).labels("email").set(
        figures.emails_failed
    )
    gauge(
        "stillwater_outbox_oldest_unsent_age_seconds", "Age of the oldest message waiting.", ("channel",)
    ).labels("email").set(figures.oldest_unsent_email_age)
    ages = gauge(
        "stillwater_worker_heartbeat_age_seconds", "Seconds since each worker's last heartbeat.", ("worker",)
    )
    for worker, age in figures.worker_ages.items():
        ages.labels(worker).set(age)
    gauge("stillwater_workers_alive", "Workers with a heartbeat in the last 90 seconds.").set(
        sum(1 for age in figures.worker_ages.values() if age <= 90)
    )
    up = gauge("stillwater_metrics_source_up", "1 when the figures could be read from it.", ("source",))
    for source, answered in figures.sources_up.items():
        up.labels(source).set(1 if answered else 0)
    return registry


def request_registry() -> CollectorRegistry:
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


@get("/metrics", name="metrics", include_in_schema=False)
async def metrics(request: Request, rt: AppRuntime, now: Now) -> Response:
    """The figures, for a Prometheus server holding the token."""
    token = rt.settings.metrics_token
    if not token:
        raise NotFoundException()
    offered = request.headers.get("authorization", "")
    if not hmac.compare_digest(offered.encode(), f"Bearer {token}".encode()):
        return Response(
            content="A valid metrics token is required.\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"', "Cache-Control": "no-store"},
        )
    figures = await figures_now(rt.redis, now)
    body = generate_latest(request_registry()) + generate_latest(figures_registry(figures))
    return Response(content=body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
