"""The IVR node's own figures on the ivr role's /metrics: read from the node at scrape time."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest

from ivr.channel import CallChannel, CallEnded
from ivr.metrics import IvrCollector, exported, send_interval_family
from ivr.sip.media_client import SendStats
from tests.ivr.sip.sipkit import running_node, sipp, tone
from tests.ops.probes import get, metric_families, promtool_check
from ticketing.observability import ObservabilityServer, Readiness

BINS = 2001  # the media process's histogram: 0.1 ms bins up to 200 ms, then "200 ms or more"


@dataclass
class FakeMedia:
    """Stands in for MediaClient at the seam: each read returns the next histogram, then resets."""

    reads: list[np.ndarray] = field(default_factory=list)
    late_ticks: int = 0
    down: bool = False

    def send_stats(self, timeout: float = 2.0) -> SendStats:
        if self.down:
            raise RuntimeError("media process restarting")
        fresh = self.reads.pop(0) if self.reads else np.zeros(BINS, dtype=np.int64)
        return SendStats(fresh)


@dataclass
class FakeNode:
    media: FakeMedia
    active_calls: int = 0
    answered_total: int = 0
    rejected_busy: int = 0
    acks_received: int = 0


def _bins(**intervals: int) -> np.ndarray:
    """A histogram from {"ms200": count}: ``ms200`` = 20.0 ms, ``ms195`` = 19.5 ms, ..."""
    histogram = np.zeros(BINS, dtype=np.int64)
    for name, count in intervals.items():
        histogram[int(name.removeprefix("ms"))] += count
    return histogram


def _scrape(registry: CollectorRegistry) -> dict[str, Any]:
    return metric_families(generate_latest(registry).decode())


def _sample(families: dict[str, Any], family: str, name: str, **labels: str) -> float:
    for sample in families[family].samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return float(sample.value)
    raise AssertionError(f"no sample {name} {labels} in {families[family].samples}")


def test_counters_and_the_send_interval_histogram_accumulate_across_scrapes() -> None:
    media = FakeMedia(reads=[_bins(ms199=90, ms200=8, ms2000=2), _bins(ms210=10)])
    node = FakeNode(media, active_calls=3, answered_total=7, rejected_busy=2, acks_received=7)
    registry = CollectorRegistry()
    collector = IvrCollector()
    registry.register(collector)
    collector.watch(node, max_calls=150)

    first = _scrape(registry)
    assert _sample(first, "hotline_ivr_calls_answered", "hotline_ivr_calls_answered_total") == 7
    assert (
        _sample(first, "hotline_ivr_calls_rejected_busy", "hotline_ivr_calls_rejected_busy_total")
        == 2
    )
    assert _sample(first, "hotline_ivr_acks_received", "hotline_ivr_acks_received_total") == 7
    assert _sample(first, "hotline_ivr_active_calls", "hotline_ivr_active_calls") == 3
    assert _sample(first, "hotline_ivr_max_calls", "hotline_ivr_max_calls") == 150
    family, bucket = (
        "hotline_ivr_rtp_send_interval_seconds",
        "hotline_ivr_rtp_send_interval_seconds",
    )
    assert _sample(first, family, f"{bucket}_bucket", le="0.0195") == 0
    assert _sample(first, family, f"{bucket}_bucket", le="0.02") == 90  # 19.9 ms
    assert _sample(first, family, f"{bucket}_bucket", le="0.0205") == 98  # and 20.0 ms
    assert _sample(first, family, f"{bucket}_bucket", le="0.2") == 98  # 200 ms+ only in +Inf
    assert _sample(first, family, f"{bucket}_bucket", le="+Inf") == 100
    assert _sample(first, family, f"{bucket}_count") == 100
    expected_sum = 90 * 0.01995 + 8 * 0.02005 + 2 * 0.2
    assert _sample(first, family, f"{bucket}_sum") == pytest.approx(expected_sum)

    media.late_ticks = 4
    second = _scrape(registry)  # the media process reset its histogram: the totals only grow
    assert _sample(second, family, f"{bucket}_count") == 110
    assert _sample(second, family, f"{bucket}_bucket", le="0.022") == 108
    assert (
        _sample(second, "hotline_ivr_media_late_ticks", "hotline_ivr_media_late_ticks_total") == 4
    )

    media.down, media.late_ticks = True, 0
    third = _scrape(registry)  # a restarting media process: no new data, nothing lost
    assert _sample(third, family, f"{bucket}_count") == 110
    checked = promtool_check(generate_latest(registry).decode())
    assert checked.returncode == 0, checked.stdout + checked.stderr

    collector.forget(node)
    assert _sample(_scrape(registry), "hotline_ivr_active_calls", "hotline_ivr_active_calls") == 0


def test_an_empty_histogram_is_valid_text() -> None:
    family = send_interval_family(np.zeros(0, dtype=np.int64))
    assert [s.value for s in family.samples if s.name.endswith("_count")] == [0.0]


def _playing_flow(channel: CallChannel) -> None:
    channel.play(tone(1.5))
    try:
        while True:
            channel.read_audio(0.05)
    except CallEnded:
        pass


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.slow
def test_a_node_metrics_endpoint_counts_a_real_call_and_a_busy_rejection() -> None:
    readiness = Readiness(lambda: None, lambda: None)  # the probes are not under test here
    with running_node(_playing_flow, extra={"HOTLINE_IVR_MAX_CALLS": "1"}) as node:
        sip = ("127.0.0.1", node.node.settings.sip_port)
        server = ObservabilityServer("127.0.0.1", 0, readiness, role="ivr")
        server.start()
        try:
            with exported(node.node):
                host, port = server.address
                url = f"http://{host}:{port}/metrics"
                first = sipp("uac.xml", sip, hold_ms=2500, background=True)
                assert isinstance(first, subprocess.Popen)
                _wait_for(lambda: node.node.active_calls == 1, "the first call")
                during = metric_families(get(url)[2])
                assert during["hotline_ivr_active_calls"].samples[0].value == 1
                busy = sipp("uac.xml", sip, hold_ms=100, timeout=10)  # over the limit: 503
                assert busy.returncode != 0
                first.communicate(timeout=30)
                assert first.returncode == 0
                node.wait_idle()
                status, _content_type, body = get(url)
        finally:
            server.stop()
    assert status == 200
    families = metric_families(body)

    def value(family: str, suffix: str = "_total") -> float:
        return _sample(families, family, family + suffix)

    assert value("hotline_ivr_calls_answered") == 1
    assert value("hotline_ivr_calls_rejected_busy") == 1
    assert value("hotline_ivr_acks_received") == 1
    assert value("hotline_ivr_active_calls", "") == 0
    assert value("hotline_ivr_max_calls", "") == 1
    sent = value("hotline_ivr_rtp_send_interval_seconds", "_count")
    assert sent > 50  # 1.5 s of prompt = 75 packets, less the first of the stream
    within = _sample(
        families,
        "hotline_ivr_rtp_send_interval_seconds",
        "hotline_ivr_rtp_send_interval_seconds_bucket",
        le="0.025",
    )
    assert within / sent > 0.9  # paced at 20 ms on a machine shared with other test runs
    assert "process_cpu_seconds" in families  # the role's default registry, as before
    checked = promtool_check(body)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_sip_loops_stalls_and_longest_turn_since_the_last_scrape() -> None:
    from ivr.sip.loop_watch import LoopWatch

    class Clock:
        now = 10.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    watch = LoopWatch("node t", threshold=0.5, clock=clock)
    node = FakeNode(FakeMedia())
    node.loop_watch = watch  # type: ignore[attr-defined]
    registry = CollectorRegistry()
    collector = IvrCollector()
    registry.register(collector)
    collector.watch(node)
    watch.beat()
    clock.now += 0.9
    watch.check()  # a 0.9 s stall, logged and counted
    watch.beat()
    first = _scrape(registry)
    assert _sample(first, "hotline_ivr_sip_loop_stalls", "hotline_ivr_sip_loop_stalls_total") == 1
    turn = ("hotline_ivr_sip_loop_turn_seconds_max", "hotline_ivr_sip_loop_turn_seconds_max")
    assert _sample(first, *turn) == pytest.approx(0.9)
    clock.now += 0.05
    watch.beat()
    second = _scrape(registry)  # the window starts afresh at each scrape; the count only grows
    assert _sample(second, *turn) == pytest.approx(0.05)
    assert _sample(second, "hotline_ivr_sip_loop_stalls", "hotline_ivr_sip_loop_stalls_total") == 1
