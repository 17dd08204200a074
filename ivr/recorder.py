"""The caller's recording: a WAV file written as audio arrives, and an energy speech detector.

The file is the durable copy of a complaint (Redis only carries a bounded stream for live ASR),
so it is flushed about every second with its header sizes updated: a crashed process leaves a
playable WAV missing at most the last second.
"""

from __future__ import annotations

import logging
import os
import re
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ivr.channel import FRAME_BYTES, SAMPLE_RATE, SAMPLE_WIDTH
from ivr.flow.events import StartRecording

log = logging.getLogger(__name__)

_HEADER_BYTES = 44
WALL_CLOCK_SLACK = 5.0  # a recording's wall time may exceed its audio time (lost RTP) by this
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


def recording_path(recordings_dir: Path, call_id: str, now: datetime | None = None) -> Path:
    """``recordings/YYYY/MM/DD/<call id>.wav`` (UTC date, like every time the system stores);
    a second recording in the same call gets ``-2``, ``-3`` ..."""
    moment = now or datetime.now(UTC)
    folder = recordings_dir / f"{moment:%Y}" / f"{moment:%m}" / f"{moment:%d}"
    stem = _SAFE_NAME.sub("_", call_id) or "call"
    path = folder / f"{stem}.wav"
    counter = 2
    while path.exists():
        path = folder / f"{stem}-{counter}.wav"
        counter += 1
    return path


def _header(data_bytes: int, channels: int = 1) -> bytes:
    byte_rate = SAMPLE_RATE * SAMPLE_WIDTH * channels
    align = SAMPLE_WIDTH * channels
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data_bytes)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, SAMPLE_RATE, byte_rate, align, 16)
        + b"data"
        + struct.pack("<I", data_bytes)
    )


class WavWriter:
    """16-bit PCM 8 kHz WAV, appended incrementally: mono, or stereo with interleaved frames
    (``channels=2``: the conversation, caller left and agent right)."""

    def __init__(self, path: Path, *, flush_seconds: float = 1.0, channels: int = 1) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.channels = channels
        self._file: BinaryIO | None = path.open("xb")  # never clobber another call's file
        self._file.write(_header(0, channels))
        self._data_bytes = 0
        self._unflushed = 0
        self._flush_bytes = int(SAMPLE_RATE * SAMPLE_WIDTH * channels * flush_seconds)

    @property
    def seconds(self) -> float:
        return self._data_bytes / (SAMPLE_RATE * SAMPLE_WIDTH * self.channels)

    @property
    def closed(self) -> bool:
        return self._file is None

    def write(self, pcm16: bytes) -> None:
        if self._file is None or not pcm16:
            return
        frame = SAMPLE_WIDTH * self.channels
        if len(pcm16) % frame:
            pcm16 = pcm16[: len(pcm16) - len(pcm16) % frame]
        self._file.write(pcm16)
        self._data_bytes += len(pcm16)
        self._unflushed += len(pcm16)
        if self._unflushed >= self._flush_bytes:
            self.flush()

    def flush(self) -> None:
        if self._file is None:
            return
        self._write_sizes()
        self._file.flush()
        self._unflushed = 0

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self._write_sizes()
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
            self._file = None

    def _write_sizes(self) -> None:
        assert self._file is not None
        self._file.seek(4)
        self._file.write(struct.pack("<I", 36 + self._data_bytes))  # the header is 44 bytes
        self._file.seek(40)
        self._file.write(struct.pack("<I", self._data_bytes))
        self._file.seek(0, os.SEEK_END)


def repair_wav(path: Path) -> float | None:
    """Make a WAV left behind by a crashed node whole: header sizes from the bytes on disk (an odd
    trailing byte dropped). Returns its length in seconds, or None when there is no such WAV."""
    try:
        with path.open("r+b") as handle:
            head = handle.read(_HEADER_BYTES)
            if len(head) < _HEADER_BYTES or head[:4] != b"RIFF" or head[36:40] != b"data":
                log.error("%s is not a recording this node wrote; left as it is", path)
                return None
            channels = max(1, struct.unpack("<H", head[22:24])[0])  # stereo: a conversation
            data_bytes = handle.seek(0, os.SEEK_END) - _HEADER_BYTES
            data_bytes -= data_bytes % (SAMPLE_WIDTH * channels)
            handle.truncate(_HEADER_BYTES + data_bytes)
            handle.seek(0)
            handle.write(_header(data_bytes, channels))
            handle.flush()
            os.fsync(handle.fileno())
    except FileNotFoundError:
        return None
    return data_bytes / (SAMPLE_RATE * SAMPLE_WIDTH * channels)


def level_threshold(dbfs: float) -> float:
    """RMS amplitude of a 16-bit sample stream at the given level below full scale."""
    return float(32768 * 10 ** (dbfs / 20))


class SpeechDetector:
    """Energy-based VAD over 20 ms frames, counted in audio time (not wall time) so that it
    behaves the same under load and in tests.

    Speech starts after ``start_frames`` loud frames in a row (a click is not speech); silence is
    measured from the last loud frame.
    """

    def __init__(self, level_dbfs: float = -40.0, *, start_frames: int = 3) -> None:
        self._threshold = level_threshold(level_dbfs)
        self._start_frames = start_frames
        self._run = 0
        self._pending = b""
        self.frames = 0
        self.speech_started = False
        self._last_loud_frame = 0

    @property
    def seconds(self) -> float:
        return self.frames * FRAME_BYTES / (SAMPLE_RATE * SAMPLE_WIDTH)

    @property
    def silence_seconds(self) -> float:
        """Seconds since the caller last spoke (0 before speech started)."""
        if not self.speech_started:
            return 0.0
        return (self.frames - self._last_loud_frame) * FRAME_BYTES / (SAMPLE_RATE * SAMPLE_WIDTH)

    def feed(self, pcm16: bytes) -> bool:
        """Consume audio; returns True when speech starts within it."""
        data = self._pending + pcm16
        usable = len(data) - len(data) % FRAME_BYTES
        self._pending = data[usable:]
        if not usable:
            return False
        samples = np.frombuffer(data[:usable], dtype="<i2").astype(np.float32)
        frames = samples.reshape(-1, FRAME_BYTES // SAMPLE_WIDTH)
        rms = np.sqrt(np.mean(frames * frames, axis=1))
        started = False
        for loud in rms > self._threshold:
            self.frames += 1
            if loud:
                self._run += 1
                if self.speech_started:
                    self._last_loud_frame = self.frames
                elif self._run >= self._start_frames:
                    self.speech_started = started = True
                    self._last_loud_frame = self.frames
            else:
                self._run = 0
        return started


@dataclass
class ActiveRecording:
    """A recording under way in a call: its file, its speech detector, its rows and stream."""

    purpose: str
    writer: WavWriter | None
    path: str  # relative to the data dir, as stored
    detector: SpeechDetector
    limits: StartRecording
    started_at: float
    recording_id: int | None = None
    ticket_id: int | None = None
    reference: str | None = None
    job_enqueued: bool = False
    streaming: bool = False  # audio chunks are going to Redis
    stream_broken: bool = False
    batch: bytearray = field(default_factory=bytearray)
    vad_pending: bytearray = field(default_factory=bytearray)
    ended_reported: bool = False
    write_error: str | None = None  # the file could not be created or written

    def limit_reached(self, now: float) -> str | None:
        """Why the recording must end now ('max_length', 'silence', 'no_speech'), or None."""
        detector, limits = self.detector, self.limits
        if detector.seconds >= limits.max_seconds:
            return "max_length"
        if now - self.started_at >= limits.max_seconds + WALL_CLOCK_SLACK:
            return "max_length"
        if detector.speech_started and detector.silence_seconds >= limits.silence_seconds:
            return "silence"
        if not detector.speech_started and detector.seconds >= limits.no_speech_seconds:
            return "no_speech"
        return None
