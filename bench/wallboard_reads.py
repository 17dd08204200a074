"""Wallboard read time: one ``QueueReads.wallboard()`` (what each open wallboard asks after a
call or agent event) with a busy day's calls and agent history, and ``/metrics``' queue part.

    .venv/bin/python bench/wallboard_reads.py --calls 5000 --agents 100 --rounds 20

Real parts: SQLite (migrated), the live queue and presence store on an embedded redis-server.
Rows are written straight into the tables (the day's facts; how they got there is measured by
the queue benchmarks). Prints p50 / p95 in ms with the 0.2 s answer cache bypassed: "cold" reads
the day's state history again (every 10 s in production), "warm" uses the last read.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from config.settings import Settings
from ticketing.container import build_services
from ticketing.db import upgrade_schema
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.live_queue import QueueEntry
from ticketing.models import AgentStateChange, Call
from ticketing.presence import AgentState
from ticketing.queue_metrics import queue_metrics_text
from ticketing.timeutil import bangkok_day_start, utcnow

STATES = ["available", "ringing", "on_call", "wrap_up", "available", "break"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--waiting", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = EmbeddedRedis(Path(tmp) / "redis")
        redis_server.start()
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade_schema(url)
        settings = Settings(
            data_dir=Path(tmp) / "data", database_url=url, redis_url=redis_server.url
        )
        services = build_services(settings, start_relay=False)
        try:
            now = utcnow()
            start = max(bangkok_day_start(now), now - timedelta(hours=10))
            span = (now - start).total_seconds()
            with services.sessions.begin() as session:
                for i in range(args.calls):
                    entered = start + timedelta(seconds=rng.uniform(0, span))
                    answered = rng.random() < 0.85
                    wait = rng.expovariate(1 / 25)
                    session.add(Call(
                        id=f"c{i}", started_at=entered - timedelta(seconds=40), node="n1",
                        queue_entered_at=entered, ended_at=entered + timedelta(minutes=4),
                        agent_username=f"agent{i % args.agents}" if answered else None,
                        agent_answered_at=entered + timedelta(seconds=wait) if answered else None,
                        wait_seconds=wait, talk_seconds=rng.uniform(60, 400) if answered else None,
                        hold_seconds=0.0, wrapup_seconds=30.0 if answered else None,
                        outcome="answered" if answered else "abandoned_in_queue",
                    ))  # fmt: skip
                per_agent = max(1, args.calls * 4 // args.agents)
                for a in range(args.agents):
                    moments = sorted(rng.uniform(0, span) for _ in range(per_agent))
                    previous = "offline"
                    for k, offset in enumerate(moments):
                        state = STATES[k % len(STATES)]
                        session.add(AgentStateChange(
                            username=f"agent{a}", state=state, previous=previous, why="bench",
                            at=start + timedelta(seconds=offset),
                        ))  # fmt: skip
                        previous = state
            for a in range(args.agents):
                services.presence.request_state(f"agent{a}", "agent", AgentState.AVAILABLE)
            for w in range(args.waiting):
                services.live_queue.join(QueueEntry(f"w{w}", "normal", now, node="n1"))
            reads = services.queue_reads
            reads.cache_seconds = 0.0
            board_ms, cold_ms, metrics_ms = [], [], []
            for _ in range(args.rounds):
                reads.history_seconds = 0.0  # cold: the day's state history read again
                t0 = time.perf_counter()
                board = reads.wallboard()
                cold_ms.append((time.perf_counter() - t0) * 1000)
                reads.history_seconds = 10.0  # warm: as between two 10 s history reads
                t0 = time.perf_counter()
                board = reads.wallboard()
                board_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                queue_metrics_text(reads)
                metrics_ms.append((time.perf_counter() - t0) * 1000)
            today = board["today"]
            print(f"calls today {today['entered']}, agents {len(board['agents'])}, "
                  f"waiting {board['callers_waiting']}, SL {today['service_level']}, "
                  f"occupancy {today['occupancy']}")  # fmt: skip
            figures = (
                ("wallboard() cold", cold_ms),
                ("wallboard() warm", board_ms),
                ("queue /metrics", metrics_ms),
            )
            for name, values in figures:
                print(f"{name:16} p50 {statistics.median(values):7.1f} ms   "
                      f"p95 {percentile(values, 0.95):7.1f} ms")  # fmt: skip
        finally:
            services.close()
            redis_server.stop()


if __name__ == "__main__":
    main()
