"""Prompt audio in memory: every prompt of the manifest read once per process as raw PCM.

Files must be 8 kHz 16-bit mono WAV (what ``hotline1567 prompts build`` writes; studio recordings
are converted with sox to the same format). The beep and a short pause are generated in code.
"""

from __future__ import annotations

import logging
import math
import wave
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from ivr.channel import SAMPLE_RATE, SAMPLE_WIDTH
from ivr.prompts import speech
from ivr.prompts.manifest import PromptManifest

log = logging.getLogger(__name__)

BEEP_HZ = 1000
BEEP_SECONDS = 0.4
PAUSE_SECONDS = 0.3


class PromptError(RuntimeError):
    """A prompt file is missing or not in the format the IVR plays."""


def beep_pcm(seconds: float = BEEP_SECONDS, hz: int = BEEP_HZ, level: float = 0.3) -> bytes:
    """A sine tone with 10 ms fades, so it does not click."""
    count = int(SAMPLE_RATE * seconds)
    fade = SAMPLE_RATE // 100
    out = bytearray()
    for n in range(count):
        gain = min(1.0, n / fade, (count - 1 - n) / fade)
        value = int(32767 * level * gain * math.sin(2 * math.pi * hz * n / SAMPLE_RATE))
        out += value.to_bytes(2, "little", signed=True)
    return bytes(out)


def hold_music_pcm() -> bytes:
    """A calm chime loop (about 6 s; soft, never silence) for callers waiting in the queue."""
    notes = (523, 659, 784, 659, 587, 698, 880, 698)  # C5 E5 G5 E5 / D5 F5 A5 F5
    out = bytearray()
    for hz in notes:
        out += beep_pcm(0.55, hz, level=0.06) + silence_pcm(0.2)
    return bytes(out)


def silence_pcm(seconds: float) -> bytes:
    return bytes(int(SAMPLE_RATE * seconds) * SAMPLE_WIDTH)


class PromptLibrary:
    def __init__(self, audio: dict[str, bytes]) -> None:
        self._audio = dict(audio)
        self._audio.setdefault("beep", beep_pcm())
        self._audio.setdefault("pause", silence_pcm(PAUSE_SECONDS))
        self._audio.setdefault("hold_music", hold_music_pcm())

    @classmethod
    def load(cls, directory: Path, manifest: PromptManifest) -> PromptLibrary:
        missing: list[str] = []
        audio: dict[str, bytes] = {}
        for entry in manifest.entries.values():
            path = directory / entry.file
            if not path.exists():
                missing.append(f"{entry.id} ({path})")
                continue
            audio[entry.id] = read_prompt_wav(path, entry.id)
        if missing:
            shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise PromptError(
                f"{len(missing)} prompt file(s) missing in {directory}: {shown}; "
                "run `hotline1567 prompts build` to render them"
            )
        log.info("loaded %d prompts from %s", len(audio), directory)
        return cls(audio)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._audio)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._audio

    def pcm(self, prompt_id: str) -> bytes:
        return self._audio[prompt_id]

    def join(self, prompt_ids: Iterable[str]) -> bytes:
        """The audio of a sequence; an unknown id is skipped (the flow was checked at start-up,
        so this only protects a live call from a bug)."""
        parts = []
        for prompt_id in prompt_ids:
            pcm = self._audio.get(prompt_id)
            if pcm is None:
                log.error("prompt %r is not loaded; skipped", prompt_id)
                continue
            parts.append(pcm)
        return b"".join(parts)

    @staticmethod
    def sequence_for_reference(reference: str) -> list[str]:
        return speech.sequence_for_reference(reference)

    @staticmethod
    def sequence_for_date(day: date) -> list[str]:
        return speech.sequence_for_date(day)


def read_prompt_wav(path: Path, prompt_id: str) -> bytes:
    try:
        with wave.open(str(path), "rb") as wav:
            shape = (wav.getframerate(), wav.getsampwidth(), wav.getnchannels())
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise PromptError(f"prompt {prompt_id}: {path}: not a readable WAV file: {exc}") from exc
    if shape != (SAMPLE_RATE, SAMPLE_WIDTH, 1):
        rate, width, channels = shape
        raise PromptError(
            f"prompt {prompt_id}: {path}: expected 8000 Hz 16-bit mono, got {rate} Hz "
            f"{width * 8}-bit {channels} channel(s); convert it with "
            f"`sox IN.wav -r 8000 -c 1 -b 16 -e signed-integer {path.name}`"
        )
    return frames
