"""The queue's figures in the web role's ``/metrics`` (Prometheus text), made at scrape time
from the same read model as the wallboard, so every web process reports the same values.

``hotline_queue_answered_total``, ``hotline_queue_abandoned_total`` and the two histograms
count the calls that entered the queue today (the Bangkok day): they start again from zero at
midnight Bangkok time, which Prometheus reads as a counter reset (``increase()`` and ``rate()``
handle it). The gauges are the live queue now; ``hotline_agents{state}`` is the presence
service's own gauge in the process registry.
"""

from __future__ import annotations

from collections.abc import Iterable

from ticketing.queue_reads import QueueReads, today_figures

WAIT_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
HANDLE_BUCKETS = (30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 900.0, 1800.0)


def _number(value: float) -> str:
    return repr(float(value))


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _histogram(
    lines: list[str], name: str, help_text: str, values: Iterable[float], buckets: tuple[float, ...]
) -> None:
    seen = sorted(values)
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
    for bound in buckets:
        count = sum(1 for v in seen if v <= bound)
        lines.append(f'{name}_bucket{{le="{bound:g}"}} {count}')
    lines.append(f'{name}_bucket{{le="+Inf"}} {len(seen)}')
    lines.append(f"{name}_sum {_number(sum(seen))}")
    lines.append(f"{name}_count {len(seen)}")


def queue_metrics_text(reads: QueueReads) -> str:
    live, calls = reads.metric_facts()
    today = today_figures(calls, reads.sl_seconds)
    lines: list[str] = []

    def one(name: str, kind: str, help_text: str, value: float | None, labels: str = "") -> None:
        if value is None:
            return  # unknown (Redis down, no calls yet): absent rather than a made-up 0
        if not any(line.startswith(f"# HELP {name} ") for line in lines):
            lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])
        lines.append(f"{name}{labels} {_number(value)}")

    one(
        "hotline_queue_calls_waiting",
        "gauge",
        "Callers waiting in the queue for a call-taker now.",
        live["callers_waiting"],
    )
    one(
        "hotline_queue_callbacks_waiting",
        "gauge",
        "Callback requests waiting in the queue now.",
        live["callbacks_waiting"],
    )
    oldest = live["oldest_wait_seconds"]
    one(
        "hotline_queue_oldest_wait_seconds",
        "gauge",
        "How long the longest-waiting caller has waited (0 when none waits).",
        None if live["callers_waiting"] is None else (oldest or 0.0),
    )
    one(
        "hotline_queue_answered_total",
        "counter",
        "Queued calls answered by a call-taker today (Bangkok day; resets at midnight).",
        today["answered"],
    )
    one(
        "hotline_queue_abandoned_total",
        "counter",
        "Callers who hung up in the queue today (Bangkok day; resets at midnight).",
        today["abandoned"],
    )
    nodes = live["nodes"]
    one(
        "hotline_ivr_nodes_alive",
        "gauge",
        "IVR nodes whose heartbeat is alive now (ticketing.node_liveness).",
        None if nodes is None else sum(1 for up in nodes.values() if up),
    )
    for name, up in sorted((nodes or {}).items()):
        one(
            "hotline_ivr_node_up",
            "gauge",
            "1 while the IVR node beats; 0 once its heartbeat ran out (its calls are ended).",
            1.0 if up else 0.0,
            f'{{node="{_label(name)}"}}',
        )
    sl_help = (
        f"Service level today, T = {reads.sl_seconds:g} s: sl = answered within T / answered;"
        " sl2 = (answered within T + abandoned within T) / (answered + abandoned)."
    )
    one("hotline_queue_service_level", "gauge", sl_help, today["service_level"], '{kind="sl"}')
    one("hotline_queue_service_level", "gauge", sl_help, today["service_level_2"], '{kind="sl2"}')
    _histogram(
        lines,
        "hotline_queue_wait_seconds",
        "Queue wait of the calls answered today (entered the queue -> a call-taker answered).",
        [c.wait_seconds for c in calls if c.answered and c.wait_seconds is not None],
        WAIT_BUCKETS,
    )
    _histogram(
        lines,
        "hotline_call_handle_seconds",
        "Handle time (talk + hold + wrap-up) of the conversations ended today.",
        [c.handle_seconds for c in calls if c.answered and c.handle_seconds is not None],
        HANDLE_BUCKETS,
    )
    return "\n".join(lines) + "\n"
