"""Where a job's audio comes from: the live Redis stream while the caller speaks, or the WAV file.

The stream is preferred (decoding as the caller speaks is what makes the transcript ready about
a second after the end of speech). The file is the durable copy, used when the stream is gone
(worker restart, expiry), was trimmed before this worker read it (MAXLEN, a long backlog), or
lost entries while this worker lagged behind it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from asr.wavfile import read_wav
from ticketing.audio_queue import AsrJob, AudioQueue

log = logging.getLogger(__name__)

FILE_PIECE_SECONDS = 0.5  # file audio is fed in pieces so a lost job is noticed quickly
READ_COUNT = 500  # stream entries per read: 10 s of 20 ms chunks when catching up


class JobLost(Exception):
    """Another worker took this job over (we were presumed dead): stop without storing."""


class StreamGap(Exception):
    """The stream was trimmed past what this worker had read: fall back to the file."""


@dataclass
class AudioEnd:
    source: str = "file"  # "stream" or "file"
    reason: str = "file"  # the IVR's end reason, "idle" when it never sent one, or "file"
    at: float | None = None  # Redis-clock time the IVR marked the end of audio
    saw_end: bool = False
    newest: float | None = None  # Redis-clock time the newest chunk handed out was appended
    seen: float | None = None  # this host's clock (time.time) when the end marker was read


def stream_is_whole(queue: AudioQueue, recording_id: int) -> bool:
    """True while the audio stream still holds every chunk ever appended (nothing trimmed)."""
    return queue.stream_is_whole(recording_id)


def wait_for_stream(
    queue: AudioQueue, job: AsrJob, *, grace_seconds: float, cancelled: Callable[[], bool]
) -> bool:
    """A streaming job may be claimed before the IVR's first chunk: wait a little for it."""
    if not job.streaming:
        return queue.audio_available(job.recording_id)
    deadline = time.monotonic() + grace_seconds
    while True:
        if queue.audio_available(job.recording_id):
            return True
        if time.monotonic() >= deadline or cancelled():
            return False
        time.sleep(0.2)


def wait_for_end(
    queue: AudioQueue,
    recording_id: int,
    *,
    idle_seconds: float,
    cancelled: Callable[[], bool],
) -> AudioEnd:
    """Follow the stream, not decoding, until the IVR marks the end (the file is then whole)."""
    end = AudioEnd()
    last = queue.last_audio(recording_id)
    if last is None:
        return end
    if last.end:
        _mark_end(end, last.entry_id, last.reason or "end")
        return end
    for _ in _entries(queue, recording_id, last.entry_id, idle_seconds, cancelled, end):
        pass
    end.source = "file"
    return end


def stream_pcm(
    queue: AudioQueue,
    recording_id: int,
    end: AudioEnd,
    *,
    idle_seconds: float,
    cancelled: Callable[[], bool],
) -> Iterator[bytes]:
    """PCM from the start of the stream as it arrives; fills ``end`` when the audio is over."""
    end.source = "stream"
    consumed = 0
    for count, pcm in _entries(queue, recording_id, "0-0", idle_seconds, cancelled, end):
        if consumed == 0 or count >= READ_COUNT:
            # First batch, or a full one (we lag behind the IVR): were unread entries trimmed?
            trimmed = queue.trimmed_count(recording_id)
            if trimmed > consumed:
                raise StreamGap(
                    f"recording {recording_id}: {trimmed} entries trimmed, {consumed} read"
                )
        consumed += count
        yield pcm


def _entries(
    queue: AudioQueue,
    recording_id: int,
    after: str,
    idle_seconds: float,
    cancelled: Callable[[], bool],
    end: AudioEnd,
) -> Iterator[tuple[int, bytes]]:
    """(entries in the batch, their PCM joined) until the end marker or ``idle_seconds`` of
    silence from the IVR."""
    last_audio = time.monotonic()
    while True:
        if cancelled():
            raise JobLost(f"recording {recording_id}: job taken over by another worker")
        chunks = queue.read_audio(recording_id, after, block_ms=250, count=READ_COUNT)
        if not chunks:
            if time.monotonic() - last_audio > idle_seconds:
                # The IVR died before marking the end: what arrived is all there will be.
                log.warning("recording %d: no audio for %.0f s, ending", recording_id, idle_seconds)
                end.reason = "idle"
                return
            continue
        last_audio = time.monotonic()
        batch: list[bytes] = []
        for chunk in chunks:
            if chunk.end:
                if batch:
                    end.newest = _entry_time(after)
                    yield len(batch), b"".join(batch)
                _mark_end(end, chunk.entry_id, chunk.reason or "end")
                return
            after = chunk.entry_id
            batch.append(chunk.pcm)
        end.newest = _entry_time(after)
        yield len(chunks), b"".join(batch)


def _mark_end(end: AudioEnd, entry_id: str, reason: str) -> None:
    end.saw_end = True
    end.seen = time.time()
    end.reason = reason
    end.at = _entry_time(entry_id)


def _entry_time(entry_id: str) -> float:
    return int(entry_id.split("-")[0]) / 1000  # the entry id is Redis' clock in ms


def file_pcm(
    path: Path, cancelled: Callable[[], bool], channel: str = "mono"
) -> tuple[int, Iterator[bytes]]:
    """(sample rate, PCM pieces) of a recording file, or of one side of a two-channel one;
    WavError when it is unusable."""
    audio = read_wav(path, channel)
    piece = int(FILE_PIECE_SECONDS * audio.sample_rate) * 2

    def pieces() -> Iterator[bytes]:
        for offset in range(0, len(audio.pcm16), piece):
            if cancelled():
                raise JobLost(f"{path}: job taken over by another worker")
            yield audio.pcm16[offset : offset + piece]

    return audio.sample_rate, pieces()
