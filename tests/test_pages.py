"""Security headers, error pages and the health check."""

from __future__ import annotations

import httpx

from tests.helpers import make_clinician, sign_in


async def test_security_headers_on_pages(client):
    response = await client.get("/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["content-type"].startswith("text/html")
    assert '"historyCacheSize": 0' in response.text.replace("&#34;", '"')


async def test_static_files_are_cacheable_and_htmx_is_vendored(client):
    response = await client.get("/static/vendor/htmx-2.0.11.min.js")
    assert response.status_code == 200 and "htmx" in response.text[:2000]
    assert "max-age" in response.headers["cache-control"]


async def test_not_found_page_is_html_without_a_traceback(client):
    response = await client.get("/no/such/page")
    assert response.status_code == 404
    assert "Not found" in response.text and "Traceback" not in response.text


async def test_bad_path_parameter_is_a_400_page(client, settings, clock):
    response = await client.get("/dev/mailbox/not-a-number")
    assert response.status_code in (400, 404)
    assert "Traceback" not in response.text


async def test_server_errors_render_a_page_without_details(client, app, monkeypatch, settings, clock):
    clinician = await make_clinician(settings, clock.now())
    await sign_in(client, clinician)

    async def explode(*args, **kwargs):
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr("app.web.calendar.render", explode)
    response = await client.get("/calendar")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "hunter2" not in response.text and "Traceback" not in response.text


async def test_healthz_reports_database_and_redis(client):
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": True, "redis": True}


async def test_healthz_is_503_when_redis_is_down(db, settings, clock):
    from dataclasses import replace

    from app.web.app import create_app
    from tests.conftest import browser, running

    broken = create_app(replace(settings, redis_url="redis://127.0.0.1:1/0"), clock=clock)
    async with running(broken), browser(broken) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["redis"] is False


def test_the_app_refuses_to_start_with_the_default_secret_outside_debug(settings):
    from dataclasses import replace

    import pytest

    from app.config import DEV_SECRET, ConfigError
    from app.web.app import create_app

    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(replace(settings, debug=False, secret_key=DEV_SECRET))
    with pytest.raises(ConfigError):
        create_app(replace(settings, debug=False, secret_key="short"))


async def test_cookies_are_secure_host_only_outside_debug(db, redis, settings, clock):
    from dataclasses import replace

    from app.web.app import create_app
    from tests.conftest import browser, running

    production = replace(settings, debug=False, secret_key="s" * 48, base_url="https://testserver.local")
    clinician = await make_clinician(production, clock.now())
    application = create_app(production, clock=clock)
    async with running(application), browser(application) as client:
        client.base_url = "https://testserver.local"
        page = await client.get("/login")
        csrf_cookie = page.headers["set-cookie"]
        assert (
            csrf_cookie.startswith("__Host-csrftoken=")
            and "Secure" in csrf_cookie
            and "Path=/" in csrf_cookie
        )
        assert "strict-transport-security" in page.headers
        token = client.cookies.get("__Host-csrftoken")
        response = await client.post(
            "/login", data={"email": clinician.email, "password": clinician.password, "_csrf_token": token}
        )
        session_cookie = response.headers["set-cookie"]
        assert session_cookie.startswith("__Host-sw_session=")
        for flag in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"):
            assert flag in session_cookie
        assert "Domain" not in session_cookie


def test_the_stylesheet_has_balanced_blocks():
    """Every rule and media block is closed (an unclosed @media swallows the rest of the file)."""
    from tests.conftest import ROOT

    depth = 0
    for number, line in enumerate((ROOT / "static" / "app.css").read_text().splitlines(), 1):
        depth += line.count("{") - line.count("}")
        assert depth >= 0, f"extra closing brace at line {number}"
        if line.startswith("/*"):
            assert depth == 0, f"section at line {number} starts inside an open block"
    assert depth == 0


SAME_HEADERS = ("content-type", "cache-control", "content-security-policy", "x-frame-options")


async def test_head_answers_wherever_get_works_with_the_same_headers_and_no_body(client, settings, clock):
    async def same_as_get(path: str) -> None:
        got = await client.get(path)
        head = await client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        for name in SAME_HEADERS:
            assert head.headers.get(name) == got.headers.get(name), (path, name)

    await same_as_get("/login")
    await same_as_get("/healthz")
    assert (await client.head("/healthz")).headers["content-length"] == str(
        len((await client.get("/healthz")).content)
    )
    maya = await make_clinician(settings, clock.now())
    await sign_in(client, maya)
    for path in ("/calendar", "/clients", "/report", "/report.csv", "/account"):
        await same_as_get(path)
    assert (await client.head("/no/such/page")).status_code == 404


def test_head_through_the_real_server(live_server):
    for path in ("/healthz", "/login"):
        got = httpx.get(live_server + path)
        head = httpx.head(live_server + path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"], path
