"""Which audio a job is decoded from, checked with a recording fake engine (no Vosk): the live
stream when it is whole, else the WAV file — never a call with a hole in it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from asr.fields import DraftFields, FieldExtractor
from asr.job import JobSettings
from asr.recognizer import Partial, Result
from asr.wavfile import WavAudio
from asr.worker import AsrWorker, WorkerConfig
from config.settings import Settings
from tests.asr.drafts import (
    CHUNK,
    enqueue,
    new_draft,
    pending,
    running,
    status_is,
    stream,
    ticket,
    wait_for,
)
from ticketing.audio_queue import AUDIO_KEY, JOBS_GROUP, JOBS_STREAM
from ticketing.container import Services

SPEECH = WavAudio(bytes(range(256)) * 125, 8000)  # 2 s of "audio", each byte checkable


class TapeRecognizer:
    """Remembers the bytes each stream was fed; the transcript says how many."""

    def __init__(self) -> None:
        self.fed: list[bytes] = []

    @property
    def sample_rate(self) -> int:
        return 8000

    def open_stream(
        self, input_rate: int = 8000, *, partials: bool = True, live: bool = True
    ) -> Tape:
        return Tape(self)


class Tape:
    def __init__(self, owner: TapeRecognizer) -> None:
        self.owner, self.data = owner, bytearray()

    def accept(self, pcm16: bytes) -> Partial | None:
        self.data += pcm16
        return None

    def finish(self) -> Result:
        self.owner.fed.append(bytes(self.data))
        return Result(f"{len(self.data)} bytes", [], len(self.data) / 16000)

    def close(self) -> None:
        pass


class NoFields(FieldExtractor):
    def warm(self) -> None:
        pass

    def extract(
        self, text: str, *, asr_confidence: float, caller_phone: str | None, reference: str
    ) -> DraftFields:
        return DraftFields()


@pytest.fixture
def tape() -> TapeRecognizer:
    return TapeRecognizer()


@pytest.fixture
def worker(asr_services: Services, tape: TapeRecognizer) -> Iterator[AsrWorker]:
    config = WorkerConfig(
        consumer="w1",
        concurrency=2,
        reclaim_seconds=30,
        stats_seconds=0.5,
        job=JobSettings(stream_grace_seconds=1.0, stream_idle_seconds=1.5),
    )
    with running(AsrWorker(asr_services, tape, config, NoFields())) as started:
        yield started


def finish(services: Services, draft: dict[str, Any]) -> dict[str, Any]:
    wait_for(status_is(services, draft, "done", "failed"), 20, "the transcript")
    wait_for(lambda: pending(services) == 0, 5, "the acknowledgement")
    return ticket(services, draft)


def test_a_whole_stream_is_decoded_as_it_arrives(
    asr_services: Services, tape: TapeRecognizer, worker: AsrWorker
) -> None:
    draft = new_draft(asr_services, "c1", WavAudio(b"\x00\x00" * 10, 8000))  # file differs
    enqueue(asr_services, draft, streaming=True)
    stream(asr_services, draft["recording_id"], SPEECH.pcm16, speed=20)
    asr_services.audio.end_audio(draft["recording_id"], "silence")
    assert finish(asr_services, draft)["transcript"] == f"{len(SPEECH.pcm16)} bytes"
    assert tape.fed == [SPEECH.pcm16]


def test_stream_lost_means_the_file(
    asr_services: Services, tape: TapeRecognizer, worker: AsrWorker
) -> None:
    draft = new_draft(asr_services, "c2", SPEECH)
    enqueue(asr_services, draft, streaming=True)
    stream(asr_services, draft["recording_id"], SPEECH.pcm16[: 10 * CHUNK], speed=20)
    asr_services.audio.end_audio(draft["recording_id"], "stream_lost")
    finish(asr_services, draft)
    assert tape.fed[-1] == SPEECH.pcm16


def test_a_trimmed_stream_waits_for_the_end_then_reads_the_file(
    asr_services: Services, tape: TapeRecognizer, asr_settings: Settings
) -> None:
    draft = new_draft(asr_services, "c3", SPEECH)
    rid = draft["recording_id"]
    stream(asr_services, rid, SPEECH.pcm16, speed=50)
    asr_services.redis.xtrim(AUDIO_KEY.format(recording_id=rid), maxlen=5, approximate=False)
    enqueue(asr_services, draft, streaming=True)  # a backlog: the start is already gone
    config = WorkerConfig(
        consumer="w2", concurrency=1, job=JobSettings(stream_grace_seconds=1, stream_idle_seconds=5)
    )
    with running(AsrWorker(asr_services, tape, config, NoFields())):
        # Claimed, and waiting for the end (the start of the stream is gone).
        wait_for(status_is(asr_services, draft, "streaming"), 10, "the worker to claim the job")
        assert ticket(asr_services, draft)["asr_status"] == "streaming"
        asr_services.audio.end_audio(rid, "silence")
        finish(asr_services, draft)
    assert tape.fed == [SPEECH.pcm16]


def test_an_ivr_that_dies_without_an_end_marker_leaves_the_file(
    asr_services: Services, tape: TapeRecognizer, worker: AsrWorker
) -> None:
    draft = new_draft(asr_services, "c4", SPEECH)
    enqueue(asr_services, draft, streaming=True)
    stream(asr_services, draft["recording_id"], SPEECH.pcm16[: 10 * CHUNK], speed=20)
    began = time.monotonic()
    assert finish(asr_services, draft)["asr_status"] == "done"
    assert time.monotonic() - began >= 1.0  # after the idle delay, not at once
    assert tape.fed[-1] == SPEECH.pcm16


def test_a_streaming_job_whose_stream_never_comes_uses_the_file(
    asr_services: Services, tape: TapeRecognizer, worker: AsrWorker
) -> None:
    draft = new_draft(asr_services, "c5", SPEECH)
    enqueue(asr_services, draft, streaming=True)
    finish(asr_services, draft)
    assert tape.fed == [SPEECH.pcm16]


def test_a_job_taken_over_by_another_worker_is_dropped_unstored(
    asr_services: Services, tape: TapeRecognizer, worker: AsrWorker
) -> None:
    draft = new_draft(asr_services, "c6", SPEECH)
    enqueue(asr_services, draft, streaming=True)
    stream(asr_services, draft["recording_id"], SPEECH.pcm16[: 4 * CHUNK], speed=20)
    wait_for(status_is(asr_services, draft, "streaming"), 5, "decoding to start")
    # Another worker believed w1 dead and took the job over.
    claimed = asr_services.audio.reclaim_stale("w-other", min_idle_ms=0)
    assert claimed is not None
    worker._heartbeat()
    wait_for(lambda: worker.stats.snapshot(0)["lost"] == 1, 5, "w1 to let go")
    assert ticket(asr_services, draft)["asr_status"] == "streaming"  # w1 stored nothing
    assert tape.fed == []
    assert pending(asr_services) == 1  # still the other worker's to finish


def test_concurrent_calls_are_decoded_side_by_side(
    asr_services: Services, tape: TapeRecognizer, worker: AsrWorker
) -> None:
    drafts = [new_draft(asr_services, f"p{n}", SPEECH) for n in range(2)]
    for draft in drafts:
        enqueue(asr_services, draft, streaming=True)
    senders = [
        threading.Thread(target=stream, args=(asr_services, d["recording_id"], SPEECH.pcm16))
        for d in drafts
    ]
    for sender in senders:
        sender.start()
    # Both claimed at once: neither can be acknowledged before its end_audio below.
    wait_for(lambda: pending(asr_services) == 2, 10, "both jobs to be claimed")
    assert worker.stats.snapshot(0)["consumer"] == "w1"
    in_flight = asr_services.redis.xpending(JOBS_STREAM, JOBS_GROUP)["pending"]
    assert in_flight == 2  # both claimed while both calls are still going on
    for sender in senders:
        sender.join()
    for draft in drafts:
        asr_services.audio.end_audio(draft["recording_id"], "silence")
    for draft in drafts:
        finish(asr_services, draft)
    assert sorted(tape.fed) == [SPEECH.pcm16, SPEECH.pcm16]


class ChattyTape(TapeRecognizer):
    def open_stream(
        self, input_rate: int = 8000, *, partials: bool = True, live: bool = True
    ) -> Tape:
        return ChattyStream(self)


class ChattyStream(Tape):
    def accept(self, pcm16: bytes) -> Partial | None:
        super().accept(pcm16)
        return Partial(f"{len(self.data)} so far")


def test_text_so_far_is_published_when_enabled(
    asr_services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("asr.job.PUBLISH_PARTIALS", True)
    monkeypatch.setattr("asr.job.PROGRESS_SECONDS", 0.0)
    draft = new_draft(asr_services, "c7", SPEECH)
    config = WorkerConfig(consumer="w3", concurrency=1)
    with running(AsrWorker(asr_services, ChattyTape(), config, NoFields())):
        enqueue(asr_services, draft, streaming=True)
        stream(asr_services, draft["recording_id"], SPEECH.pcm16[: 10 * CHUNK], speed=10)
        so_far = wait_for(
            lambda: (ticket(asr_services, draft)["transcript"] or "").endswith("so far"),
            5,
            "the text so far",
        )
        assert so_far
        assert ticket(asr_services, draft)["asr_status"] == "streaming"
        asr_services.audio.end_audio(draft["recording_id"], "silence")
        stored = finish(asr_services, draft)
    assert stored["transcript"] == f"{10 * CHUNK} bytes"  # the final text replaces it
