"""Console latency: draft creation -> shown in open consoles (SSE), and endpoint times at 100k.

    .venv/bin/python bench/console_latency.py [--clients 20] [--drafts 40] [--tickets 100000]

Starts ``hotline1567 web`` as a subprocess on a free port with a temporary SQLite database and the
local Redis db 14 (flushed), opens ``--clients`` SSE connections (the console's live stream, each
a signed-in session; not browser pages), creates drafts the way the IVR does (call + recording +
draft through CallService, published by the outbox relay) and times until every client has the
``ticket.created`` event. Then bulk-inserts ``--tickets`` tickets with SQLAlchemy Core and times the
queue and dashboard endpoints as a client sees them (localhost round trip, so an upper bound on
server time).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import redis
from sqlalchemy import insert

from config.settings import Settings
from ticketing.container import Services, build_services, sync_agencies
from ticketing.db import upgrade_schema
from ticketing.models import AuditEvent, Ticket
from ticketing.status import TicketStatus
from ticketing.timeutil import utcnow

REDIS_URL = "redis://127.0.0.1:6379/14"
PASSWORD = "bench-password-1"
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def sign_in(client: httpx.AsyncClient, username: str) -> str:
    page = await client.get("/login")
    token = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert token
    response = await client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert response.status_code in (200, 303), response.status_code
    landing = await client.get("/login")
    match = re.search(r'name="csrf-token" content="([^"]+)"', landing.text)
    assert match
    return match.group(1)


async def sse_client(
    url: str, ready: asyncio.Event, seen: dict[str, float], stop: asyncio.Event, n_ready: list[int]
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        await sign_in(client, "bench_agent")
        async with client.stream("GET", "/console/live") as response:
            async for line in response.aiter_lines():
                if line.startswith("event: hello"):
                    n_ready[0] += 1
                    ready.set()
                elif line.startswith("data:") and '"ticket.created"' in line:
                    message = json.loads(line[5:])
                    reference = message["data"]["reference"]
                    seen[f"{id(client)}:{reference}"] = time.perf_counter()
                if stop.is_set():
                    return


def create_draft(services: Services, data_dir: Path) -> str:
    call_id = f"bench-{uuid.uuid4().hex[:12]}"
    relative = f"recordings/{call_id}.wav"
    (data_dir / "recordings").mkdir(exist_ok=True)
    (data_dir / relative).write_bytes(b"RIFF")
    services.calls.start_call(call_id, caller_number="0812345678", node="bench")
    _rid, ticket = services.calls.start_recording(call_id, relative)
    return str(ticket["reference"])


async def measure_live(
    url: str, services: Services, data_dir: Path, clients: int, drafts: int
) -> dict[str, float]:
    ready, stop = asyncio.Event(), asyncio.Event()
    seen: dict[str, float] = {}
    n_ready = [0]
    tasks = [
        asyncio.create_task(sse_client(url, ready, seen, stop, n_ready)) for _ in range(clients)
    ]
    deadline = time.monotonic() + 30
    while n_ready[0] < clients:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {n_ready[0]} of {clients} SSE clients connected")
        await asyncio.sleep(0.05)
    latencies: list[float] = []
    for _ in range(drafts):
        started = time.perf_counter()
        reference = await asyncio.to_thread(create_draft, services, data_dir)
        wait_until = time.monotonic() + 5
        while sum(1 for k in seen if k.endswith(":" + reference)) < clients:
            if time.monotonic() > wait_until:
                break
            await asyncio.sleep(0.005)
        arrived = [t for k, t in seen.items() if k.endswith(":" + reference)]
        latencies.extend(t - started for t in arrived)
        latencies.extend([float("inf")] * (clients - len(arrived)))
        await asyncio.sleep(0.2)
    stop.set()
    # A last event wakes the readers so they see ``stop``.
    await asyncio.to_thread(create_draft, services, data_dir)
    await asyncio.wait(tasks, timeout=5)
    for task in tasks:
        task.cancel()
    finite = [x for x in latencies if x != float("inf")]
    return {
        "deliveries": len(latencies),
        "missed": len(latencies) - len(finite),
        "p50_ms": 1000 * statistics.median(finite),
        "p95_ms": 1000 * percentile(finite, 0.95),
        "max_ms": 1000 * max(finite),
    }


def bulk_tickets(services: Services, count: int) -> None:
    """``count`` tickets over the last 90 days, most finished, some open, ~2% drafts."""
    rng = random.Random(1567)
    categories = list(services.catalog.categories)
    provinces = list(services.catalog.provinces)
    agencies = list(services.catalog.agencies)
    now = utcnow()
    statuses = [
        (TicketStatus.DRAFT, 2),
        (TicketStatus.CONFIRMED, 3),
        (TicketStatus.ROUTED, 15),
        (TicketStatus.IN_PROGRESS, 10),
        (TicketStatus.RESOLVED, 30),
        (TicketStatus.CLOSED, 35),
        (TicketStatus.REJECTED, 5),
    ]
    population = [s for s, w in statuses for _ in range(w)]
    batch: list[dict[str, Any]] = []
    audits: list[dict[str, Any]] = []
    with services.engine.begin() as connection:
        for i in range(count):
            created = now - timedelta(seconds=rng.uniform(0, 90 * 86400))
            status = rng.choice(population)
            routed = status not in (
                TicketStatus.DRAFT,
                TicketStatus.CONFIRMED,
                TicketStatus.REJECTED,
            )
            batch.append(
                {
                    "reference": f"9{i:09d}",
                    "status": status,
                    "version": 1,
                    "channel": "phone",
                    "category": rng.choice(categories),
                    "urgent": rng.random() < 0.02,
                    "province_code": rng.choice(provinces),
                    "description": f"ร้องเรียน ทดสอบประสิทธิภาพ เลขที่ {i}",
                    "field_confidence": {},
                    "asr_status": "done",
                    "agency_code": rng.choice(agencies) if routed else None,
                    "created_at": created,
                    "updated_at": created,
                    "confirmed_at": created + timedelta(minutes=5)
                    if status is not TicketStatus.DRAFT
                    else None,
                    "resolve_due_at": created + timedelta(days=30),
                }
            )
            if len(batch) == 5000:
                connection.execute(insert(Ticket), batch)
                batch.clear()
        if batch:
            connection.execute(insert(Ticket), batch)
        for i in range(2000):
            audits.append(
                {
                    "ticket_id": i + 1,
                    "actor": f"agent{i % 25}",
                    "action": rng.choice(["status:confirmed", "routed", "edited"]),
                    "before": {},
                    "after": {},
                    "at": now - timedelta(seconds=rng.uniform(0, 6 * 3600)),
                }
            )
        connection.execute(insert(AuditEvent), audits)


async def time_endpoints(url: str, rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(base_url=url, timeout=60) as agent:
        await sign_in(agent, "bench_agent")
        async with httpx.AsyncClient(base_url=url, timeout=60) as boss:
            await sign_in(boss, "bench_boss")
            for name, client, path in (
                ("queue", agent, "/console/api/queue"),
                ("dashboard", boss, "/console/api/dashboard"),
                ("metrics_summary", boss, "/api/v1/metrics/summary"),
                ("search_text", agent, "/api/v1/tickets?q=99999&limit=50"),
            ):
                await client.get(path)  # warm caches
                times = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    response = await client.get(path)
                    times.append(1000 * (time.perf_counter() - started))
                    assert response.status_code == 200, (path, response.status_code)
                results[name] = {
                    "p50_ms": statistics.median(times),
                    "p95_ms": percentile(times, 0.95),
                    "max_ms": max(times),
                }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--drafts", type=int, default=40)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    redis.Redis.from_url(REDIS_URL).flushdb()
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp:
        data_dir = Path(tmp)
        database_url = f"sqlite:///{data_dir / 'bench.sqlite3'}"
        upgrade_schema(database_url)
        settings = Settings(data_dir=data_dir, database_url=database_url, redis_url=REDIS_URL)
        services = build_services(settings, redis_url=REDIS_URL)
        sync_agencies(services.sessions, services.catalog)
        services.users.add_user("bench_agent", PASSWORD, "agent")
        services.users.add_user("bench_boss", PASSWORD, "supervisor")
        port = free_port()
        env = {
            **os.environ,
            "HOTLINE_DATA_DIR": str(data_dir),
            "HOTLINE_DATABASE_URL": database_url,
            "HOTLINE_REDIS_URL": REDIS_URL,
            "HOTLINE_LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/hotline1567"), "web", "--port", str(port)], env=env
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.05)
            live = asyncio.run(measure_live(url, services, data_dir, args.clients, args.drafts))
            print(
                f"live: {args.clients} SSE clients x {args.drafts} drafts = {live['deliveries']} "
                f"deliveries, missed {live['missed']}; creation->event p50 "
                f"{live['p50_ms']:.1f} ms, p95 {live['p95_ms']:.1f} ms, max {live['max_ms']:.1f} ms"
            )
            started = time.perf_counter()
            bulk_tickets(services, args.tickets)
            print(f"inserted {args.tickets} tickets in {time.perf_counter() - started:.1f} s")
            timing = asyncio.run(time_endpoints(url, args.rounds))
            for name, figures in timing.items():
                print(
                    f"{name}: p50 {figures['p50_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, "
                    f"max {figures['max_ms']:.1f} ms ({args.rounds} requests)"
                )
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
            services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
