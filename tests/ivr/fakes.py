"""An in-memory CallChannel driven by a scripted caller, in virtual or real time.

Virtual time (the default) makes a five-minute call run in milliseconds: every blocking read
advances a shared clock instead of sleeping, and the session runner reads the same clock. Real
time (``realtime=True``) sleeps like a real channel; the CPU bench uses it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ivr.channel import FRAME_BYTES, FRAME_MS, SAMPLE_RATE, SAMPLE_WIDTH, CallEnded
from ivr.prompts.library import PromptLibrary, beep_pcm
from ivr.prompts.manifest import PromptManifest

BYTES_PER_SECOND = SAMPLE_RATE * SAMPLE_WIDTH


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


@dataclass
class Caller:
    """What the caller does, in seconds from the answer."""

    keys: Sequence[tuple[float, str]] = ()
    speech: Sequence[tuple[float, float]] = ()  # (start, end) of loud speech-like audio
    hangup_at: float | None = None
    number: str | None = "0812345678"


def _frame(loud: bool, index: int) -> bytes:
    """20 ms of a 300 Hz tone at about -12 dBFS (speech) or faint noise near -66 dBFS."""
    n = np.arange(index * 160, (index + 1) * 160)
    if loud:
        samples = 8000 * np.sin(2 * np.pi * 300 * n / SAMPLE_RATE)
    else:
        samples = 16 * np.sin(2 * np.pi * 50 * n / SAMPLE_RATE)
    return samples.astype("<i2").tobytes()


_LOUD = [_frame(True, i) for i in range(50)]
_QUIET = _frame(False, 0)


@dataclass
class FakeChannel:
    caller: Caller
    call_id: str = "call-1"
    sip_call_id: str = "sip-1@test"
    realtime: bool = False
    clock: VirtualClock = field(default_factory=VirtualClock)
    plays: list[tuple[float, int]] = field(default_factory=list)  # (time, bytes) per play()
    stops: int = 0
    hung_up_by_ivr: bool = False
    _ended: bool = False
    _end_reason: str | None = None
    _play_until: float = 0.0
    _audio_frames: int = 0  # caller frames delivered so far
    _keys_sent: int = 0
    _t0: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._t0 = time.monotonic() if self.realtime else 0.0

    # --- time -----------------------------------------------------------------------------
    def now(self) -> float:
        return time.monotonic() - self._t0 if self.realtime else self.clock.now

    def monotonic(self) -> float:
        """The clock to give the session runner."""
        return self.now()

    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self.realtime:
            time.sleep(seconds)
        else:
            self.clock.advance(seconds)

    def _check_hangup(self) -> None:
        if self._ended:
            raise CallEnded(self._end_reason)
        hangup = self.caller.hangup_at
        # Deliver the audio up to the hang-up before reporting it, as a real channel does.
        if (
            hangup is not None
            and self.now() >= hangup
            and self._audio_frames * FRAME_MS / 1000 >= hangup - FRAME_MS / 1000
        ):
            self._ended, self._end_reason = True, "bye"
            raise CallEnded("bye")

    # --- CallChannel ----------------------------------------------------------------------
    @property
    def caller_number(self) -> str | None:
        return self.caller.number

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def end_reason(self) -> str | None:
        return self._end_reason

    def play(self, pcm16: bytes) -> None:
        now = self.now()
        self.plays.append((now, len(pcm16)))
        self._play_until = max(now, self._play_until) + len(pcm16) / BYTES_PER_SECOND

    def stop_playback(self) -> None:
        self.stops += 1
        self._play_until = self.now()

    def playback_pending(self) -> float:
        return max(0.0, self._play_until - self.now())

    def read_audio(self, timeout: float) -> bytes:
        self._check_hangup()
        self._wait(timeout)
        now = self.now()
        hangup = self.caller.hangup_at
        if hangup is not None:
            now = min(now, hangup)
        due = int(now * 1000 // FRAME_MS)
        out = bytearray()
        while self._audio_frames < due:
            t = self._audio_frames * FRAME_MS / 1000
            loud = any(start <= t < end for start, end in self.caller.speech)
            out += _LOUD[self._audio_frames % 50] if loud else _QUIET
            self._audio_frames += 1
        return bytes(out)

    def next_dtmf(self, timeout: float) -> str | None:
        self._check_hangup()
        deadline = self.now() + timeout
        while True:
            if self._keys_sent < len(self.caller.keys):
                at, key = self.caller.keys[self._keys_sent]
                if at <= self.now():
                    self._keys_sent += 1
                    return key
                wait = min(at, deadline) - self.now()
            else:
                wait = deadline - self.now()
            hangup = self.caller.hangup_at
            if hangup is not None:
                wait = min(wait, hangup - self.now())
            if wait <= 0:
                self._check_hangup()
                return None
            self._wait(wait)

    def hangup(self) -> None:
        if not self._ended:
            self.hung_up_by_ivr = True
            self._ended, self._end_reason = True, "hangup"

    # --- for assertions ---------------------------------------------------------------------
    def beep_times(self) -> list[float]:
        size = len(beep_pcm())
        return [t for t, n in self.plays if n == size]


def fake_prompts(manifest: PromptManifest | None = None, seconds: float = 0.25) -> PromptLibrary:
    """Every prompt as a short stretch of silence (or the given ids)."""
    ids = manifest.entries if manifest is not None else {}
    pcm = bytes(int(BYTES_PER_SECOND * seconds) // FRAME_BYTES * FRAME_BYTES)
    return PromptLibrary({prompt_id: pcm for prompt_id in ids})
