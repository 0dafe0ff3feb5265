"""The load generator: a separate process that signs in over loopback and sends a fixed number of
requests to each endpoint, then writes what it measured as JSON.

``python -m bench.load CONFIG.json OUT.json`` (``bench.run`` writes the config). For each endpoint it
first sends a few untimed probes that ask the server for its query count (see ``bench.asgi``) and
record the gzip size on the wire, then the timed requests with ``concurrency`` connections.
Cookies are kept by hand because the app's cookies are ``Secure`` (DEBUG off) and this is plain HTTP.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

PROBES = 3
STATIC_ASSETS = ("/static/app.css", "/static/vendor/htmx-2.0.11.min.js", "/static/app.js")


@dataclass
class Browser:
    """A signed-in (or not) person: their cookies, sent by hand on every request."""

    client: httpx.AsyncClient
    cookies: dict[str, str] = field(default_factory=dict)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"accept-encoding": "gzip"}
        if self.cookies:
            headers["cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        return {**headers, **(extra or {})}

    def keep(self, response: httpx.Response) -> None:
        for line in response.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            value = rest.split(";", 1)[0]
            if value in ("", '""') or "max-age=0" in line.lower():
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def csrf(self) -> str:
        return next(v for k, v in self.cookies.items() if k.endswith("csrftoken"))

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = self.headers(kwargs.pop("headers", None))
        response = await self.client.request(method, url, headers=headers, **kwargs)
        self.keep(response)
        return response


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> Browser:
    person = Browser(client)
    await person.request("GET", "/login")
    response = await person.request(
        "POST",
        "/login",
        data={"email": email, "password": password},
        headers={"x-csrftoken": person.csrf()},
    )
    if response.status_code != 303:
        raise SystemExit(f"sign-in as {email} failed: {response.status_code} {response.text[:300]}")
    return person


@dataclass
class Endpoint:
    name: str
    person: Browser
    count: int
    make: Callable[[int], tuple[str, str, dict[str, Any]]]  # i -> (method, url, request kwargs)
    expect: int = 200


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


async def measure(endpoint: Endpoint, concurrency: int) -> dict[str, Any]:
    print(f"  {endpoint.name} …", file=sys.stderr, flush=True)
    queries, wire, plain = [], [], []
    for i in range(PROBES):
        method, url, kwargs = endpoint.make(i)
        headers = {**kwargs.pop("headers", {}), "x-bench-count-queries": "1"}
        response = await endpoint.person.request(method, url, headers=headers, **kwargs)
        if response.status_code != endpoint.expect:
            raise SystemExit(f"{endpoint.name}: {method} {url} answered {response.status_code}")
        queries.append(int(response.headers.get("x-bench-queries", "-1")))
        wire.append(response.num_bytes_downloaded)
        plain.append(len(response.content))
        encoding = response.headers.get("content-encoding", "identity")
    counter = itertools.count(PROBES)
    latencies: list[float] = []
    errors: list[str] = []

    async def worker() -> None:
        while (i := next(counter)) < PROBES + endpoint.count:
            method, url, kwargs = endpoint.make(i)
            started = time.perf_counter()
            response = await endpoint.person.request(method, url, **kwargs)
            latencies.append(time.perf_counter() - started)
            if response.status_code != endpoint.expect:
                errors.append(f"{method} {url}: {response.status_code}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "endpoint": endpoint.name,
        "requests": endpoint.count,
        "seconds": round(elapsed, 3),
        "rps": round(endpoint.count / elapsed, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "queries": max(queries),
        "queries_seen": sorted(set(queries)),
        "bytes_gzip": int(sum(wire) / len(wire)),
        "bytes_plain": int(sum(plain) / len(plain)),
        "encoding": encoding,
        "errors": len(errors),
        "first_errors": errors[:3],
    }


async def phone_first_load(person: Browser, day: str) -> dict[str, int]:
    """What a phone downloads to open the calendar for the first time: the day view and its assets."""
    sizes = {}
    response = await person.request("GET", f"/calendar?date={day}")
    sizes["html"] = response.num_bytes_downloaded
    for path in STATIC_ASSETS:
        asset = await person.request("GET", path)
        if asset.status_code != 200 or asset.headers.get("content-encoding") != "gzip":
            raise SystemExit(f"{path}: {asset.status_code}, encoding {asset.headers.get('content-encoding')}")
        sizes[path.rsplit("/", 1)[1]] = asset.num_bytes_downloaded
    sizes["total"] = sum(sizes.values())
    return sizes


def endpoints(
    config: dict[str, Any], clinician: Browser, client: Browser, anonymous: Browser
) -> list[Endpoint]:
    counts = config["counts"]
    dates, panel_ids, status_ids = config["dates"], config["appointment_ids"], config["status_ids"]
    htmx = {"hx-request": "true"}
    month, year = config["report_month"], config["report_year"]

    def get(url_of: Callable[[int], str], headers: dict[str, str] | None = None):
        return lambda i: ("GET", url_of(i), {"headers": dict(headers or {})})

    def status_change(i: int):
        appointment_id = status_ids[i % len(status_ids)]
        status = "occurred" if (i // len(status_ids)) % 2 == 0 else "scheduled"
        return (
            "POST",
            f"/appointments/{appointment_id}/status",
            {"data": {"status": status}, "headers": {**htmx, "x-csrftoken": clinician.csrf()}},
        )

    def report(period: dict[str, str], path: str = "/report") -> Callable[[int], str]:
        return lambda i: f"{path}?preset=custom&start={period['start']}&end={period['end']}"

    table = [
        Endpoint("floor (signed out)", anonymous, counts["floor"], get(lambda i: "/__bench/floor")),
        Endpoint("floor (signed in)", clinician, counts["floor"], get(lambda i: "/__bench/floor")),
        Endpoint("healthz", anonymous, counts["healthz"], get(lambda i: "/healthz")),
        Endpoint("login page", anonymous, counts["login"], get(lambda i: "/login")),
        Endpoint(
            "calendar week",
            clinician,
            counts["calendar"],
            get(lambda i: f"/calendar?view=week&date={dates[i % len(dates)]}"),
        ),
        Endpoint(
            "calendar week (htmx)",
            clinician,
            counts["calendar"],
            get(lambda i: f"/calendar?view=week&date={dates[i % len(dates)]}", htmx),
        ),
        Endpoint(
            "calendar day",
            clinician,
            counts["calendar"],
            get(lambda i: f"/calendar?view=day&date={dates[i % len(dates)]}"),
        ),
        Endpoint(
            "appointment panel (htmx)",
            clinician,
            counts["panel"],
            get(lambda i: f"/appointments/{panel_ids[i % len(panel_ids)]}", htmx),
        ),
        Endpoint("status change (htmx)", clinician, counts["status"], status_change),
        Endpoint("report, a month", clinician, counts["report_month"], get(report(month))),
        Endpoint("report, a year", clinician, counts["report_year"], get(report(year))),
        Endpoint("CSV export, a year", clinician, counts["csv_year"], get(report(year, "/report.csv"))),
        Endpoint("client portal home", client, counts["portal"], get(lambda i: "/portal")),
    ]
    return [endpoint for endpoint in table if endpoint.count > 0]


async def main(config: dict[str, Any]) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=config["concurrency"] * 3)
    async with httpx.AsyncClient(base_url=config["base_url"], limits=limits, timeout=60) as client:
        clinician = await sign_in(client, config["clinician_email"], config["password"])
        patient = await sign_in(client, config["client_email"], config["password"])
        anonymous = Browser(client)
        results = [
            await measure(e, config["concurrency"]) for e in endpoints(config, clinician, patient, anonymous)
        ]
        phone = await phone_first_load(Browser(client, dict(clinician.cookies)), config["dates"][0])
    return {"endpoints": results, "phone_first_load": phone}


if __name__ == "__main__":
    with open(sys.argv[1]) as source:
        settings = json.load(source)
    outcome = asyncio.run(main(settings))
    with open(sys.argv[2], "w") as target:
        json.dump(outcome, target, indent=2)
