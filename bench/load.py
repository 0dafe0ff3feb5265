"""The load phase: httpx signs in and probes each endpoint once, wrk (a C load generator) measures it.

``python -m bench.load CONFIG.json OUT.json`` (``bench.run`` writes the config). httpx only signs the
clinician and the client in and sends a few untimed probes per endpoint: they ask the server for its
query count and CPU time (see ``bench.probe``), record the gzip size on the wire and check the
answer. The timed part is wrk with ``concurrency`` connections for ``seconds`` per endpoint, sent the
session cookie (and CSRF token) through a generated Lua script that also cycles through the
endpoint's URLs and writes p50/p99 as JSON.

The bare Litestar app (``bench.bare``, served the same way) and the signed-in floor are measured in
rounds between the pages (start, middle, end); every page is compared with the median of each.
Cookies are kept by hand because the app's cookies are ``Secure`` (DEBUG off) and this is plain HTTP.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PROBES = 5
FLOOR_ROUNDS = 3
WRK_THREADS = 2
STATIC_ASSETS = ("/static/app.css", "/static/vendor/htmx-2.0.11.min.js", "/static/app.js")
BARE = "bare Litestar"
FLOOR = "floor (signed in)"

LUA = """
local requests = %(requests)s
local counter = 0
local thread_no = 0
local threads = 0
local made = 0

function setup(thread)
  thread:set("thread_no", made)
  made = made + 1
end

function init(args)
  threads = %(threads)d
  for name, value in pairs(%(headers)s) do wrk.headers[name] = value end
end

-- Each thread takes every threads-th request, so two threads never send the same one at once.
function request()
  local r = requests[(counter * threads + thread_no) %% #requests + 1]
  counter = counter + 1
  return wrk.format(r[1], r[2], nil, r[3])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "status_errors": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_string(value: str) -> str:
    return json.dumps(value)  # a JSON string (ASCII, escaped) is a valid Lua string literal


def lua_script(requests: list[tuple[str, str, str | None]], headers: dict[str, str]) -> str:
    rows = ", ".join(
        "{" + ", ".join([lua_string(method), lua_string(path)] + ([lua_string(body)] if body else [])) + "}"
        for method, path, body in requests
    )
    header_table = "{" + ", ".join(f"[{lua_string(k)}] = {lua_string(v)}" for k, v in headers.items()) + "}"
    return LUA % {"requests": "{" + rows + "}", "headers": header_table, "threads": WRK_THREADS}


@dataclass
class Browser:
    """A signed-in (or not) person: their cookies, sent by hand on every request."""

    client: httpx.Client
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

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = self.headers(kwargs.pop("headers", None))
        response = self.client.request(method, url, headers=headers, **kwargs)
        self.keep(response)
        return response


def sign_in(client: httpx.Client, email: str, password: str) -> Browser:
    person = Browser(client)
    person.request("GET", "/login")
    response = person.request(
        "POST", "/login", data={"email": email, "password": password}, headers={"x-csrftoken": person.csrf()}
    )
    if response.status_code != 303:
        raise SystemExit(f"sign-in as {email} failed: {response.status_code} {response.text[:300]}")
    return person


@dataclass
class Endpoint:
    """What to load: the person sending it, and its requests as (method, path, form body or None)."""

    name: str
    person: Browser
    requests: list[tuple[str, str, str | None]]
    headers: dict[str, str] = field(default_factory=dict)
    base_url: str = ""


def probe(endpoint: Endpoint) -> dict[str, Any]:
    """A few untimed requests, one at a time: the server's query count and CPU time (the median), the
    bytes on the wire, the answer checked."""
    queries, cpu, wire, plain, encoding = [], [], [], [], "identity"
    for n in range(PROBES):
        method, path, body = endpoint.requests[n % len(endpoint.requests)]
        headers = {**endpoint.headers, "x-bench-count-queries": "1"}
        response = endpoint.person.request(
            method, endpoint.base_url + path, headers=headers, content=body.encode() if body else None
        )
        if response.status_code != 200:
            raise SystemExit(f"{endpoint.name}: {method} {path} answered {response.status_code}")
        queries.append(int(response.headers.get("x-bench-queries", "-1")))
        cpu.append(int(response.headers["x-bench-cpu-us"]))
        wire.append(response.num_bytes_downloaded)
        plain.append(len(response.content))
        encoding = response.headers.get("content-encoding", "identity")
    return {
        "queries": max(queries),
        "queries_seen": sorted(set(queries)),
        "cpu_ms": round(statistics.median(cpu) / 1000, 2),
        "bytes_gzip": int(sum(wire) / len(wire)),
        "bytes_plain": int(sum(plain) / len(plain)),
        "encoding": encoding,
    }


def wrk(endpoint: Endpoint, base_url: str, concurrency: int, seconds: int) -> dict[str, Any]:
    """wrk's figures for ``seconds`` of load on the endpoint."""
    headers = endpoint.person.headers(endpoint.headers)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(endpoint.requests, headers))
    try:
        finished = subprocess.run(
            [
                "wrk",
                f"-t{WRK_THREADS}",
                f"-c{max(concurrency, WRK_THREADS)}",
                f"-d{seconds}s",
                "-s",
                script.name,
            ]
            + ["--timeout", "10s", base_url],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        Path(script.name).unlink()
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    return {
        "requests": figures["requests"],
        "seconds": round(figures["duration_us"] / 1e6, 3),
        "rps": round(figures["requests"] / (figures["duration_us"] / 1e6), 1),
        "p50_ms": round(figures["p50_us"] / 1000, 1),
        "p99_ms": round(figures["p99_us"] / 1000, 1),
        "errors": figures["status_errors"] + figures["socket_errors"],
    }


def phone_first_load(person: Browser, day: str) -> dict[str, int]:
    """What a phone downloads to open the calendar for the first time: the day view and its assets."""
    sizes = {}
    response = person.request("GET", f"/calendar?date={day}")
    sizes["html"] = response.num_bytes_downloaded
    for path in STATIC_ASSETS:
        asset = person.request("GET", path)
        if asset.status_code != 200 or asset.headers.get("content-encoding") != "gzip":
            raise SystemExit(f"{path}: {asset.status_code}, encoding {asset.headers.get('content-encoding')}")
        sizes[path.rsplit("/", 1)[1]] = asset.num_bytes_downloaded
    sizes["total"] = sum(sizes.values())
    return sizes


def endpoints(
    config: dict[str, Any], clinician: Browser, client: Browser, anonymous: Browser
) -> list[Endpoint]:
    dates, panel_ids, status_ids = config["dates"], config["appointment_ids"], config["status_ids"]
    htmx = {"hx-request": "true"}
    form, csrf = {"content-type": "application/x-www-form-urlencoded"}, clinician.csrf()
    month, year = config["report_month"], config["report_year"]

    def gets(paths: list[str]) -> list[tuple[str, str, str | None]]:
        return [("GET", path, None) for path in paths]

    # Each appointment goes Occurred, then (after every other one has) back to Scheduled.
    status_changes = [("POST", f"/appointments/{i}/status", "status=occurred") for i in status_ids] + [
        ("POST", f"/appointments/{i}/status", "status=scheduled") for i in status_ids
    ]

    def report(period: dict[str, str], path: str = "/report") -> list[tuple[str, str, str | None]]:
        return gets([f"{path}?preset=custom&start={period['start']}&end={period['end']}"])

    week = [f"/calendar?view=week&date={d}" for d in dates]
    return [
        Endpoint("floor (signed out)", anonymous, gets(["/__bench/floor"])),
        Endpoint("healthz", anonymous, gets(["/healthz"])),
        Endpoint("login page", anonymous, gets(["/login"])),
        Endpoint("calendar week", clinician, gets(week)),
        Endpoint("calendar week (htmx)", clinician, gets(week), htmx),
        Endpoint("calendar day", clinician, gets([f"/calendar?view=day&date={d}" for d in dates])),
        Endpoint(
            "appointment panel (htmx)", clinician, gets([f"/appointments/{i}" for i in panel_ids]), htmx
        ),
        Endpoint("status change (htmx)", clinician, status_changes, {**htmx, **form, "x-csrftoken": csrf}),
        Endpoint("report, a month", clinician, report(month)),
        Endpoint("report, a year", clinician, report(year)),
        Endpoint("CSV export, a year", clinician, report(year, "/report.csv")),
        Endpoint("client portal home", client, gets(["/portal"])),
    ]


def measure_all(
    config: dict[str, Any], pages: list[Endpoint], floors: list[Endpoint]
) -> list[dict[str, Any]]:
    """Warm each endpoint up, then measure the floors in rounds between the pages (start, middle, end)
    and each page once; a floor's figures are the round with the median requests/s."""
    concurrency, seconds = config["concurrency"], config["seconds"]
    for endpoint in [*floors, *pages]:
        wrk(endpoint, endpoint.base_url or config["base_url"], concurrency, 1)
    rounds: dict[str, list[dict[str, Any]]] = {f.name: [] for f in floors}
    measured: dict[str, dict[str, Any]] = {}
    cut = [round(len(pages) * n / (FLOOR_ROUNDS - 1)) for n in range(FLOOR_ROUNDS)]
    for n in range(FLOOR_ROUNDS):
        for floor in floors:
            print(f"  {floor.name} (round {n + 1}) …", file=sys.stderr, flush=True)
            rounds[floor.name].append(wrk(floor, floor.base_url or config["base_url"], concurrency, seconds))
        for page in pages[cut[n] : cut[n + 1]] if n + 1 < FLOOR_ROUNDS else []:
            print(f"  {page.name} …", file=sys.stderr, flush=True)
            measured[page.name] = wrk(page, config["base_url"], concurrency, seconds)
    for name, figures in rounds.items():
        middle = statistics.median_low(r["rps"] for r in figures)
        measured[name] = {
            **next(r for r in figures if r["rps"] == middle),
            "rounds_rps": [r["rps"] for r in figures],
        }
    return [measured[e.name] | {"endpoint": e.name} for e in [*floors, *pages]]


def main(config: dict[str, Any]) -> dict[str, Any]:
    with httpx.Client(base_url=config["base_url"], timeout=60) as client:
        clinician = sign_in(client, config["clinician_email"], config["password"])
        patient = sign_in(client, config["client_email"], config["password"])
        anonymous = Browser(client)
        bare = Endpoint(BARE, anonymous, gets_one("/"), base_url=config["bare_url"])
        floor = Endpoint(FLOOR, clinician, gets_one("/__bench/floor"))
        pages = endpoints(config, clinician, patient, anonymous)
        probes = {e.name: probe(e) for e in [bare, floor, *pages]}
        rows = measure_all(config, pages, [bare, floor])
        phone = phone_first_load(Browser(client, dict(clinician.cookies)), config["dates"][0])
    return {"endpoints": [row | probes[row["endpoint"]] for row in rows], "phone_first_load": phone}


def gets_one(path: str) -> list[tuple[str, str, str | None]]:
    return [("GET", path, None)]


if __name__ == "__main__":
    with open(sys.argv[1]) as source:
        settings = json.load(source)
    outcome = main(settings)
    with open(sys.argv[2], "w") as target:
        json.dump(outcome, target, indent=2)
