"""Queue answer latency: an agent going available -> their phone's INVITE (here: ``dial`` called).

    .venv/bin/python bench/queue_latency.py --rounds 40 --waiting 50

Real parts: the live queue and presence store on an embedded redis-server, the call records and
presence history on SQLite, the queue's dispatcher threads (one per waiting caller) as the IVR
node runs them. The Dialler is a stub that answers at once (the SIP leg is measured by the SIP
benchmarks); each round one agent goes available and the time until ``dial("agent:...")`` is
taken; the answered caller leaves, the agent goes offline again, a new caller joins at the back.
Prints p50 / p95 / max in ms (the issue asks p95 <= 200 ms).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from config.queue_settings import QueueSettings
from config.settings import Settings
from ivr.queue_call import QueueCall
from ticketing.container import build_services
from ticketing.db import upgrade_schema
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.presence import AgentState
from ticketing.timeutil import utcnow


class Leg:
    call_id = "agent-leg"
    sip_call_id = ""
    caller_number = None
    ended = False
    end_reason = None

    def hangup(self) -> None: ...


class Result:
    def __init__(self) -> None:
        self.outcome, self.status, self.channel = "answered", 200, Leg()


class StubDialler:
    def __init__(self) -> None:
        self.dialled = threading.Event()
        self.at = 0.0

    def dial(self, target: str, **_: Any) -> Result:
        self.at = time.monotonic()
        self.dialled.set()
        return Result()

    def bridge(self, *_: Any, **__: Any) -> None:
        raise NotImplementedError


class Channel:
    def __init__(self, call_id: str) -> None:
        self.call_id, self.sip_call_id, self.caller_number = call_id, "", "0812345678"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--waiting", type=int, default=50, help="callers waiting behind")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = EmbeddedRedis(Path(tmp) / "redis")
        redis_server.start()
        url = f"sqlite:///{tmp}/bench.sqlite3"
        upgrade_schema(url)
        settings = Settings(data_dir=Path(tmp) / "data", database_url=url,
                            redis_url=redis_server.url, queue=QueueSettings())  # fmt: skip
        services = build_services(settings, start_relay=False)
        dialler = StubDialler()
        calls: list[QueueCall] = []

        def join(n: int) -> None:
            call_id = f"bench-{n}"
            services.calls.start_call(call_id, caller_number="0812345678", node="bench")
            channel: Any = Channel(call_id)
            call = QueueCall(channel, services, dialler, node="bench", settings=settings.queue,
                             ring_timeout=15, wrap_up_seconds=30)  # fmt: skip
            call.enter("normal", at_head=False, reference=None)
            calls.append(call)

        services.presence.apply("agent1", lambda m: m.request(AgentState.OFFLINE, utcnow()))
        for n in range(args.waiting + 1):
            join(n)
        samples: list[float] = []
        for n in range(args.rounds):
            dialler.dialled.clear()
            time.sleep(0.05)
            start = time.monotonic()
            services.presence.apply("agent1", lambda m: m.request(AgentState.AVAILABLE, utcnow()))
            assert dialler.dialled.wait(5), "no INVITE"
            samples.append((dialler.at - start) * 1000)
            time.sleep(0.05)  # the dispatcher records the answer
            services.presence.apply("agent1", lambda m: m.request(AgentState.OFFLINE, utcnow()))
            join(args.waiting + 1 + n)
        for call in calls:
            call.leave("bench over")
        services.close()
        redis_server.stop()
    samples.sort()
    p95 = samples[int(0.95 * (len(samples) - 1))]
    print(f"queue answer latency over {len(samples)} rounds, {args.waiting} callers waiting:")
    print(f"  p50 {statistics.median(samples):.1f} ms  p95 {p95:.1f} ms  max {samples[-1]:.1f} ms")


if __name__ == "__main__":
    main()
