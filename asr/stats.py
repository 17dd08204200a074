"""Per-worker figures in the Redis hash ``hotline:asr:stats`` (read by the supervisor dashboard).

One field per worker (its consumer name) holding JSON, plus a ``backlog`` field any worker
refreshes. Entries carry ``updated_at`` (Unix seconds): a worker whose entry is older than a
minute is gone. A worker removes its own field when it stops cleanly.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import deque
from typing import Any

import redis

from asr.job import Outcome
from ticketing.audio_queue import AudioQueue

STATS_KEY = "hotline:asr:stats"
BACKLOG_FIELD = "backlog"
WINDOW = 200  # latencies kept for the percentiles


class WorkerStats:
    def __init__(self, consumer: str, concurrency: int) -> None:
        self.consumer = consumer
        self.concurrency = concurrency
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=WINDOW)
        self._counts = {"done": 0, "failed": 0, "no_model": 0, "lost": 0, "retry": 0, "gone": 0}
        self._last: dict[str, Any] = {}
        self.started_at = time.time()

    def record(self, outcome: Outcome) -> None:
        with self._lock:
            self._counts[outcome.status] = self._counts.get(outcome.status, 0) + 1
            if outcome.latency is not None:
                self._latencies.append(outcome.latency)
            if outcome.status == "done":
                self._last = {
                    "last_source": outcome.source,
                    "last_latency_seconds": _round(outcome.latency),
                    "last_decode_seconds": outcome.decode_seconds,
                    "last_audio_seconds": outcome.audio_seconds,
                    "last_rtf": round(outcome.decode_seconds / outcome.audio_seconds, 3)
                    if outcome.audio_seconds
                    else None,
                    "last_queue_seconds": round(outcome.queue_seconds, 3),
                }
            if outcome.error:
                self._last["last_error"] = outcome.error

    def latencies(self) -> list[float]:
        """The recent end-of-audio → stored latencies, sorted."""
        with self._lock:
            return sorted(self._latencies)

    def snapshot(self, in_flight: int) -> dict[str, Any]:
        with self._lock:
            latencies = sorted(self._latencies)
            figures: dict[str, Any] = {
                "consumer": self.consumer,
                "concurrency": self.concurrency,
                "in_flight": in_flight,
                "jobs_done": self._counts["done"],
                "failures": self._counts["failed"],
                "no_model": self._counts["no_model"],
                "lost": self._counts["lost"],
                "retries": self._counts["retry"],
                "latency_p50_seconds": _round(statistics.median(latencies)) if latencies else None,
                "latency_p95_seconds": _round(_p95(latencies)) if latencies else None,
                "started_at": round(self.started_at, 3),
                "updated_at": round(time.time(), 3),
                **self._last,
            }
        return figures

    def publish(self, client: redis.Redis, queue: AudioQueue, in_flight: int) -> dict[str, Any]:
        backlog = {**queue.backlog(), "updated_at": round(time.time(), 3)}
        client.hset(
            STATS_KEY,
            mapping={
                self.consumer: json.dumps(self.snapshot(in_flight)),
                BACKLOG_FIELD: json.dumps(backlog),
            },
        )
        return backlog

    def withdraw(self, client: redis.Redis) -> None:
        client.hdel(STATS_KEY, self.consumer)


def _p95(values: list[float]) -> float:
    index = max(0, min(len(values) - 1, round(0.95 * (len(values) - 1))))
    return values[index]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
