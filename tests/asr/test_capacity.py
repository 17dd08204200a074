"""Slots from cores and measured cost; a call behind the caller stops the worker claiming more."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pytest
from prometheus_client import REGISTRY

from asr import capacity as capacity_module
from asr.capacity import (
    INITIAL_COST,
    MIN_MEASURED_AUDIO,
    Capacity,
    StreamWatch,
    recognizers_for,
)
from asr.job import JobSettings
from asr.recognizer import Partial
from asr.wavfile import WavAudio
from asr.worker import AsrWorker, WorkerConfig
from tests.asr.drafts import enqueue, new_draft, pending, running, status_is, wait_for
from tests.asr.test_sources import NoFields, Tape, TapeRecognizer
from ticketing.container import Services


def behind_metric() -> float | None:
    return REGISTRY.get_sample_value("hotline_asr_streams_behind")


def test_slots_follow_cores_and_the_measured_cost() -> None:
    cap = Capacity(2, max_slots=64)
    assert cap.cost == INITIAL_COST
    assert cap.slots == int(2 * 0.8 / INITIAL_COST)  # before anything is measured
    cap.record(cpu=MIN_MEASURED_AUDIO / 2, audio=MIN_MEASURED_AUDIO)  # 0.5 CPU s per audio s
    assert cap.cost == pytest.approx(0.5)
    assert cap.slots == 3  # 2 cores × 0.8 / 0.5
    assert REGISTRY.get_sample_value("hotline_asr_slots") == 3
    cap.record(cpu=0.0, audio=1000 * MIN_MEASURED_AUDIO)  # nearly free (silence, say)
    assert cap.slots == 64  # never more than the configured bound
    assert Capacity(1, initial_cost=5.0).slots == 1  # and never fewer than one


def test_a_little_measured_audio_only_moves_the_estimate_part_way() -> None:
    cap = Capacity(2)
    cap.record(cpu=MIN_MEASURED_AUDIO / 4, audio=MIN_MEASURED_AUDIO / 4)  # cost 1.0, a quarter
    assert cap.cost == pytest.approx(0.25 * 1.0 + 0.75 * INITIAL_COST)


def test_a_stream_falling_behind_is_reported_and_one_catching_up_is_not(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(capacity_module, "REPORT_SECONDS", 0.0)
    cap = Capacity(2)
    watch = StreamWatch(cap, "draft 690000017")
    with caplog.at_level(logging.WARNING, logger="asr.capacity"):
        watch.fed(0.01, 0.02, lag=0.1)
        assert cap.behind == 0
        watch.fed(0.01, 0.02, lag=3.5)  # more than BEHIND_SECONDS and growing
        assert cap.behind == 1
        assert behind_metric() == 1
    assert "draft 690000017: decoding 3.5 s behind the caller" in caplog.text
    watch.fed(0.01, 0.02, lag=3.2)  # catching up, but still late
    assert cap.behind == 1
    watch.fed(0.01, 0.02, lag=1.0)  # back within bounds
    assert cap.behind == 0
    assert behind_metric() == 0
    backlog = StreamWatch(cap, "draft 690000025")  # claimed from a backlog: starts late
    for lag in (12.0, 9.5, 7.0, 4.5, 2.0):
        backlog.fed(0.01, 0.02, lag=lag)
        assert cap.behind == 0, f"a stream catching up was reported behind at {lag} s"
    watch.fed(0.01, 0.02, lag=3.5)
    watch.fed(0.01, 0.02, lag=3.6)
    assert cap.behind == 1
    watch.close()
    assert cap.behind == 0


class SlowTape(TapeRecognizer):
    """Decodes at ``speed`` × real time (0.5: half as fast as the caller speaks)."""

    def __init__(self) -> None:
        super().__init__()
        self.speed = 0.5

    def open_stream(
        self, input_rate: int = 8000, *, partials: bool = True, live: bool = True
    ) -> Tape:
        return SlowStream(self)


class SlowStream(Tape):
    owner: SlowTape

    def accept(self, pcm16: bytes) -> Partial | None:
        time.sleep(len(pcm16) / 16000 / self.owner.speed)
        return super().accept(pcm16)


def feed(services: Services, recording_id: int, seconds: float, stop: threading.Event) -> None:
    """20 ms chunks in real time, as a caller speaks, until ``stop`` or ``seconds``."""
    began = time.monotonic()
    chunks = 0
    while not stop.is_set() and chunks * 0.02 < seconds:
        services.audio.append_audio(recording_id, b"\x01\x00" * 160)
        chunks += 1
        time.sleep(max(0.0, began + chunks * 0.02 - time.monotonic()))
    services.audio.end_audio(recording_id, "silence")


def test_a_worker_with_a_call_behind_claims_no_new_job_until_it_catches_up(
    asr_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capacity_module, "BEHIND_SECONDS", 0.5)
    monkeypatch.setattr(capacity_module, "REPORT_SECONDS", 0.2)
    tape = SlowTape()
    config = WorkerConfig(
        consumer="w1",
        concurrency=4,
        stats_seconds=0.5,
        job=JobSettings(stream_grace_seconds=2, stream_idle_seconds=10),
    )
    worker = AsrWorker(asr_services, tape, config, NoFields())
    assert worker.slots == 4  # room for more than one call
    first = new_draft(asr_services, "slow-1", WavAudio(b"\x00\x00" * 80, 8000))
    second = new_draft(asr_services, "slow-2", WavAudio(b"\x00\x00" * 80, 8000))
    stop = threading.Event()
    caller = threading.Thread(
        target=feed, args=(asr_services, first["recording_id"], 30.0, stop), daemon=True
    )
    with running(worker):
        enqueue(asr_services, first, streaming=True)
        caller.start()
        try:
            claims_while_behind(asr_services, worker, tape, second)
        finally:
            stop.set()
            caller.join()
        wait_for(status_is(asr_services, first, "done"), 20, "the first call")
    assert behind_metric() == 0


def claims_while_behind(
    asr_services: Services, worker: AsrWorker, tape: SlowTape, second: dict[str, Any]
) -> None:
    wait_for(lambda: worker.capacity.behind == 1, 15, "the slow call to fall behind")
    assert behind_metric() == 1
    time.sleep(0.7)  # a claim already waiting in XREADGROUP (block 500 ms) runs out
    enqueue(asr_services, second, streaming=False)
    time.sleep(1.5)  # a worker with free slots would have claimed it by now
    assert asr_services.audio.backlog()["waiting"] == 1  # left for a worker with room
    assert pending(asr_services) == 1
    tape.speed = 1000.0  # the host has CPU again: the call catches up
    wait_for(lambda: worker.capacity.behind == 0, 15, "the call to catch up")
    wait_for(status_is(asr_services, second, "done"), 15, "the second job")


def test_a_process_keeps_two_recognizers_per_core_unless_configured() -> None:
    # One per core made a third call speaking at once wait and catch up (p95 0.42-0.46 s vs the
    # plain-threads peer's 0.15-0.20 s max at 4 call-like calls on 2 cores; 0.09-0.11 s with 4).
    assert [recognizers_for(cores) for cores in (1, 2, 8)] == [2, 4, 16]
    assert recognizers_for(2, configured=3) == 3
    assert recognizers_for(0) == 2  # os.cpu_count() unknown
