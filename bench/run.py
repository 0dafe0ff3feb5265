"""The benchmark run: migrate and seed, serve the app like production, load it, time the charge worker
and the sweep, print one table and write it as JSON. See ``python -m bench --help`` and the README.

It owns its database (default PostgreSQL ``sw_bench``, or a SQLite file with ``--sqlite``): the
schema is dropped and migrated again at the start of every run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PASSWORD = "bench-password-1234"  # noqa: S105 - the seeded accounts' password, bench data only
GROWTH = 10  # --growth: this many times the appointments


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Stillwater benchmark")
    parser.add_argument(
        "--sqlite", action="store_true", help="seed and serve a SQLite file instead of PostgreSQL"
    )
    parser.add_argument("--database-url", help="default postgres://postgres@127.0.0.1:5432/sw_bench")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12"))
    parser.add_argument("--clinicians", type=int, default=20)
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--appointments", type=int, default=100_000)
    parser.add_argument(
        "--growth",
        action="store_true",
        help=f"{GROWTH}× the appointments (more history per clinician); prints each ratio beside --compare's",
    )
    parser.add_argument(
        "--seconds", type=int, default=6, help="wrk's load per endpoint (and per floor round)"
    )
    parser.add_argument("--concurrency", type=int, default=16, help="connections wrk keeps busy")
    parser.add_argument("--web-workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--arq-workers", type=int, default=2, help="arq worker processes for the charge run")
    parser.add_argument("--due-charges", type=int, default=10_000, help="charges the workers process")
    parser.add_argument(
        "--no-background", action="store_true", help="skip the charge workers and the sweep (pages only)"
    )
    parser.add_argument("--compare", help="an earlier results.json: print each page's ratio beside its own")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    args = parser.parse_args(argv)
    if args.growth:
        args.appointments *= GROWTH
    return args


def ensure_wrk() -> None:
    """wrk (the C load generator) from the system packages, installed when missing and allowed."""
    if shutil.which("wrk"):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("Installing wrk (apt-get install -y wrk) …")
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)
        return
    raise SystemExit("The benchmark needs wrk: sudo apt-get install -y wrk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def reset_database(url: str) -> None:
    if url.startswith("postgres"):
        reachable = subprocess.run(["psql", url, "-qc", "SELECT 1"], capture_output=True)
        if reachable.returncode != 0:  # first run: create the database
            server, _, name = url.rpartition("/")
            subprocess.run(["psql", f"{server}/postgres", "-qc", f'CREATE DATABASE "{name}"'], check=True)
        subprocess.run(
            ["psql", url, "-q", "-c", "DROP SCHEMA public CASCADE; CREATE SCHEMA public;"],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    else:
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    subprocess.run(
        [PYTHON, "-m", "app", "migrate"], cwd=ROOT, env=os.environ, check=True, stdout=subprocess.DEVNULL
    )


def serve(
    env: dict[str, str], port: int, workers: int, app: str = "bench.asgi:app", ready: str = "/healthz"
) -> subprocess.Popen:
    """An app served as ``python -m app serve`` serves production: several worker processes sharing
    the port, no access log, DEBUG off."""
    code = (
        "from app.serving import serve;"
        f"serve({app!r}, host='127.0.0.1', port={port}, workers={workers},"
        " access_log=False, log_level='warning')"
    )
    (ROOT / "var").mkdir(exist_ok=True)
    log = (ROOT / "var" / f"bench-{app.split(':')[0]}.log").open("w")  # a request line each, as in production
    process = subprocess.Popen([PYTHON, "-c", code], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    import httpx

    for _ in range(200):
        if process.poll() is not None:
            raise SystemExit("uvicorn exited early")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready}", timeout=1).status_code == 200:
                # Every worker process must be up, not just the first to answer.
                time.sleep(0.5 * workers)
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"uvicorn did not answer {ready}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def pick_targets(seeded, now: datetime) -> dict[str, Any]:
    """Dates, appointments and status-change candidates of the first clinician, from the seeded data."""
    from app.domain.statuses import AppointmentStatus as S
    from app.models.tables import Appointment, Charge

    rows = (  # by clinician, not by id: at --growth scale the ids alone exceed a query's 32,767 arguments
        await Appointment.select(
            Appointment.id, Appointment.starts_at, Appointment.ends_at, Appointment.status
        )
        .where(Appointment.clinician == 1)
        .order_by(Appointment.id)
    )
    past = [r for r in rows if r["ends_at"] < now - timedelta(hours=1)]
    charged = {r["appointment"] for r in await Charge.select(Charge.appointment).where(Charge.clinician == 1)}
    toggles = [r["id"] for r in past if r["status"] != S.OCCURRED and r["id"] not in charged][-40:]
    # The status change flips these between Scheduled and Occurred (which schedules, then cancels, a charge).
    await Appointment.update({Appointment.status: S.SCHEDULED}).where(Appointment.id.is_in(toggles))
    days = sorted({r["starts_at"].date() for r in rows})
    step = max(1, len(days) // 40)
    return {
        "dates": [d.isoformat() for d in days[::step]],
        "appointment_ids": [r["id"] for r in rows[:: max(1, len(rows) // 200)]],
        "status_ids": toggles,
    }


def report_periods(now: datetime) -> tuple[dict[str, str], dict[str, str]]:
    last_month_end = now.date().replace(day=1) - timedelta(days=1)
    month = {"start": last_month_end.replace(day=1).isoformat(), "end": last_month_end.isoformat()}
    year = {"start": (now.date() - timedelta(days=364)).isoformat(), "end": now.date().isoformat()}
    return month, year


async def charge_run(args, env: dict[str, str], settings) -> dict[str, Any]:
    """``--due-charges`` settled charges are made due again and queued; the arq workers charge them."""
    from app.domain.statuses import ChargeStatus as C
    from app.models.tables import Charge, SandboxPayment
    from app.services.charges import charge_job
    from app.services.queue import JobQueue, connect
    from bench.seed import progress

    rows = (
        await Charge.select(Charge.id, Charge.generation)
        .where(Charge.status == C.SUCCEEDED)
        .order_by(Charge.id)
        .limit(args.due_charges)
    )
    ids = [r["id"] for r in rows]
    workers = [
        await asyncio.create_subprocess_exec(
            PYTHON, "-m", "app", "worker", cwd=ROOT, env=env, stderr=subprocess.DEVNULL
        )
        for _ in range(args.arq_workers)
    ]
    redis = await connect(settings)
    try:
        health = f"{settings.queue_name}:health-check"
        for _ in range(300):
            if await redis.exists(health) and all(w.returncode is None for w in workers):
                break
            await asyncio.sleep(0.1)
        now = datetime.now(UTC)
        await Charge.update(
            {
                Charge.status: C.SCHEDULED,
                Charge.generation: Charge.generation + 1,
                Charge.due_at: now - timedelta(minutes=1),
                Charge.attempt_no: 0,
                Charge.idempotency_key: None,
                Charge.gateway_reference: None,
                Charge.succeeded_at: None,
            }
        ).where(Charge.id.is_in(ids))
        jobs = [charge_job(r["id"], r["generation"] + 1, None, settings) for r in rows]
        started = time.perf_counter()
        queue = JobQueue(redis, settings.queue_name)
        for start in range(0, len(jobs), 500):
            await queue.enqueue_all(jobs[start : start + 500])
        waiting = len(ids)
        while waiting:
            await asyncio.sleep(0.25)
            waiting = await Charge.count().where(
                Charge.id.is_in(ids) & Charge.status.is_in([C.SCHEDULED, C.PROCESSING])
            )
            progress("charges", len(ids) - waiting, len(ids))
            if time.perf_counter() - started > 600:
                raise SystemExit("the workers did not finish the charges in 10 minutes")
        elapsed = time.perf_counter() - started
        outcomes = dict(
            Counter(r["status"] for r in await Charge.select(Charge.status).where(Charge.id.is_in(ids)))
        )
        payments = await SandboxPayment.count().where(SandboxPayment.kind == "payment")
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.terminate()
            await worker.wait()
        await redis.aclose()
    return {
        "charges": len(ids),
        "seconds": round(elapsed, 2),
        "per_second": round(len(ids) / elapsed, 1),
        "per_second_per_worker": round(len(ids) / elapsed / args.arq_workers, 1),
        "workers": args.arq_workers,
        "outcomes": outcomes,
        "gateway_payments": payments,
    }


SWEEP_DUE = 100_000
IDLE_PASSES = 5


async def sweep_run(args, env: dict[str, str], settings) -> dict[str, Any]:
    """The due-charge sweep (the worker's cron). The charge table is topped up to one settled charge
    per appointment (100,000 at full scale) and idle passes are timed (nothing due: the usual minute);
    then up to 100,000 of them are made due with no job queued (Redis lost its queue), the sweep's
    passes are timed until each due charge has its job, then a repeat pass (every job already queued);
    then ``--arq-workers`` workers clear the first ``--due-charges`` of those jobs, which gives their
    rate for all of them."""
    from app.domain.statuses import AppointmentStatus as S
    from app.domain.statuses import ChargeStatus as C
    from app.models.db import engine
    from app.models.tables import Appointment, Charge
    from app.payments.sandbox import SandboxGateway
    from app.services import charges
    from app.services.queue import JobQueue, connect
    from bench.seed import bulk_insert, progress

    redis = await connect(settings)
    queue = JobQueue(redis, settings.queue_name)
    gateway = SandboxGateway()

    async def timed_pass() -> tuple[dict[str, int], float]:
        started = time.perf_counter()
        counts = await charges.sweep(now=datetime.now(UTC), settings=settings, gateway=gateway, queue=queue)
        return counts, time.perf_counter() - started

    workers = []
    try:
        now = datetime.now(UTC)
        missing = await Appointment.select(
            Appointment.id, Appointment.client, Appointment.clinician, Appointment.fee_minor
        ).where(Appointment.id.not_in(Charge.select(Charge.appointment)))
        last = await Charge.select(Charge.id).order_by(Charge.id, ascending=False).first()
        first_id = (last["id"] if last else 0) + 1
        await bulk_insert(
            Charge,
            [
                dict(
                    id=first_id + n,
                    appointment=row["id"],
                    client=row["client"],
                    clinician=row["clinician"],
                    amount_minor=row["fee_minor"],
                    status=C.SUCCEEDED,  # settled for the idle passes; made due below
                    due_at=now - timedelta(minutes=1, seconds=n),  # each at its own moment
                    created_at=now,
                    updated_at=now,
                )
                for n, row in enumerate(missing)
            ],
        )
        await engine().run_ddl("ANALYZE")
        total = await Charge.count()
        # One charge per appointment (100,000 at full scale), none due or in flight: the usual minute.
        idle_passes = [await timed_pass() for _ in range(IDLE_PASSES)]
        idle = idle_passes[-1][0]
        idle_seconds = sorted(seconds for _, seconds in idle_passes)[IDLE_PASSES // 2]
        await Appointment.update({Appointment.status: S.OCCURRED}).where(Appointment.status != S.OCCURRED)
        made_due = Charge.select(Charge.id).order_by(Charge.id).limit(SWEEP_DUE)
        await Charge.update(
            {
                Charge.status: C.SCHEDULED,
                Charge.generation: Charge.generation + 1,
                Charge.attempt_no: 0,
                Charge.idempotency_key: None,
                Charge.gateway_reference: None,
                Charge.claimed_until: None,
                Charge.succeeded_at: None,
                Charge.refunded_minor: 0,
                Charge.waived_by: None,
                Charge.waived_at: None,
            }
        ).where(Charge.id.is_in(made_due))
        await Charge.update({Charge.due_at: now - timedelta(minutes=1)}).where(
            Charge.due_at > now - timedelta(minutes=1)
        )
        await engine().run_ddl("ANALYZE")  # as after seeding: a live database has statistics
        due = await Charge.count().where(Charge.status == C.SCHEDULED)
        await redis.flushdb()  # Redis lost its queue: no due charge has a job

        queued, passes, queue_seconds = 0, 0, 0.0
        while queued < due and passes < 10:
            counts, seconds = await timed_pass()
            queued, passes, queue_seconds = queued + counts["queued"], passes + 1, queue_seconds + seconds
        jobs = await redis.zcard(settings.queue_name)
        repeat, repeat_seconds = await timed_pass()

        target = min(due, args.due_charges or due)
        for _ in range(args.arq_workers):
            workers.append(
                await asyncio.create_subprocess_exec(
                    PYTHON, "-m", "app", "worker", cwd=ROOT, env=env, stderr=subprocess.DEVNULL
                )
            )
        started = time.perf_counter()
        cleared = 0
        while cleared < target:
            await asyncio.sleep(0.25)
            cleared = due - await Charge.count().where(Charge.status.is_in([C.SCHEDULED, C.PROCESSING]))
            progress("sweep's jobs", min(cleared, target), target)
            if time.perf_counter() - started > 600:
                raise SystemExit("the workers did not clear the sweep's jobs in 10 minutes")
        clear_seconds = time.perf_counter() - started
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.terminate()
            try:
                await asyncio.wait_for(worker.wait(), timeout=30)
            except TimeoutError:
                worker.kill()
                await worker.wait()
        await redis.flushdb()
        await redis.aclose()
    rate = cleared / clear_seconds
    return {
        "charges_in_table": total,
        "idle_pass_ms": round(idle_seconds * 1000, 1),
        "idle_passes_ms": [round(seconds * 1000, 1) for _, seconds in idle_passes],
        "idle_counts": idle,
        "due": due,
        "queue_passes": passes,
        "queue_s": round(queue_seconds, 2),
        "jobs_queued": jobs,
        "jobs_per_second": round(jobs / queue_seconds),
        "repeat_pass_s": round(repeat_seconds, 2),
        "repeat_counts": repeat,
        "workers": args.arq_workers,
        "cleared": cleared,
        "clear_s": round(clear_seconds, 2),
        "cleared_per_second": round(rate, 1),
        "cleared_per_second_per_worker": round(rate / args.arq_workers, 1),
        "all_due_minutes": round(due / rate / 60, 1),
    }


BARE, FLOOR = "bare Litestar", "floor (signed in)"


def print_report(results: dict[str, Any], earlier: dict[str, Any] | None = None) -> None:
    """The table: every endpoint's req/s, p50/p99 and its ratio to both floors (the bare framework and
    the signed-in floor, measured in the same run); the app's CPU time per request (the probes') and
    the same ratios made from it; with an earlier run's × floor ratios beside them."""
    rows = results["endpoints"]
    by_name = {r["endpoint"]: r for r in rows}
    bare, floor = by_name[BARE]["rps"], by_name[FLOOR]["rps"]
    before = {r["endpoint"]: r.get("vs_floor") for r in (earlier or {}).get("endpoints", [])}
    bare_cpu, floor_cpu = by_name[BARE]["cpu_ms"], by_name[FLOOR]["cpu_ms"]
    before_cpu = {r["endpoint"]: r.get("cpu_vs_floor") for r in (earlier or {}).get("endpoints", [])}
    columns = [("endpoint", 26), ("req/s", 8), ("p50 ms", 7), ("p99 ms", 7), ("×bare", 6), ("×floor", 7)]
    columns += [("cpu ms", 7), ("×bare", 6), ("×floor", 7), ("queries", 7), ("gzip B", 7)]
    columns += [("earlier", 8), ("cpu", 6)] if earlier else []
    head = " ".join(
        f"{name:<{width}}" if i == 0 else f"{name:>{width}}" for i, (name, width) in enumerate(columns)
    )
    print(
        f"\nwrk, {results['concurrency']} connections, {results['seconds']} s per endpoint; "
        f"floors: median of {len(by_name[FLOOR]['rounds_rps'])} rounds; "
        f"load average {results['load_average']}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        r["vs_bare"] = round(r["rps"] / bare, 3)
        r["vs_floor"] = round(r["rps"] / floor, 3)
        # CPU per request turned into the same kind of ratio: (1 / cpu) against (1 / the floor's cpu).
        r["cpu_vs_bare"] = round(bare_cpu / max(r["cpu_ms"], 0.001), 3)
        r["cpu_vs_floor"] = round(floor_cpu / max(r["cpu_ms"], 0.001), 3)
        flags = [f"{r['errors']} errors"] if r["errors"] else []
        if earlier and before.get(r["endpoint"]):
            flags.append(f"×floor {r['vs_floor'] / before[r['endpoint']] - 1:+.0%}")
        if earlier and before_cpu.get(r["endpoint"]):
            flags.append(f"cpu ×floor {r['cpu_vs_floor'] / before_cpu[r['endpoint']] - 1:+.0%}")
        queries = "—" if r["queries"] < 0 else str(r["queries"])
        print(
            f"{r['endpoint']:<26} {r['rps']:>8.1f} {r['p50_ms']:>7.1f} {r['p99_ms']:>7.1f} "
            f"{r['vs_bare']:>6.2f} {r['vs_floor']:>7.2f} {r['cpu_ms']:>7.2f} {r['cpu_vs_bare']:>6.2f} "
            f"{r['cpu_vs_floor']:>7.2f} {queries:>7} {r['bytes_gzip']:>7}"
            + (
                f" {before.get(r['endpoint']) or 0:>8.2f} {before_cpu.get(r['endpoint']) or 0:>6.2f}"
                if earlier
                else ""
            )
            + (f"  {' '.join(flags)}" if flags else "")
        )
    phone = results["phone_first_load"]
    print(
        f"\nPhone, first calendar load (gzip on the wire): {phone['total']:,} B "
        f"(HTML {phone['html']:,}, "
        + ", ".join(f"{k} {v:,}" for k, v in phone.items() if k not in {"html", "total"})
        + ")"
    )
    charge = results.get("charge_worker")
    if charge:
        print(
            f"Charge workers: {charge['charges']:,} due charges in {charge['seconds']} s = "
            f"{charge['per_second']} charges/s with {charge['workers']} arq worker(s), "
            f"{charge['per_second_per_worker']}/s per worker process; "
            f"outcomes {charge['outcomes']}"
        )
    sweep = results.get("sweep")
    if sweep:
        print(
            f"Due-charge sweep: a pass with nothing due over {sweep['charges_in_table']:,} charges "
            f"{sweep['idle_pass_ms']} ms (median of {len(sweep['idle_passes_ms'])}); "
            "after Redis lost its queue with "
            f"{sweep['due']:,} due of {sweep['charges_in_table']:,} charges: queued {sweep['jobs_queued']:,} "
            f"jobs in {sweep['queue_s']} s ({sweep['queue_passes']} pass(es), {sweep['jobs_per_second']:,} "
            f"jobs/s), a repeat pass {sweep['repeat_pass_s']} s; {sweep['workers']} arq worker(s) cleared "
            f"{sweep['cleared']:,} in {sweep['clear_s']} s = {sweep['cleared_per_second']}/s "
            f"({sweep['cleared_per_second_per_worker']}/s per worker), all in "
            f"≈{sweep['all_due_minutes']} min"
        )
    print(f"Seeded: {results['seeded']}  (seeding took {results['seed_seconds']} s)")
    print(f"Whole run: {results['total_seconds']} s")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    begun = time.perf_counter()
    if args.sqlite:
        url = args.database_url or f"sqlite:///{ROOT / 'var' / 'bench.sqlite'}"
    else:
        url = args.database_url or "postgres://postgres@127.0.0.1:5432/sw_bench"
    os.environ["DATABASE_URL"] = url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["SECRET_KEY"] = secrets.token_urlsafe(48)
    os.environ["DEBUG"] = "0"
    os.environ["USE_DB_POOL"] = "1"
    os.environ.pop("PASSWORD_HASH_PROFILE", None)
    ensure_wrk()
    port, bare_port = free_port(), free_port()
    os.environ["BASE_URL"] = f"http://127.0.0.1:{port}"
    env = dict(os.environ)

    from app.config import Settings

    settings = Settings.from_env()
    say(f"Database {url}; migrating …")
    reset_database(url)

    async def prepare():
        import redis.asyncio as aioredis

        from app.services.passwords import hash_password
        from bench.seed import Scale, seed

        client = aioredis.from_url(args.redis_url)
        await client.flushdb()
        await client.aclose()
        now = datetime.now(UTC)
        started = time.perf_counter()
        seeded = await seed(
            Scale(args.clinicians, args.clients, args.appointments),
            now=now,
            password_hash=await hash_password(PASSWORD),
            password=PASSWORD,
        )
        seconds = time.perf_counter() - started
        return seeded, seconds, await pick_targets(seeded, now), now

    say("Seeding …")
    seeded, seed_seconds, targets, now = asyncio.run(prepare())
    month, year = report_periods(now)
    config = {
        "base_url": f"http://127.0.0.1:{port}",
        "password": PASSWORD,
        "clinician_email": seeded.clinician_emails[0],
        "client_email": seeded.client_emails[0],
        "report_month": month,
        "report_year": year,
        "concurrency": args.concurrency,
        "seconds": args.seconds,
        "bare_url": f"http://127.0.0.1:{bare_port}",
        **targets,
    }
    say(f"Serving the app and bare Litestar with {args.web_workers} uvicorn workers each; loading with wrk …")
    server = serve(env, port, args.web_workers)
    bare = serve(env, bare_port, args.web_workers, app="bench.bare:app", ready="/")
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as folder:
        config_path, out_path = Path(folder) / "config.json", Path(folder) / "out.json"
        config_path.write_text(json.dumps(config))
        try:
            subprocess.run(
                [PYTHON, "-m", "bench.load", str(config_path), str(out_path)], cwd=ROOT, check=True
            )
        finally:
            stop(server)
            stop(bare)
        results: dict[str, Any] = json.loads(out_path.read_text())
    results["load_average"] = " → ".join(f"{a:.2f}" for a in (load_before[0], os.getloadavg()[0]))

    async def background_work():
        from app.models.db import engine, start_pool

        pooled = settings.is_postgres
        if pooled:
            await start_pool(min_size=1, max_size=4)
        try:
            say(f"Charging {args.due_charges:,} due charges with {args.arq_workers} arq worker(s) …")
            charge = await charge_run(args, env, settings) if args.due_charges else None
            say("Timing the due-charge sweep …")
            return charge, await sweep_run(args, env, settings)
        finally:
            if pooled:
                await engine().close_connection_pool()

    if not args.no_background:
        results["charge_worker"], results["sweep"] = asyncio.run(background_work())
    results["seeded"] = seeded.counts
    results["seed_seconds"] = round(seed_seconds, 1)
    results["database"] = "postgresql" if settings.is_postgres else "sqlite"
    results["web_workers"] = args.web_workers
    results["concurrency"] = args.concurrency
    results["seconds"] = args.seconds
    results["total_seconds"] = round(time.perf_counter() - begun, 1)
    print_report(results, json.loads(Path(args.compare).read_text()) if args.compare else None)
    Path(args.out).write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"Written to {args.out}")
    return 0
