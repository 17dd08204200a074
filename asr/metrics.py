"""The ASR worker's figures as Prometheus metrics, in prometheus_client's default registry.

The role's HTTP server (``/metrics``) exports the default registry; nothing here serves HTTP.
Several workers in one process (tests) share these objects: gauges that describe "this
process" are summed over its workers by the worker code (inc/dec), not set by each.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY = Histogram(
    "hotline_asr_latency_seconds",
    "End of the caller's audio (the IVR's end marker, Redis clock) to the final transcript stored.",
    buckets=(0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0),
)
JOBS = Counter("hotline_asr_jobs", "ASR jobs finished by this process, by outcome.", ["outcome"])
QUEUE_WAITING = Gauge(
    "hotline_asr_worker_queue_waiting", "ASR jobs in the stream not yet claimed by any worker."
)
QUEUE_PENDING = Gauge(
    "hotline_asr_worker_queue_pending", "ASR jobs claimed by some worker and not yet finished."
)
QUEUE_AGE = Gauge(
    "hotline_asr_worker_queue_oldest_seconds", "Age of the oldest unfinished ASR job."
)
STREAMS_ACTIVE = Gauge("hotline_asr_streams_active", "Calls this process is decoding now.")
STREAMS_BEHIND = Gauge(
    "hotline_asr_streams_behind",
    "Calls this process decodes more than a few seconds behind the caller, and not catching up.",
)
SLOTS = Gauge("hotline_asr_slots", "Calls this process takes at once (from cores and cost).")
COST = Gauge(
    "hotline_asr_cpu_seconds_per_audio_second",
    "Measured decoding CPU per second of call audio (recent average over streams).",
)
