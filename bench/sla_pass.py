"""SLA scheduler pass benchmark: one pass over 100,000 open tickets.

    .venv/bin/python bench/sla_pass.py                     # SQLite file in a temp dir
    .venv/bin/python bench/sla_pass.py --database-url postgresql://postgres@127.0.0.1:5432/test

Inserts COUNT open tickets in bulk (ages spread over 120 days, statuses draft 5 %, confirmed
10 %, routed 50 %, in progress 35 %, the categories of the default taxonomy) and times:

- the **first pass**, which evaluates every ticket (after an upgrade or a bulk import);
- **steady passes**, one per simulated minute as the scheduler runs them: before each, EDITS
  tickets are changed (a version bump and updated_at, as an edit does), and the minute's
  thresholds fall due; each pass reads the changes of its minute and of the two minutes of its
  clock margin before, as a scheduler passing once a minute does;
- a **catch-up pass** after the scheduler was down for a day.

Prints p50 / p95 / max of the steady passes and each figure's marks. A PostgreSQL URL gets a
fresh database that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import timedelta

from bench_db import bench_database, percentile
from sqlalchemy import func, insert, select, text, update

from config.catalog import load_catalog
from config.holidays import load_calendar
from ticketing.container import sync_agencies
from ticketing.db import make_engine, make_sessionmaker
from ticketing.escalation import SlaPass
from ticketing.models import SlaMark, Ticket
from ticketing.reference import format_reference
from ticketing.status import TicketStatus
from ticketing.timeutil import utcnow

STATUSES = [
    (TicketStatus.DRAFT, 0.05),
    (TicketStatus.CONFIRMED, 0.10),
    (TicketStatus.ROUTED, 0.50),
    (TicketStatus.IN_PROGRESS, 0.35),
]


def fill(url: str, count: int) -> None:
    catalog = load_catalog()
    categories = list(catalog.categories.values())
    provinces = list(catalog.provinces)
    rng = random.Random(1567)
    now = utcnow()
    engine = make_engine(url)
    rows = []
    for i in range(count):
        created = now - timedelta(minutes=rng.uniform(0, 120 * 24 * 60))
        category = rng.choice(categories)
        status = rng.choices([s for s, _ in STATUSES], [w for _, w in STATUSES])[0]
        province = rng.choice(provinces)
        rows.append(
            {
                "reference": format_reference(69, i + 1),
                "status": status,
                "version": 1,
                "channel": "phone",
                "category": category.code,
                "urgent": rng.random() < 0.03,
                "province_code": province,
                "description": "ถนนชำรุด",
                "field_confidence": {},
                "asr_status": "done",
                "created_at": created,
                "updated_at": created,
                "confirmed_at": None if status is TicketStatus.DRAFT else created,
                "first_update_at": created if rng.random() < 0.3 else None,
                "agency_code": f"DAMRONG-{province}"
                if status in (TicketStatus.ROUTED, TicketStatus.IN_PROGRESS)
                else None,
                "confirm_due_at": created + timedelta(minutes=category.confirm_minutes),
                "progress_due_at": created + timedelta(days=category.progress_days),
                "resolve_due_at": created + timedelta(days=category.resolve_days),
                "escalation_level": 0,
                "sla_state": "ok",
            }
        )
        if len(rows) == 5000:
            with engine.begin() as connection:
                connection.execute(insert(Ticket), rows)
            rows = []
    if rows:
        with engine.begin() as connection:
            connection.execute(insert(Ticket), rows)
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (default: a SQLite temp file)")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--passes", type=int, default=30, help="steady passes (minutes)")
    parser.add_argument("--edits", type=int, default=100, help="tickets changed per minute")
    args = parser.parse_args()
    with bench_database(args.database_url) as url:
        setup = make_engine(url)
        sync_agencies(make_sessionmaker(setup), load_catalog())
        setup.dispose()
        print(f"inserting {args.count} open tickets", file=sys.stderr, flush=True)
        fill(url, args.count)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        sla = SlaPass(sessions, load_catalog(), load_calendar())
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("ANALYZE tickets"))

        def timed(moment: object, since: object = None) -> tuple[float, int, int]:
            started = time.perf_counter()
            result = sla.run(moment, changed_since=since)  # type: ignore[arg-type]
            return time.perf_counter() - started, result.examined, len(result.marks)

        start = utcnow()
        first = timed(start)
        rng = random.Random(7)
        ids = list(range(1, args.count + 1))
        steady: list[tuple[float, int, int]] = []
        edited_at = []
        for minute in range(1, args.passes + 1):
            edited_at.append(utcnow())
            with engine.begin() as connection:
                connection.execute(
                    update(Ticket)
                    .where(Ticket.id.in_(rng.sample(ids, args.edits)))
                    .values(version=Ticket.version + 1, updated_at=utcnow())
                )
            # As in production: the changes since the last pass and its 2-minute margin,
            # i.e. this minute's edits and the two minutes' before.
            since = edited_at[max(0, minute - 3)]
            steady.append(timed(start + timedelta(minutes=minute), since))
        catch_up = timed(start + timedelta(days=1, minutes=args.passes))
        with sessions() as session:
            marks = session.scalar(select(func.count()).select_from(SlaMark))
        seconds = [s for s, _, _ in steady]
        print(f"\nSLA pass benchmark on {engine.dialect.name}, {args.count} open tickets")
        print(
            f"first pass (every ticket evaluated): {first[0]:.2f} s, "
            f"{first[1]} examined, {first[2]} marks"
        )
        print(
            f"steady passes ({args.passes} simulated minutes, {args.edits} edits each): "
            f"p50 {percentile(seconds, 0.5) * 1000:.0f} ms, "
            f"p95 {percentile(seconds, 0.95) * 1000:.0f} ms, max {max(seconds) * 1000:.0f} ms; "
            f"examined {sum(e for _, e, _ in steady) / len(steady):.0f} per pass, "
            f"{sum(m for _, _, m in steady)} marks in all"
        )
        print(
            f"catch-up pass after a day down: {catch_up[0]:.2f} s, {catch_up[1]} examined, "
            f"{catch_up[2]} marks ({marks} marks in the database)"
        )
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
