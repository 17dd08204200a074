"""CPU cost of the IVR session runner: N concurrent calls on a real-time fake channel.

Each call: greeting, key 1, a complaint spoken for 10 s (audio paced at real time, 20 ms frames),
'#', read-back skipped, survey 5. Real services: SQLite in a temp dir + the local Redis (db 11,
flushed). Reports process CPU seconds (all threads: runner, fake channel, SQLite, Redis client)
per call and per call-second; the fake channel's own work is included, so this is an upper bound.

    .venv/bin/python bench/ivr_session_cpu.py --calls 50
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis

from config.settings import Settings
from ivr.call_session import run_call
from ivr.flow.menu import load_flow, menu_path
from ivr.prompts.manifest import load_manifest, manifest_path
from tests.ivr.fakes import Caller, FakeChannel, fake_prompts
from ticketing.container import build_services, sync_agencies
from ticketing.db import upgrade_schema

REDIS_URL = "redis://127.0.0.1:6379/11"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--speech-seconds", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    redis.Redis.from_url(REDIS_URL).flushdb()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade_schema(url)
        settings = Settings(data_dir=Path(tmp) / "data", database_url=url, redis_url=REDIS_URL)
        services = build_services(settings, start_relay=False)
        sync_agencies(services.sessions, services.catalog)
        flow = load_flow(menu_path(None))
        prompts = fake_prompts(load_manifest(manifest_path(None)))
        speech_end = 2.0 + args.speech_seconds
        keys = [(1.0, "1"), (speech_end + 1, "#"), (speech_end + 1.5, "#")]
        caller = Caller(keys=[*keys, (speech_end + 2.5, "5")], speech=[(2.0, speech_end)])
        channels = [
            FakeChannel(caller, call_id=f"bench-{i}", realtime=True) for i in range(args.calls)
        ]
        threads = [
            threading.Thread(
                target=run_call,
                args=(ch, services, flow, prompts),
                kwargs={"node": "bench", "clock": ch.monotonic},
            )
            for ch in channels
        ]
        cpu0, wall0 = time.process_time(), time.monotonic()
        for thread in threads:
            thread.start()
            time.sleep(0.02)  # calls do not all arrive in the same millisecond
        for thread in threads:
            thread.join()
        cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
        call_seconds = sum(ch.now() for ch in channels)
        with services.sessions() as session:
            from sqlalchemy import func, select

            from ticketing.models import Recording

            done = session.scalar(select(func.count()).where(Recording.complete.is_(True)))
        services.close()
    each = call_seconds / args.calls
    print(f"calls: {args.calls} concurrent, {each:.1f} s each, wall {wall:.1f} s")
    print(f"recordings complete: {done}/{args.calls}")
    print(f"process CPU: {cpu:.2f} s = {cpu / wall * 100:.1f}% of one core while running")
    per_second = cpu / call_seconds
    print(f"per call: {cpu / args.calls * 1000:.0f} ms CPU; per call-second:")
    print(f"  {per_second * 1000:.2f} ms CPU ({per_second * 100:.2f}% of a core)")
    print(f"cores: {os.cpu_count()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
