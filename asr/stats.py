"""Per-worker figures: kept in memory for the worker's own use (tests, the benchmark) and
exported as Prometheus metrics (``asr.metrics``) for the role's ``/metrics``.

(These figures used to be written to a Redis hash, ``hotline:asr:stats``, every 2 s; nothing
read it, so it is gone: the dashboard's queue figures come from the job stream itself.)
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from typing import Any

from asr import metrics
from asr.job import Outcome
from ticketing.audio_queue import AudioQueue

WINDOW = 200  # latencies kept for the percentiles


class WorkerStats:
    def __init__(self, consumer: str) -> None:
        self.consumer = consumer
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=WINDOW)
        self._counts = {
            "done": 0,
            "failed": 0,
            "no_model": 0,
            "lost": 0,
            "retry": 0,
            "gone": 0,
            "skipped": 0,
        }
        self._last: dict[str, Any] = {}
        self.started_at = time.time()

    def record(self, outcome: Outcome) -> None:
        metrics.JOBS.labels(outcome.status).inc()
        if outcome.latency is not None:
            metrics.LATENCY.observe(outcome.latency)
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
            return {
                "consumer": self.consumer,
                "in_flight": in_flight,
                "jobs_done": self._counts["done"],
                "failures": self._counts["failed"],
                "no_model": self._counts["no_model"],
                "lost": self._counts["lost"],
                "retries": self._counts["retry"],
                "skipped": self._counts["skipped"],
                "latency_p50_seconds": _round(statistics.median(latencies)) if latencies else None,
                "latency_p95_seconds": _round(_p95(latencies)) if latencies else None,
                "started_at": round(self.started_at, 3),
                **self._last,
            }


def publish_backlog(queue: AudioQueue) -> dict[str, Any]:
    """The job stream's depth and age into the gauges; returns them."""
    backlog = queue.backlog()
    metrics.QUEUE_WAITING.set(backlog.get("waiting", 0))
    metrics.QUEUE_PENDING.set(backlog.get("pending", 0))
    metrics.QUEUE_AGE.set(backlog.get("oldest_seconds", 0))
    return backlog


def _p95(values: list[float]) -> float:
    index = max(0, min(len(values) - 1, round(0.95 * (len(values) - 1))))
    return values[index]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
