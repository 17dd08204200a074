"""Ticket store benchmark: create throughput and supervisor query latency at 100,000 tickets.

    .venv/bin/python bench/tickets.py                     # SQLite file in a temp dir
    .venv/bin/python bench/tickets.py --database-url postgresql://postgres@127.0.0.1:5432/test

Creates COUNT tickets through TicketService.create (each: reference counter, ticket, audit row
and outbox event in one transaction) from THREADS threads, then spreads their ages over 120 days
and their statuses over the life cycle (bulk UPDATE — real ages can't be waited for), and times the
supervisor queries. A PostgreSQL URL gets a fresh database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from bench_db import bench_database, percentile
from sqlalchemy import text

from config.catalog import load_catalog
from ticketing.actors import Actor
from ticketing.db import make_engine, make_sessionmaker
from ticketing.filters import TicketFilter
from ticketing.metrics import MetricsService
from ticketing.status import TicketStatus
from ticketing.tickets import NewTicket, TicketService
from ticketing.timeutil import utcnow

ACTOR = Actor.system("bench")


def create_all(tickets: TicketService, count: int, threads: int) -> float:
    catalog_provinces = ["10", "50", "30", "40", "90", "12", "20", "83"]
    categories = [
        "INFRASTRUCTURE",
        "NUISANCE",
        "DEBT_INFORMAL",
        "CONSUMER",
        "LAND",
        "DRUGS",
        "WELFARE",
        "DISASTER",
        "OTHER",
    ]
    per_thread = count // threads
    done = [0]
    lock = threading.Lock()

    def work(seed: int) -> None:
        rng = random.Random(seed)
        for _ in range(per_thread):
            tickets.create(
                NewTicket(
                    description="ถนนชำรุด " * rng.randint(1, 20),
                    category=rng.choice(categories),
                    province_code=rng.choice(catalog_provinces),
                    caller_phone=f"08{rng.randint(0, 99_999_999):08d}",
                    urgent=rng.random() < 0.03,
                    channel="phone",
                ),
                ACTOR,
            )
            with lock:
                done[0] += 1
                if done[0] % 10_000 == 0:
                    print(f"  {done[0]} created", file=sys.stderr, flush=True)

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started


def spread_ages_and_statuses(engine_url: str) -> None:
    engine = make_engine(engine_url)
    rng = random.Random(7)
    now = utcnow()
    statuses = (
        [TicketStatus.DRAFT] * 5
        + [TicketStatus.CONFIRMED] * 5
        + [TicketStatus.ROUTED] * 30
        + [TicketStatus.IN_PROGRESS] * 20
        + [TicketStatus.RESOLVED] * 20
        + [TicketStatus.CLOSED] * 20
    )
    with engine.begin() as connection:
        ids = [row[0] for row in connection.execute(text("SELECT id FROM tickets"))]
        batch = []
        for ticket_id in ids:
            age = timedelta(days=rng.uniform(0, 120))
            batch.append(
                {
                    "tid": ticket_id,
                    "created": now - age,
                    "due": now - age + timedelta(days=30),
                    "status": rng.choice(statuses).value,
                }
            )
        for chunk_start in range(0, len(batch), 5000):
            connection.execute(
                text(
                    "UPDATE tickets SET created_at = :created, resolve_due_at = :due, "
                    "status = :status WHERE id = :tid"
                ),
                batch[chunk_start : chunk_start + 5000],
            )
    engine.dispose()


def time_query(name: str, fn: Callable[[], object], runs: int) -> tuple[str, float, float]:
    fn()  # warm the cache once, as a live dashboard would be
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return name, statistics.median(samples), percentile(samples, 0.99)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite temp file)")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if args.count < args.threads or args.threads < 1 or args.runs < 1:
        parser.error("--count must be at least --threads, and both --threads and --runs >= 1")

    with bench_database(args.database_url) as url:
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        tickets = TicketService(sessions, load_catalog())
        print(
            f"creating {args.count} tickets with {args.threads} threads on {engine.dialect.name}",
            file=sys.stderr,
        )
        seconds = create_all(tickets, args.count, args.threads)
        created = args.count // args.threads * args.threads
        spread_ages_and_statuses(url)
        metrics = MetricsService(sessions)
        results = [
            time_query("backlog by age bucket", metrics.backlog_by_age, args.runs),
            time_query("backlog by category", lambda: metrics.backlog_by("category"), args.runs),
            time_query(
                "backlog by province", lambda: metrics.backlog_by("province_code"), args.runs
            ),
            time_query("overdue count", metrics.overdue_count, args.runs),
            time_query(
                "overdue list (first page)",
                lambda: tickets.search(TicketFilter(overdue=True), limit=50),
                args.runs,
            ),
            time_query("dashboard summary", metrics.summary, args.runs),
        ]
        print(f"\nticket store benchmark on {engine.dialect.name}, {created} tickets")
        print(
            f"create: {created / seconds:.0f} tickets/s ({args.threads} threads, {seconds:.1f} s)"
        )
        print(f"{'query':32} {'p50 ms':>8} {'p99 ms':>8}")
        for name, p50, p99 in results:
            print(f"{name:32} {p50:8.1f} {p99:8.1f}")
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
