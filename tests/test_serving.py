"""``python -m app serve``: several web processes on one port, each connection without Nagle delay."""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import subprocess
import sys
import time

import httpx
import uvicorn

from app.models.tables import AuditEvent
from app.serving import listening_socket
from tests.conftest import DATABASE_URL, ROOT, free_port


def report_nodelay(sock: socket.socket) -> None:
    """In a spawned process, as uvicorn's workers are: accept one connection and tell the peer
    whether that connection has TCP_NODELAY on."""

    async def main() -> None:
        answered = asyncio.Event()

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nodelay = writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            writer.write(b"1" if nodelay else b"0")
            await writer.drain()
            writer.close()
            answered.set()

        server = await asyncio.start_server(answer, sock=sock)
        async with server:
            await asyncio.wait_for(answered.wait(), 20)

    asyncio.run(main())


def test_connections_accepted_by_a_worker_process_have_nagle_off():
    config = uvicorn.Config("app.asgi:app", host="127.0.0.1", port=0, workers=2)
    sock = listening_socket(config)
    assert sock.proto == socket.IPPROTO_TCP
    child = multiprocessing.get_context("spawn").Process(target=report_nodelay, args=(sock,))
    child.start()
    try:
        for _ in range(200):  # until the child listens
            try:
                peer = socket.create_connection(sock.getsockname(), timeout=20)
                break
            except ConnectionRefusedError:
                time.sleep(0.05)
        with peer:
            assert peer.recv(1) == b"1"
    finally:
        child.join(timeout=20)
        sock.close()
    assert child.exitcode == 0


async def test_serve_with_two_processes_answers_on_kept_alive_connections(db, redis, settings):
    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": settings.redis_url,
        "SECRET_KEY": settings.secret_key,
        "BASE_URL": f"http://127.0.0.1:{port}",
        "DEBUG": "1",  # cookies without Secure, as this client speaks plain HTTP
        "PASSWORD_HASH_PROFILE": "fast",
    }
    command = [sys.executable, "-m", "app", "serve", "--port", str(port), "--workers", "2"]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            for _ in range(300):
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert process.poll() is None, "serve exited"
                time.sleep(0.1)
            answers = [client.get("/login") for _ in range(5)]
            # Behind a reverse proxy on this host, the audit log and throttles see the visitor's address.
            refused = client.post(
                "/login",
                data={"email": "nobody@example.test", "password": "wrong-password-123"},
                headers={"x-csrftoken": client.cookies["csrftoken"], "x-forwarded-for": "203.0.113.7"},
            )
        assert [a.status_code for a in answers] == [200] * 5
        assert all("Sign in" in a.text for a in answers)
        assert refused.status_code == 200 and "Sign in" in refused.text
    finally:
        process.terminate()
        process.wait(timeout=20)
    assert process.returncode == 0
    failed = await AuditEvent.objects().where(AuditEvent.action == "login_failed").first()
    assert failed.ip == "203.0.113.7"
