"""The IVR node's own figures on the ivr role's ``/metrics``, read from the node at scrape time.

A prometheus-client ``Collector`` (no counters kept twice): calls answered, INVITEs refused
because the node was full (503), ACKs, active calls and the call limit come from the node's
user agent; dials refused at the outbound limit from its dialler; the RTP send-interval
histogram (how steadily the media process paces its 20 ms packets: the send jitter) comes from
the media process's 0.1 ms-bin histogram, which it resets on each read, so the collector adds
each read to its own running totals (a Prometheus histogram only grows). ``exported(node)``
registers the node for as long as it runs; one collector serves every node of the process
(tests run several), summing their figures.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import Protocol

import numpy as np
from prometheus_client import REGISTRY
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from ivr.sip.media_client import SendStats

log = logging.getLogger(__name__)

# Upper bounds of the send-interval buckets, in 0.1 ms (the media process's bin width): tight
# around the 20 ms packet time, then coarse up to the histogram's 200 ms overflow bin.
BUCKET_TENTHS_MS = (100, 150, 180, 190, 195, 200, 205, 210, 220, 250, 300, 400, 600, 1000, 2000)
# A scrape must not hang on a busy media process (Prometheus' default timeout is 10 s).
STATS_TIMEOUT_SECONDS = 0.5


class _Media(Protocol):
    late_ticks: int

    def send_stats(self, timeout: float = ...) -> SendStats: ...


class NodeFigures(Protocol):
    """What the collector reads from a node (``ivr.sip.adapter.SipNode`` has all of it)."""

    @property
    def active_calls(self) -> int: ...
    @property
    def answered_total(self) -> int: ...
    @property
    def rejected_busy(self) -> int: ...
    @property
    def acks_received(self) -> int: ...
    @property
    def media(self) -> _Media: ...


class _Watched:
    """One node and the send-interval totals its media process has reported so far."""

    def __init__(self, node: NodeFigures, max_calls: int) -> None:
        self.node = node
        self.max_calls = max_calls
        self.histogram = np.zeros(0, dtype=np.int64)
        self.late_ticks = 0
        self._late_seen = 0  # the media process's own count (it restarts from 0 with the process)

    def read_media(self) -> None:
        try:
            stats = self.node.media.send_stats(timeout=STATS_TIMEOUT_SECONDS)
        except Exception as exc:  # media process down or restarting: this scrape shows no new data
            log.debug("ivr metrics: no send statistics from the media process: %s", exc)
            return
        fresh = np.asarray(stats.histogram, dtype=np.int64)
        if fresh.size > self.histogram.size:
            self.histogram = np.pad(self.histogram, (0, fresh.size - self.histogram.size))
        self.histogram[: fresh.size] += fresh
        late = int(self.node.media.late_ticks)
        self.late_ticks += late - self._late_seen if late >= self._late_seen else late
        self._late_seen = late


class IvrCollector(Collector):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[int, _Watched] = {}

    def watch(self, node: NodeFigures, max_calls: int = 0) -> None:
        with self._lock:
            self._nodes[id(node)] = _Watched(node, max_calls)

    def forget(self, node: NodeFigures) -> None:
        with self._lock:
            self._nodes.pop(id(node), None)

    def collect(self) -> Iterable[Metric]:
        with self._lock:  # one scrape at a time reads (and so resets) the media histograms
            nodes = list(self._nodes.values())
            for watched in nodes:
                watched.read_media()
            return self._families(nodes)

    def _families(self, nodes: list[_Watched]) -> list[Metric]:
        def total(read: str) -> int:
            return sum(int(getattr(w.node, read)) for w in nodes)

        refused = CounterMetricFamily(
            "hotline_ivr_outbound_refused",
            "Outbound dials refused at HOTLINE_IVR_MAX_OUTBOUND (a queue dispatcher waiting for a "
            "free leg: once per episode).",
            labels=["reason"],
        )
        refused.add_metric(
            ["limit"], sum(_dialler_figure(w.node, "refused_over_limit") for w in nodes)
        )
        watches = [w for w in (getattr(n.node, "loop_watch", None) for n in nodes) if w is not None]
        families: list[Metric] = [
            refused,
            CounterMetricFamily(
                "hotline_ivr_sip_loop_stalls",
                "Times the node's SIP loop went over 0.5 s without a turn (each logged with where "
                "it was stuck); past 2 s Kamailio times INVITEs out.",
                value=sum(w.stalls_total for w in watches),
            ),
            GaugeMetricFamily(
                "hotline_ivr_sip_loop_turn_seconds_max",
                "The SIP loop's longest turn since the previous scrape (normally under 0.06 s).",
                value=max((w.take_max() for w in watches), default=0.0),
            ),
            CounterMetricFamily(
                "hotline_ivr_calls_answered",
                "Calls this IVR node answered (200 OK sent).",
                value=total("answered_total"),
            ),
            CounterMetricFamily(
                "hotline_ivr_calls_rejected_busy",
                "INVITEs refused with 503 because the node had its maximum of calls.",
                value=total("rejected_busy"),
            ),
            CounterMetricFamily(
                "hotline_ivr_acks_received",
                "ACKs received for the node's 200 OK answers.",
                value=total("acks_received"),
            ),
            GaugeMetricFamily(
                "hotline_ivr_active_calls",
                "Calls the node holds now (offered, ringing or answered).",
                value=total("active_calls"),
            ),
            GaugeMetricFamily(
                "hotline_ivr_max_calls",
                "The node's call limit (HOTLINE_IVR_MAX_CALLS).",
                value=sum(w.max_calls for w in nodes),
            ),
            CounterMetricFamily(
                "hotline_ivr_media_late_ticks",
                "Times the media process fell over 100 ms behind its 20 ms clock and skipped.",
                value=sum(w.late_ticks for w in nodes),
            ),
        ]
        histogram = np.zeros(0, dtype=np.int64)
        for watched in nodes:
            if watched.histogram.size > histogram.size:
                histogram = np.pad(histogram, (0, watched.histogram.size - histogram.size))
            histogram[: watched.histogram.size] += watched.histogram
        families.append(send_interval_family(histogram))
        return families


def _dialler_figure(node: object, name: str) -> int:
    """A figure of the node's ``NodeDialler`` (``node.dialler``); 0 for a node without one."""
    return int(getattr(getattr(node, "dialler", None), name, 0) or 0)


def send_interval_family(histogram: np.ndarray) -> HistogramMetricFamily:
    """The media process's 0.1 ms bins (bin i: [i/10, (i+1)/10) ms, the last one "200 ms or
    more") as cumulative Prometheus buckets in seconds; the sum takes each bin's middle."""
    counts = np.cumsum(histogram) if histogram.size else np.zeros(1, dtype=np.int64)
    count = int(counts[-1])
    buckets: list[tuple[str, float]] = []
    for tenths in BUCKET_TENTHS_MS:
        upto = min(tenths, histogram.size)
        buckets.append((f"{tenths / 10_000:g}", float(counts[upto - 1]) if upto else 0.0))
    buckets.append(("+Inf", float(count)))
    middles = (np.arange(histogram.size) + 0.5) / 10_000
    if histogram.size:
        middles[-1] = (histogram.size - 1) / 10_000  # the overflow bin: at least 200 ms
    total = float(np.dot(histogram, middles)) if histogram.size else 0.0
    return HistogramMetricFamily(
        "hotline_ivr_rtp_send_interval_seconds",
        "Interval between consecutive RTP packets of one call as sent (nominal 0.02 s; the "
        "spread is the send jitter).",
        buckets=buckets,
        sum_value=total,
    )


_COLLECTOR = IvrCollector()
_registered: set[int] = set()
_register_lock = threading.Lock()


def collector(registry: CollectorRegistry = REGISTRY) -> IvrCollector:
    """The process's one IVR collector, registered in ``registry`` on first use."""
    with _register_lock:
        if id(registry) not in _registered:
            registry.register(_COLLECTOR)
            _registered.add(id(registry))
    return _COLLECTOR


@contextlib.contextmanager
def exported(node: NodeFigures, max_calls: int | None = None) -> Iterator[None]:
    """The node's figures appear on /metrics while the block runs (``max_calls``: by default
    the node's ``options.max_calls``)."""
    if max_calls is None:
        options = getattr(node, "options", None)
        max_calls = int(getattr(options, "max_calls", 0))
    watching = collector()
    watching.watch(node, max_calls)
    try:
        yield
    finally:
        watching.forget(node)
