"""Voice activity detection before the recognizer: which audio is worth decoding.

A call is 30–50 % silence (the caller thinks, listens, waits). Decoding silence costs the same
CPU as speech and makes a recognizer's lattice grow over the whole call; with this segmenter
the recognizer sees speech segments only, each one closed (the recognizer's result finalised)
at its end, so work follows speech and memory does not grow with call length.

``Segmenter`` is pure: 16-bit mono PCM in (any chunking), events out. It looks at fixed frames
(webrtcvad: 30 ms), so the same audio gives the same segments however it was cut.

* An utterance **starts** when ``START_VOICED`` of the last ``WINDOW`` frames are speech; the
  window (300 ms before the trigger) is decoded too, so the first syllable is not lost.
* It **ends** after ``END_SILENCE`` seconds without a voiced frame; that trailing silence is
  decoded (Kaldi needs it to settle the last word), the rest of the pause is not.
* An utterance longer than ``MAX_UTTERANCE`` seconds is cut (a caller who never pauses still
  gets bounded memory); the next one starts at once if the speech goes on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import webrtcvad

FRAME_SECONDS = 0.03
WINDOW = 10  # frames looked at to start an utterance (300 ms)
START_VOICED = 5  # of which this many must be speech
END_SILENCE = 0.6  # seconds without speech that end an utterance
MAX_UTTERANCE = 20.0  # Kaldi's lattice and traceback grow with the utterance
AGGRESSIVENESS = 2  # webrtcvad 0..3: 2 keeps quiet speech, drops line noise
RATES = (8000, 16000, 32000, 48000)  # what webrtcvad accepts


@dataclass(frozen=True)
class Speech:
    """Audio to decode, belonging to the current utterance; ``start`` in seconds of input."""

    pcm: bytes
    start: float


@dataclass(frozen=True)
class UtteranceEnd:
    at: float  # seconds of input


Event = Speech | UtteranceEnd


class Segmenter:
    def __init__(
        self,
        rate: int,
        *,
        aggressiveness: int = AGGRESSIVENESS,
        end_silence: float = END_SILENCE,
        max_utterance: float = MAX_UTTERANCE,
    ) -> None:
        if rate not in RATES:
            raise ValueError(f"voice activity detection needs one of {RATES} Hz, got {rate}")
        self.rate = rate
        self._vad = webrtcvad.Vad(aggressiveness)
        self._frame = int(FRAME_SECONDS * rate) * 2
        self._end_frames = max(1, round(end_silence / FRAME_SECONDS))
        self._max_frames = max(self._end_frames + 1, round(max_utterance / FRAME_SECONDS))
        self._buffer = bytearray()
        self._window: deque[tuple[bytes, bool]] = deque(maxlen=WINDOW)
        self._frames = 0  # frames seen so far
        self._in_speech = False
        self._unvoiced = 0  # trailing unvoiced frames in the current utterance
        self._length = 0  # frames in the current utterance
        self.speech_seconds = 0.0  # audio handed on to be decoded

    @property
    def in_speech(self) -> bool:
        return self._in_speech

    @property
    def buffered_seconds(self) -> float:
        """Input kept for the next frame (less than one)."""
        return len(self._buffer) / 2 / self.rate

    def feed(self, pcm16: bytes) -> list[Event]:
        self._buffer += pcm16
        events: list[Event] = []
        while len(self._buffer) >= self._frame:
            frame = bytes(self._buffer[: self._frame])
            del self._buffer[: self._frame]
            self._step(frame, self._vad.is_speech(frame, self.rate), events)
        return events

    def flush(self) -> list[Event]:
        """The audio is over: the last partial frame goes with an open utterance, which ends."""
        events: list[Event] = []
        if self._in_speech:
            tail = len(self._buffer) / 2 / self.rate
            if self._buffer:
                events.append(Speech(bytes(self._buffer), self._seconds(self._frames)))
                self.speech_seconds += tail
            events.append(UtteranceEnd(self._seconds(self._frames) + tail))
            self._in_speech = False
        self._buffer.clear()
        return events

    def _step(self, frame: bytes, voiced: bool, events: list[Event]) -> None:
        index = self._frames
        self._frames += 1
        if not self._in_speech:
            self._window.append((frame, voiced))
            if sum(v for _, v in self._window) >= START_VOICED:
                first = index - len(self._window) + 1
                pcm = b"".join(f for f, _ in self._window)
                self._window.clear()
                self._start(first, pcm, events)
            return
        self._emit(index, frame, events)
        self._length += 1
        self._unvoiced = 0 if voiced else self._unvoiced + 1
        if self._unvoiced >= self._end_frames:
            self._close(index + 1, events)
        elif self._length >= self._max_frames:
            self._close(index + 1, events)
            if voiced:  # still talking: the next utterance starts here
                self._start(index + 1, b"", events)

    def _start(self, first: int, pcm: bytes, events: list[Event]) -> None:
        self._in_speech = True
        self._unvoiced = 0
        self._length = len(pcm) // self._frame
        if pcm:
            events.append(Speech(pcm, self._seconds(first)))
            self.speech_seconds += len(pcm) / 2 / self.rate

    def _emit(self, index: int, frame: bytes, events: list[Event]) -> None:
        events.append(Speech(frame, self._seconds(index)))
        self.speech_seconds += len(frame) / 2 / self.rate

    def _close(self, end_frame: int, events: list[Event]) -> None:
        events.append(UtteranceEnd(self._seconds(end_frame)))
        self._in_speech = False
        self._window.clear()

    def _seconds(self, frames: int) -> float:
        return frames * self._frame / 2 / self.rate
