"""Helpers for the worker tests: drafts as the IVR makes them, an IVR-like audio producer,
a worker running in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from asr.wavfile import WavAudio, write_wav
from asr.worker import AsrWorker
from ticketing.audio_queue import JOBS_GROUP, JOBS_STREAM, AsrJob
from ticketing.container import Services

CHUNK = 320  # 20 ms at 8 kHz, as the IVR sends it


def new_draft(services: Services, call_id: str, audio: WavAudio | bytes | None) -> dict[str, Any]:
    """A draft as the IVR makes it: call row, recording row, draft ticket, WAV file."""
    relative = f"recordings/{call_id}.wav"
    path = services.settings.data_dir / relative
    if isinstance(audio, WavAudio):
        write_wav(path, audio.pcm16, audio.sample_rate)
    elif isinstance(audio, bytes):
        path.write_bytes(audio)
    services.calls.start_call(call_id, caller_number="0812345678", node="test")
    recording_id, ticket = services.calls.start_recording(call_id, relative)
    return {"recording_id": recording_id, "ticket": ticket, "path": relative}


def enqueue(services: Services, draft: dict[str, Any], *, streaming: bool) -> None:
    services.audio.enqueue_job(
        AsrJob(
            recording_id=draft["recording_id"],
            ticket_id=draft["ticket"]["id"],
            call_id=None,
            path=draft["path"],
            sample_rate=8000,
            streaming=streaming,
        )
    )


def stream(services: Services, recording_id: int, pcm: bytes, *, speed: float = 4.0) -> None:
    """Send 20 ms chunks ``speed`` times faster than real time."""
    for offset in range(0, len(pcm), CHUNK):
        services.audio.append_audio(recording_id, pcm[offset : offset + CHUNK])
        time.sleep(0.02 / speed)


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def ticket(services: Services, draft: dict[str, Any]) -> dict[str, Any]:
    return services.tickets.get(draft["ticket"]["reference"])


def status_is(services: Services, draft: dict[str, Any], *statuses: str) -> Callable[[], bool]:
    return lambda: ticket(services, draft)["asr_status"] in statuses


@contextmanager
def running(worker: AsrWorker) -> Iterator[AsrWorker]:
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(timeout=20)
        assert not thread.is_alive(), "worker did not stop"


def pending(services: Services) -> int:
    return int(services.redis.xpending(JOBS_STREAM, JOBS_GROUP)["pending"])
