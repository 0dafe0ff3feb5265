"""``python -m bench.reminders``: how long 2 worker processes take to send 10,000 session reminders that
fall due in the same minute, to a local SMTP sink (``Sink``, below).

It owns its database (default PostgreSQL ``sw_bench_reminders``; ``--sqlite`` for a file) and a Redis DB
(flushed): it migrates, seeds one practice with ``--count`` clients each with a session, booked a week
ago, whose 2-hour moment passes as seeding starts (so every 2-hour reminder is due at once, and only that
one), starts ``--workers`` arq workers (``python -m app worker``, whose start-up reminder sweep writes the
reminders and queues their emails), and times from their start until the sink has every email. Prints
one line and writes JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.run import PYTHON, ROOT, free_port, reset_database, say

BATCH = 1000


class Sink:
    """An SMTP server that only counts the messages it is given: just enough SMTP for a client (EHLO,
    MAIL, RCPT, DATA, RSET, NOOP, QUIT; commands may come pipelined), on an asyncio ``Protocol`` in a
    thread of its own. aiosmtpd took ~210 messages/s on the loaded 2-core box, near the rate measured,
    so it could not tell the workers' speed from its own; this takes several times that."""

    def __init__(self) -> None:
        self.count = 0
        self.first: float | None = None
        self.loop = asyncio.new_event_loop()
        self.server: asyncio.AbstractServer | None = None

    def start(self, port: int) -> None:
        ready = threading.Event()

        def serve() -> None:
            asyncio.set_event_loop(self.loop)
            self.server = self.loop.run_until_complete(
                self.loop.create_server(lambda: _SinkProtocol(self), "127.0.0.1", port)
            )
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=serve, daemon=True).start()
        ready.wait(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)

    def received(self) -> None:
        self.count += 1
        self.first = self.first or time.perf_counter()


class _SinkProtocol(asyncio.Protocol):
    END = b"\r\n.\r\n"

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buffer = b""
        self.in_data = False

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        replies = []
        while True:
            if self.in_data:
                end = self.buffer.find(self.END)
                if end < 0:
                    break
                self.buffer = self.buffer[end + len(self.END) :]
                self.in_data = False
                self.sink.received()
                replies.append(b"250 accepted\r\n")
                continue
            line, found, rest = self.buffer.partition(b"\r\n")
            if not found:
                break
            self.buffer = rest
            verb = line[:4].upper()
            if verb == b"EHLO":
                replies.append(b"250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10485760\r\n")
            elif verb == b"DATA":
                self.in_data = True
                self.buffer = b"\r\n" + self.buffer  # the terminator may follow an empty message
                replies.append(b"354 go on\r\n")
            elif verb == b"QUIT":
                replies.append(b"221 bye\r\n")
                self.transport.write(b"".join(replies))
                self.transport.close()
                return
            else:
                replies.append(b"250 ok\r\n")
        if replies:
            self.transport.write(b"".join(replies))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reminders", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="reminders due in the same minute")
    parser.add_argument("--workers", type=int, default=2, help="arq worker processes")
    parser.add_argument("--sqlite", action="store_true", help="use a SQLite file instead of PostgreSQL")
    parser.add_argument("--database-url", default="", help="default postgres://…/sw_bench_reminders")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13", help="its DB is flushed")
    parser.add_argument("--out", default=str(ROOT / "var" / "bench-reminders.json"))
    parser.add_argument("--timeout", type=int, default=900, help="seconds before giving up")
    return parser.parse_args(argv)


async def seed(count: int, now: datetime) -> datetime:
    """One practice, ``count`` clients, one session each at the same time; returns that time."""
    from app.config import Settings
    from app.models.db import transaction
    from app.models.tables import Appointment, Client
    from app.services.accounts import NewClinician, create_clinician, current_user

    async with transaction():
        user_id = await create_clinician(
            NewClinician("Calm Harbor", "Maya Chen", "maya@bench.test", secrets.token_urlsafe(16), "UTC"),
            now=now,
            settings=Settings.from_env(),
            active=True,
        )
    clinician = await current_user(user_id)
    starts = now + timedelta(hours=2) - timedelta(seconds=1)  # its 2-hour moment has just passed
    for first in range(0, count, BATCH):
        numbers = range(first, min(first + BATCH, count))
        async with transaction():
            rows = await Client.insert(
                *[
                    Client(
                        clinician=clinician.clinician_id,
                        practice=clinician.practice_id,
                        name=f"Client {n}",
                        email=f"client{n}@bench.test",
                        created_at=now,
                    )
                    for n in numbers
                ]
            ).returning(Client.id)
            await Appointment.insert(
                *[
                    Appointment(
                        clinician=clinician.clinician_id,
                        client=row["id"],
                        starts_at=starts,
                        ends_at=starts + timedelta(minutes=50),
                        duration_minutes=50,
                        fee_minor=15000,
                        currency="USD",
                        status="scheduled",
                        created_at=now - timedelta(days=7),
                    )
                    for row in rows
                ]
            )
    return starts


async def run(args: argparse.Namespace, env: dict[str, str], sink: Sink) -> dict:
    import redis.asyncio as aioredis

    from app.models.tables import EmailMessage, Reminder

    client = aioredis.from_url(args.redis_url)
    await client.flushdb()
    await client.aclose()
    say(f"Seeding {args.count:,} sessions due for their 2-hour reminder …")
    await seed(args.count, datetime.now(UTC))
    say(f"Starting {args.workers} worker(s); waiting for {args.count:,} emails at the sink …")
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    workers = [
        await asyncio.create_subprocess_exec(
            PYTHON, "-m", "app", "worker", cwd=ROOT, env=env, stderr=subprocess.DEVNULL
        )
        for _ in range(args.workers)
    ]
    try:
        while sink.count < args.count:
            await asyncio.sleep(0.25)
            if time.perf_counter() - started > args.timeout:
                raise SystemExit(f"only {sink.count:,} of {args.count:,} emails in {args.timeout} s")
        elapsed = time.perf_counter() - started
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.terminate()
            await worker.wait()
    await asyncio.sleep(1)  # a late duplicate would arrive now
    return {
        "reminders": args.count,
        "workers": args.workers,
        "seconds": round(elapsed, 2),
        "first_email_after_s": round((sink.first or started) - started, 2),
        "per_second": round(args.count / elapsed, 1),
        "emails_received": sink.count,
        "reminder_rows": await Reminder.count(),
        "unsent_in_outbox": await EmailMessage.count().where(EmailMessage.sent_at.is_null()),
        "database": "sqlite" if args.sqlite else "postgresql",
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sqlite:
        url = args.database_url or f"sqlite:///{ROOT / 'var' / 'bench-reminders.sqlite'}"
    else:
        url = args.database_url or "postgres://postgres@127.0.0.1:5432/sw_bench_reminders"
    sink = Sink()
    port = free_port()
    sink.start(port)
    os.environ.update(
        DATABASE_URL=url,
        REDIS_URL=args.redis_url,
        SECRET_KEY=secrets.token_urlsafe(48),
        DEBUG="0",
        USE_DB_POOL="1",
        SMTP_URL=f"smtp://127.0.0.1:{port}",
        BASE_URL="http://127.0.0.1:8000",
    )
    say(f"Database {url}; migrating …")
    reset_database(url)
    try:
        result = asyncio.run(run(args, dict(os.environ), sink))
    finally:
        sink.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"Reminders: {result['reminders']:,} due in the same minute sent in {result['seconds']} s "
        f"({result['per_second']}/s) by {result['workers']} worker(s) on {result['database']}; "
        f"the first after {result['first_email_after_s']} s; {result['emails_received']:,} emails received "
        f"for {result['reminder_rows']:,} reminders, {result['unsent_in_outbox']} left unsent; "
        f"load average {result['load_average'][0]} before, {result['load_average'][1]} after."
    )
    return 0 if result["emails_received"] == result["reminder_rows"] == result["reminders"] else 1


if __name__ == "__main__":
    sys.exit(main())
