"""The speech-recognizer seam: what the worker, the evaluator and the benchmark decode through.

Only ``asr/vosk_backend.py`` knows about Vosk; everything else speaks these types, so tests and
other engines plug in here (the httpx "transport is an interface" habit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


class RecognizerError(RuntimeError):
    """The engine could not load a model or decode audio; the message says what and where."""


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from the start of the stream
    end: float
    conf: float  # 0..1, the engine's posterior for this word

    def to_dict(self) -> dict[str, Any]:
        return {"word": self.word, "start": self.start, "end": self.end, "conf": self.conf}


@dataclass(frozen=True)
class Partial:
    """The best guess so far; may still change as more audio arrives."""

    text: str


@dataclass(frozen=True)
class Result:
    text: str
    words: list[Word] = field(default_factory=list)
    audio_seconds: float = 0.0  # input audio fed to the stream

    @property
    def mean_confidence(self) -> float:
        """Average word confidence (1.0 for an empty transcript: nothing to doubt)."""
        if not self.words:
            return 1.0
        return sum(w.conf for w in self.words) / len(self.words)


class Stream(Protocol):
    def accept(self, pcm16: bytes) -> Partial | None:
        """Feed 16-bit little-endian mono PCM at the stream's input rate; a partial result now
        and then (None between them, so callers do not pay for a partial on every chunk)."""
        ...

    def finish(self) -> Result:
        """Flush the audio still buffered and return the whole call's transcript."""
        ...

    def close(self) -> None:
        """Abandon the stream (no-op after ``finish``): engine resources go back at once."""
        ...


class Recognizer(Protocol):
    @property
    def sample_rate(self) -> int:
        """The rate the model was trained at; input at other rates is resampled to it."""
        ...

    def open_stream(
        self, input_rate: int = 8000, *, partials: bool = True, live: bool = True
    ) -> Stream:
        """A new decoding stream for one call; streams may run in parallel threads. Without
        ``partials``, ``accept`` returns None except at utterance ends (saves CPU when no one
        watches the text grow). ``live``: a caller is waiting on it (decoded before
        recorded-only jobs when the engine is short of recognizers)."""
        ...
