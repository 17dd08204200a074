"""Reading the IVR's recordings: 16-bit PCM mono WAV, possibly still being written.

A recording whose writer died (or is still writing) has a RIFF header that claims 0 or a stale
data size; the samples on disk are what counts, so the data chunk runs to the end of the file.
A call-taker's conversation is one stereo WAV (caller left, agent right), read one side at a
time. Anything else is refused with a reason the call-taker can read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np


class WavError(ValueError):
    """The file is missing, not a WAV, or in a format the ASR does not take."""


@dataclass(frozen=True)
class WavAudio:
    pcm16: bytes
    sample_rate: int

    @property
    def seconds(self) -> float:
        return len(self.pcm16) / 2 / self.sample_rate if self.sample_rate else 0.0


# A call-taker's conversation is recorded as one stereo WAV: the caller left, the agent right.
CHANNEL_INDEX = {"caller": 0, "agent": 1}


def read_wav(path: Path, channel: str = "mono") -> WavAudio:
    """A mono recording as it is; one side of a stereo one (``caller`` left, ``agent`` right).
    A mono file asked for a side gives the whole file (an IVR-only recording)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WavError(f"recording file not found: {path}") from None
    except OSError as exc:
        raise WavError(f"cannot read recording {path}: {exc.strerror or exc}") from exc
    return parse_wav(data, str(path), channel)


def parse_wav(data: bytes, name: str = "recording", channel: str = "mono") -> WavAudio:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError(f"{name}: not a WAV file (no RIFF/WAVE header)")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        size = struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise WavError(f"{name}: truncated fmt chunk")
            audio_format, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", data, body)
            fmt = (audio_format, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavError(f"{name}: data chunk before fmt chunk")
            _check_format(name, *fmt)
            # A header written before the end of the call says 0 (or too little): trust the disk.
            end = len(data) if size == 0 or body + size > len(data) else body + size
            pcm = data[body:end]
            channels = fmt[1]
            if channels == 2:
                return WavAudio(_one_side(pcm, name, channel), fmt[2])
            return WavAudio(pcm[: len(pcm) - len(pcm) % 2], fmt[2])
        pos = body + size + (size & 1)
    raise WavError(f"{name}: no audio data chunk")


def _check_format(name: str, audio_format: int, channels: int, rate: int, bits: int) -> None:
    # 0xFFFE (WAVE_FORMAT_EXTENSIBLE) may still carry plain PCM; accept it with the same checks.
    if audio_format not in (1, 0xFFFE):
        raise WavError(f"{name}: unsupported WAV encoding {audio_format} (expected 16-bit PCM)")
    if bits != 16:
        raise WavError(f"{name}: unsupported sample size {bits} bits (expected 16-bit PCM)")
    if channels not in (1, 2):
        raise WavError(f"{name}: {channels} channels (expected mono, or caller + agent stereo)")
    if not 4000 <= rate <= 192000:
        raise WavError(f"{name}: implausible sample rate {rate} Hz")


def _one_side(pcm: bytes, name: str, channel: str) -> bytes:
    if channel not in CHANNEL_INDEX:
        raise WavError(f"{name}: 2 channels: a conversation is decoded one side at a time")
    frames = len(pcm) // 4
    samples = np.frombuffer(pcm[: frames * 4], dtype="<i2").reshape(frames, 2)
    return samples[:, CHANNEL_INDEX[channel]].tobytes()


def write_stereo_wav(path: Path, left: bytes, right: bytes, sample_rate: int) -> None:
    """Two mono PCM buffers (the shorter padded with silence) as one stereo WAV (tests)."""
    size = max(len(left), len(right)) // 2
    frames = np.zeros((size, 2), dtype="<i2")
    frames[: len(left) // 2, 0] = np.frombuffer(left[: len(left) // 2 * 2], dtype="<i2")
    frames[: len(right) // 2, 1] = np.frombuffer(right[: len(right) // 2 * 2], dtype="<i2")
    pcm = frames.tobytes()
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 2, sample_rate, sample_rate * 4, 4, 16)
    header += b"data" + struct.pack("<I", len(pcm))
    path.write_bytes(header + pcm)


def write_wav(path: Path, pcm16: bytes, sample_rate: int) -> None:
    """A minimal 16-bit mono WAV writer (tests, benchmark and evaluation fixtures)."""
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm16)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", len(pcm16))
    path.write_bytes(header + pcm16)
