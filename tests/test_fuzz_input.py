"""Bad input, generated: every form and htmx endpoint and every GET with path or query parameters.

Two tests, both meant to run on SQLite and on PostgreSQL (which refuses NUL and overflows int32 where
SQLite stores whatever it gets): a deterministic grid of every field and query parameter × hostile
values, and a hypothesis fuzzer that also tampers with ids and CSRF tokens.

The routes come from the app itself (``app.routes``); each form's fields come from the pages that
render it (the ``<form action=…>`` they contain), so a new form is fuzzed without changing this file.
Values are hypothesis strategies: empty, huge, unicode, HTML/script, SQL-ish text, negative, NaN and
huge numbers, bad dates, and ids of another practice's records. Each request is made as the role its
guard expects, with a valid CSRF token (and once without one). Checked for every request: no 500, no
traceback, another practice's id answers 403/404, and a rejected request (4xx, or a form re-rendered
with an error next to a field) leaves every table as it was (the audit log excepted: refusals are
audited on purpose).
"""

from __future__ import annotations

import asyncio
import os
import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as run_settings
from hypothesis import strategies as st
from litestar.routes import HTTPRoute

from app.domain.validation import text_problem
from app.models.db import engine
from app.models.tables import ALL_TABLES, Appointment, AuditEvent, Charge, Client, Clinician
from app.services import demo
from app.services.accounts import current_user
from app.web.guards import client_only, clinician_only, signed_in
from tests.charging_support import add_appointment
from tests.conftest import IS_POSTGRES, browser
from tests.helpers import Person, csrf_from, ensure_csrf, make_client, post_form

EXAMPLES = 5
# Each test walks every route; it is split in SHARDS tests over every SHARDS-th route (each with its own
# demo practice), so parallel test processes share the walk instead of one process doing all of it.
SHARDS = 3
# Requests that end or re-key the fuzzing person's own session, or lock the practice behind two-step
# sign-in: fuzzing them would only turn later requests into redirects to the sign-in page.
SESSION_ENDERS = {
    "/logout",
    "/account/sessions/end-others",
    "/account/sessions/{device_id:str}/end",
    "/account/security/requirement",
}
# Pages whose forms post to a path without parameters (the rest are read from the GET routes).
FORM_PAGES = (
    "/appointments/new",
    "/clients/new",
    "/portal/card",
    "/portal/profile",
    "/portal/book",
    "/account/password",
    "/account/security",
    "/settings/booking",
    "/checklist/insurance-contact",
    "/documents",
    "/documents/new",
    "/signup",
    "/login",
    "/password/forgot",
    "/invite/new",
)
SKIPPED_PREFIXES = ("/static/", "/dev/")
REJECTED_MARKERS = ('aria-invalid="true"', 'class="error', 'role="alert"')

HOSTILE_TEXT = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "-0",
        "NaN",
        "inf",
        "-inf",
        "1e309",
        "9" * 40,
        str(2**63),
        str(-(2**63) - 1),
        "1.5",
        "12,50",
        "$-150",
        "2026-02-30",
        "2026-13-01",
        "0000-00-00",
        "9999-12-31",
        "24:00",
        "25:61",
        "-1:00",
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "' OR 1=1 --",
        "'; DROP TABLE app_user; --",
        "Robert'); DELETE FROM client;--",
        "a" * 5000,
        "\u202eevil",
        "😀" * 50,
        "名前",
        "\x00",
        "\r\nX-Injected: 1",
        "%00",
        "../../etc/passwd",
        "javascript:alert(1)",
        "//evil.example/",
        "on",
        "true",
        "new",
    ]
)
VALUES = st.one_of(HOSTILE_TEXT, st.text(max_size=60), st.integers().map(str), st.floats().map(str))


class FormReader(HTMLParser):
    """Every ``<form method=post>`` on a page: its action and the names and values of its fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, dict[str, list[str]]] = {}
        self.current: dict[str, list[str]] | None = None
        self.select: str | None = None

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "form" and (found.get("method") or "").lower() == "post":
            self.current = self.forms.setdefault(found.get("action") or "", {})
        elif (
            self.current is not None
            and tag in ("input", "textarea", "button", "select")
            and found.get("name")
        ):
            self.current.setdefault(found["name"], []).append(found.get("value") or "")
            self.select = found["name"] if tag == "select" else None
        elif self.current is not None and tag == "option" and self.select:
            self.current[self.select].append(found.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self.current = None
        elif tag == "select":
            self.select = None


async def snapshot() -> dict[str, list]:
    """Every row of every table except the audit log (refusals are audited on purpose)."""
    return {
        table._meta.tablename: await table.select().order_by(table._meta.primary_key)
        for table in ALL_TABLES
        if table is not AuditEvent
    }


def role_of(handler) -> str:
    guards = {getattr(guard, "func", guard) for guard in handler.resolve_guards()}
    if clinician_only in guards:
        return "clinician"
    if client_only in guards:
        return "client"
    if signed_in in guards:  # pages for both roles (account, security): the clinician's are the richer
        return "clinician"
    return "anonymous"


def routes(application) -> list[tuple[str, str, str, list[str], list[str]]]:
    """(method, path template, role, path parameter names, query parameter names) for each endpoint."""
    found = []
    for route in application.routes:
        if not isinstance(route, HTTPRoute) or route.path.startswith(SKIPPED_PREFIXES):
            continue
        for handler in route.route_handlers:
            methods = handler.http_methods - {"OPTIONS", "HEAD"}
            if not methods or route.path in SESSION_ENDERS:
                continue
            path_params = [name for name in route.path_parameters]
            query = [
                name
                for name in handler.parsed_fn_signature.parameters
                if name not in ("self", "request", "data", *path_params)
            ]
            for method in methods:
                if method == "GET" and not path_params and not query:
                    continue
                found.append((method, route.path, role_of(handler), path_params, query))
    return sorted(found)


@pytest.fixture
async def pooled(app):
    """On PostgreSQL, share a few connections (as production does) instead of one per query."""
    if IS_POSTGRES:
        await engine().start_connection_pool(min_size=1, max_size=4)
    yield
    if IS_POSTGRES:
        await engine().close_connection_pool()


@pytest.mark.parametrize("shard", range(SHARDS))
async def test_fuzzed_forms_and_parameters_never_fail_or_change_data_when_rejected(
    app, pooled, settings, clock, shard
):
    now = clock.now()
    await demo.seed(settings, now)
    maya = await Clinician.objects().where(Clinician.user.email == demo.CLINICIAN_EMAIL).first()
    jordan = await Clinician.objects().where(Clinician.user.email == demo.SECOND_CLINICIAN_EMAIL).first()
    jordan_person = Person(await current_user(jordan.user))
    _, their_client = await make_client(settings, now, jordan_person, email="theirs@example.test")
    their_appointment = await add_appointment(jordan_person, their_client, now - timedelta(days=1))
    their_charge = (
        await Charge.insert(
            Charge(
                appointment=their_appointment,
                client=their_client,
                clinician=jordan.id,
                amount_minor=15000,
                status="succeeded",
                due_at=now,
                created_at=now,
                updated_at=now,
            )
        ).returning(Charge.id)
    )[0]["id"]
    alex = await Client.objects().where(Client.email == demo.CLIENT_EMAIL).first()
    ours = {
        "client_id": [row["id"] for row in await Client.select(Client.id).where(Client.clinician == maya.id)],
        "appointment_id": [
            row["id"]
            for row in await Appointment.select(Appointment.id).where(Appointment.clinician == maya.id)
        ],
        "charge_id": [row["id"] for row in await Charge.select(Charge.id).where(Charge.clinician == maya.id)],
    }
    theirs = {"client_id": their_client, "appointment_id": their_appointment, "charge_id": their_charge}
    client_ids = {
        "client_id": [alex.id],
        "appointment_id": [
            row["id"] for row in await Appointment.select(Appointment.id).where(Appointment.client == alex.id)
        ],
    }

    people = {
        "anonymous": browser(app),
        "clinician": browser(app),
        "client": browser(app),
    }
    for role, email in (("clinician", demo.CLINICIAN_EMAIL), ("client", demo.CLIENT_EMAIL)):
        answer = await post_form(people[role], "/login", {"email": email, "password": settings.demo_password})
        assert answer.status_code == 303, answer.text
    for person in people.values():
        await ensure_csrf(person)

    every_route = routes(app)
    endpoints = every_route[shard::SHARDS]
    forms = await read_forms(people, every_route, ours, client_ids)
    loop = asyncio.get_running_loop()
    problems: list[str] = []
    known_state: list[dict] = []  # the tables after the last unsafe request (GETs leave them alone)

    async def attempt(method, path, role, body, htmx, tampered, with_csrf=True):
        person = people[role]
        if method == "GET":
            known_state.clear()
        before = (known_state.pop() if known_state else await snapshot()) if method != "GET" else None
        headers = {"HX-Request": "true"} if htmx else {}
        if method == "GET":
            answer = await person.get(path, headers=headers)
        else:
            if with_csrf:
                headers["x-csrftoken"] = csrf_from(person)
            answer = await person.request(method, path, data=body, headers=headers)
        where = f"{method} {path} as {role} with {body!r}"
        if answer.status_code >= 500 or "Traceback" in answer.text:
            problems.append(f"{where}: {answer.status_code} {answer.text[:300]}")
            return
        if tampered and answer.status_code not in (400, 403, 404):
            problems.append(f"{where}: another practice's record answered {answer.status_code}")
        if method == "GET":
            return
        after = await snapshot()
        known_state.append(after)
        rejected = answer.status_code >= 400 or any(marker in answer.text for marker in REJECTED_MARKERS)
        if rejected and after != before:
            problems.append(f"{where}: rejected ({answer.status_code}) but stored data changed")

    def fuzzer(method, template, role, path_params, query, id_pool, form_fields):
        """A hypothesis test of one endpoint (run in a thread; requests go to this event loop)."""

        @run_settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=bool(os.environ.get("CI")),
            suppress_health_check=list(HealthCheck),
        )
        @given(data=st.data())
        def fuzz(data):
            tampered = False
            path = template
            for name in path_params:
                kind = "int" if f"{{{name}:int}}" in template else "str"
                if kind == "int":
                    own = id_pool.get(name) or [1]
                    mine = st.sampled_from(own).map(lambda value: ("own", value))
                    choice = data.draw(
                        st.one_of(
                            mine,
                            mine,
                            mine,
                            st.just(("theirs", theirs.get(name, 10**6))),
                            st.sampled_from([0, -1, 2**31, 2**63 - 1, 10**30]).map(lambda v: ("edge", v)),
                        )
                    )
                    tampered = tampered or (choice[0] == "theirs" and name in theirs)
                    value = str(choice[1])
                else:
                    value = quote(data.draw(VALUES) or "x", safe="")
                path = path.replace(f"{{{name}:{kind}}}", value)
            if query:
                params = {name: data.draw(VALUES) for name in data.draw(st.sets(st.sampled_from(query)))}
                path += "?" + urlencode(params)
            body = None
            if method != "GET":
                known = form_fields or {"name": [""], "value": [""]}
                body = {}
                for name, originals in known.items():
                    if data.draw(st.booleans()):
                        body[name] = data.draw(st.one_of(st.sampled_from(originals), VALUES))
                extra = data.draw(st.sampled_from(["", "id", "clinician_id", "status", "amount"]))
                if extra:
                    body[extra] = data.draw(VALUES)
            htmx = data.draw(st.booleans())
            asyncio.run_coroutine_threadsafe(attempt(method, path, role, body, htmx, tampered), loop).result(
                timeout=60
            )

        return fuzz

    for method, template, role, path_params, query in endpoints:
        id_pool = client_ids if role == "client" else ours
        form_fields = forms.get(re.sub(r"\{(\w+):\w+\}", r"{\1}", template), {})

        await asyncio.to_thread(fuzzer(method, template, role, path_params, query, id_pool, form_fields))
        if method != "GET":
            sample = re.sub(r"\{\w+:int\}", str((id_pool.get("client_id") or [1])[0]), template)
            sample = re.sub(r"\{\w+:str\}", "x", sample)
            await attempt(method, sample, role, {"name": "x"}, False, False, with_csrf=False)

    # Still signed in: the requests above really reached the handlers behind the guards.
    assert (await people["clinician"].get("/calendar")).status_code == 200
    assert (await people["client"].get("/portal")).status_code == 200
    for person in people.values():
        await person.aclose()
    assert not problems, "fuzzing found:\n" + "\n".join(problems[:30])


async def read_forms(people, endpoints, ours, client_ids) -> dict[str, dict[str, list[str]]]:
    """The fields of every form the app renders, keyed by action with the id put back as ``{name}``."""
    pages = [(role, path) for role in people for path in FORM_PAGES]
    for method, template, role, path_params, _ in endpoints:
        if (
            method != "GET"
            or role == "anonymous"
            or any(f"{{{name}:int}}" not in template for name in path_params)
        ):
            continue
        paths = [template]
        pool = client_ids if role == "client" else ours
        for name in path_params:
            paths = [
                path.replace(f"{{{name}:int}}", str(value))
                for path in paths
                for value in pool.get(name, [])[:3]
            ]
        pages += [(role, path) for path in paths]
    forms: dict[str, dict[str, list[str]]] = {}
    for role, path in pages:
        reader = FormReader()
        reader.feed((await people[role].get(path)).text)
        for action, fields in reader.forms.items():
            key = re.sub(r"/\d+(?=/|$)", "/{" + id_name(action) + "}", action)
            for name, values in fields.items():
                forms.setdefault(key, {}).setdefault(name, []).extend(values)
    return forms


def id_name(action: str) -> str:
    for prefix, name in (
        ("/appointments/", "appointment_id"),
        ("/clients/", "client_id"),
        ("/checklist/", "client_id"),
        ("/portal/insurance/", "client_id"),
        ("/portal/sessions/", "appointment_id"),
        ("/charges/", "charge_id"),
    ):
        if action.startswith(prefix):
            return name
    return "id"


# --- every field and query parameter × every hostile value, on both databases ---------------------

# The first half is also sent in every field of a form at once.
GRID_VALUES = (
    "a\x00b",
    "x\x01\x08\x0b\x1b\x7f\x85\x9fy",
    "Sam\r\nBcc: all@example.test",
    "\u202eevil\u2066",
    "é" * 10_000,
    "9" * 30,
    "-99999999999",
    "NaN",
    "1e309",
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59",
)
BAD_UTF8 = b"%ff%fe%c3%28"
# What a person would type in an empty field, so that one hostile field is all that is wrong.
TYPICAL = {
    "email": "fuzz@example.test",
    "new_email": "fuzz-new@example.test",
    "insurance_email": "claims@example.test",
    "name": "Fuzz Person",
    "new_name": "Fuzz Client",
    "practice_name": "Fuzz Practice",
    "password": "a long enough passphrase 42",
    "password_confirm": "a long enough passphrase 42",
    "new_password": "another long passphrase 42",
    "new_password_confirm": "another long passphrase 42",
    "date": "2026-12-03",
    "time": "10:00",
    "minutes": "50",
    "fee": "150",
    "amount": "10",
    "max_fee": "2000",
    "phone": "555 0100",
    "payer": "Aetna",
    "copay": "25",
    "client_id": "new",
}
FAR_DATES = ("9999-12-31", "0001-01-01")
# Pages that read their query string themselves (not as handler parameters): the filters they offer.
QUERY_PAGES = {
    "/audit/": ("client", "person", "action", "from", "to", "page"),
    "/audit/export": ("client", "person", "action", "from", "to"),
    "/report": ("preset", "start", "end", "status", "client", "billing", "sort", "page"),
    "/report.csv": ("preset", "start", "end", "status", "client", "billing", "sort"),
}


async def fingerprint() -> str:
    """Every row of every table but the audit log, as one string from one query (a snapshot per request
    would cost more than the requests)."""
    parts = []
    for table in ALL_TABLES:
        if table is AuditEvent:
            continue
        columns = " || '|' || ".join(
            f"coalesce(CAST(\"{column._meta.db_column_name}\" AS TEXT), '~')"
            for column in table._meta.columns
        )
        name = table._meta.tablename
        joined = "string_agg(line, ',' ORDER BY rid)" if IS_POSTGRES else "group_concat(line, ',')"
        parts.append(
            f'(SELECT {joined} FROM (SELECT "id" AS rid, {columns} AS line FROM "{name}" ORDER BY "id") AS r)'
        )
    rows = await AuditEvent.raw("SELECT " + " || '#' || ".join(f"coalesce({part}, '')" for part in parts))
    return str(next(iter(rows[0].values())))


@pytest.mark.parametrize("shard", range(SHARDS))
async def test_every_field_and_query_parameter_refuses_hostile_values_without_a_500_or_a_change(
    app, pooled, settings, clock, shard
):
    """Deterministic: each form field and query parameter meets each hostile value (alone, and with every
    other field of its form hostile too), plus bad UTF-8 and a hostile User-Agent."""
    now = clock.now()
    await demo.seed(settings, now)
    maya = await Clinician.objects().where(Clinician.user.email == demo.CLINICIAN_EMAIL).first()
    alex = await Client.objects().where(Client.email == demo.CLIENT_EMAIL).first()
    ours = {
        "client_id": [row["id"] for row in await Client.select(Client.id).where(Client.clinician == maya.id)],
        "appointment_id": [
            row["id"]
            for row in await Appointment.select(Appointment.id).where(Appointment.clinician == maya.id)
        ],
        "charge_id": [row["id"] for row in await Charge.select(Charge.id).where(Charge.clinician == maya.id)],
    }
    client_ids = {
        "client_id": [alex.id],
        "appointment_id": [
            row["id"] for row in await Appointment.select(Appointment.id).where(Appointment.client == alex.id)
        ],
    }
    people = {role: browser(app) for role in ("anonymous", "clinician", "client")}
    for role, address in (("clinician", demo.CLINICIAN_EMAIL), ("client", demo.CLIENT_EMAIL)):
        answer = await post_form(
            people[role],
            "/login",
            {"email": address, "password": settings.demo_password},
            headers={"User-Agent": b"Mozilla\x85\x7f\x01"},
        )
        assert answer.status_code == 303, answer.text
    for person in people.values():
        await ensure_csrf(person)
    redis = app.state.runtime.redis
    every_route = routes(app)
    endpoints = every_route[shard::SHARDS]
    forms = await read_forms(people, every_route, ours, client_ids)
    problems: list[str] = []
    state: list[str] = [await fingerprint()]
    requests = 0

    async def attempt(method: str, path: str, role: str, body: dict | bytes | None) -> None:
        nonlocal requests
        requests += 1
        person = people[role]
        await redis.delete(*[key async for key in redis.scan_iter("*public-booking*")] or ["-"])
        shown = repr(body)[:120]
        headers = {"x-csrftoken": csrf_from(person)} if method != "GET" else {}
        if isinstance(body, bytes):
            headers["content-type"] = "application/x-www-form-urlencoded"
        try:
            if isinstance(body, bytes):
                answer = await person.request(method, path, content=body, headers=headers)
            else:
                answer = await person.request(method, path, data=body, headers=headers)
        except Exception as exc:  # e.g. a background task failing after the page was sent
            problems.append(f"{method} {path} as {role} with {shown}: raised {exc!r:.200}")
            state[-1] = await fingerprint()
            return
        if answer.status_code >= 500 or "Traceback" in answer.text:
            problems.append(f"{method} {path} as {role} with {shown}: {answer.status_code}")
        if method == "GET":
            return
        after = await fingerprint()
        rejected = answer.status_code >= 400 or any(marker in answer.text for marker in REJECTED_MARKERS)
        if rejected and after != state[-1]:
            problems.append(
                f"{method} {path} as {role} with {shown}: refused ({answer.status_code}) but stored"
            )
        state[-1] = after

    for path, names in QUERY_PAGES.items() if shard == 0 else ():
        for index, name in enumerate(names):
            for value in (*GRID_VALUES[index % 6 :: 6], *FAR_DATES):
                await attempt("GET", f"{path}?{urlencode({name: value})}", "clinician", None)
        await attempt("GET", f"{path}?{'&'.join(f'{n}=%00' for n in names)}", "clinician", None)

    for method, template, role, path_params, query in endpoints:
        pool = client_ids if role == "client" else ours
        path = template
        for name in path_params:
            own = (pool.get(name) or [1])[0]
            path = re.sub(r"\{" + name + r":\w+\}", str(own) if ":int}" in template else "x", path)
        if ":str}" in template:
            for value in ("a%00b", "%0d%0a", "%ff"):
                await attempt(
                    method, re.sub(r"\{\w+:str\}", value, template), role, {} if method != "GET" else None
                )
        if method == "GET":
            names = list(query)
            for index, name in enumerate(names):
                for value in GRID_VALUES[index % 6 :: 6]:
                    await attempt("GET", f"{path}?{urlencode({name: value})}", role, None)
            if names:
                await attempt("GET", f"{path}?{'&'.join(f'{n}=%00' for n in names)}", role, None)
                await attempt("GET", f"{path}?{names[0]}={BAD_UTF8.decode()}", role, None)
            continue
        fields = forms.get(re.sub(r"\{(\w+):\w+\}", r"{\1}", template), {})
        valid = {
            name: ([v for v in values if v] or [TYPICAL.get(name, "")])[-1] for name, values in fields.items()
        }
        valid.pop("_csrf_token", None)
        for value in GRID_VALUES[: len(GRID_VALUES) // 2] if valid else GRID_VALUES[:1]:
            await attempt(method, path, role, {**{name: value for name in valid}, "name": value})
        for index, (name, typical) in enumerate(valid.items()):
            hostile = [f"{typical[:1]}\x00{typical[1:]}"]
            if index % 2:
                hostile.append(GRID_VALUES[index % len(GRID_VALUES)])
            if re.fullmatch(r"\d{4}-\d\d-\d\d.*", typical):
                hostile += [far + typical[10:] for far in FAR_DATES]
            elif re.fullmatch(r"[\d.,]+", typical):
                hostile += ["999999999", "-1"]
            for value in hostile:
                await attempt(method, path, role, {**valid, name: value})
        await attempt(
            method, path, role, "&".join(f"{name}={BAD_UTF8.decode()}" for name in valid or ["x"]).encode()
        )

    # SQLite stores a NUL it is given (PostgreSQL refuses it): accepted requests must not have stored one.
    stored = {**await snapshot(), "audit_event": await AuditEvent.select()}
    for table, rows in stored.items():
        for row in rows:
            for column, value in row.items():
                if isinstance(value, str) and text_problem(value, multiline=True):
                    problems.append(f"{table}.{column} of row {row.get('id')} holds {value[:60]!r}")
    assert (await people["clinician"].get("/calendar")).status_code == 200
    assert (await people["client"].get("/portal")).status_code == 200
    for person in people.values():
        await person.aclose()
    assert requests > 400 // SHARDS
    assert not problems, f"{len(problems)} of {requests} requests failed:\n" + "\n".join(problems[:40])
