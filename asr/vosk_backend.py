"""The Vosk (Kaldi) recognizer — the only module that imports vosk.

One ``vosk.Model`` per process, shared by every stream (it is read-only and thread-safe, and a
large graph costs hundreds of MB); one ``KaldiRecognizer`` per call. Vosk ends an utterance at
each pause (its endpointer) and starts the next; the call's transcript is all utterances joined,
with word times counted from the start of the call.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path
from typing import Any

from asr.recognizer import Partial, RecognizerError, Result, Word
from asr.resample import Resampler

log = logging.getLogger(__name__)

DEFAULT_MODEL_RATE = 16000
BLOCK_SECONDS = 0.1  # audio reaches Kaldi in blocks of this size, however it was chunked
PARTIAL_EVERY_SECONDS = 1.0  # a partial is a lattice traceback: not worth it every 20 ms

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


class VoskRecognizer:
    def __init__(self, model_dir: Path) -> None:
        import vosk  # imported here so that merely importing asr does not load the engine

        self._vosk = vosk
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "am").is_dir():
            raise RecognizerError(f"{self.model_dir}: not a Vosk model (no am/ folder)")
        self._rate = model_sample_rate(self.model_dir)
        with _load_lock:
            vosk.SetLogLevel(-1)  # Kaldi's per-utterance chatter would drown the worker's log
            try:
                self._model = vosk.Model(str(self.model_dir))
            except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
                raise RecognizerError(f"{self.model_dir}: Vosk could not load the model") from exc
        log.info("loaded Vosk model %s (%d Hz)", self.model_dir, self._rate)

    @property
    def sample_rate(self) -> int:
        return self._rate

    def open_stream(self, input_rate: int = 8000, *, partials: bool = True) -> VoskStream:
        recognizer = self._vosk.KaldiRecognizer(self._model, float(self._rate))
        recognizer.SetWords(True)
        return VoskStream(recognizer, Resampler(input_rate, self._rate), input_rate, partials)


class VoskStream:
    def __init__(
        self, recognizer: Any, resampler: Resampler, input_rate: int, partials: bool = True
    ) -> None:
        self._rec = recognizer
        self._resampler = resampler
        self._input_rate = input_rate
        self._texts: list[str] = []
        self._words: list[Word] = []
        self._input_bytes = 0
        self._since_partial = 0
        self._partials = partials
        self._partial_bytes = int(PARTIAL_EVERY_SECONDS * input_rate) * 2
        self._finished = False
        # Vosk checks for the end of an utterance after each AcceptWaveform call, so the way
        # audio is cut decides where utterances split. Fixed blocks make a call streamed in
        # 20 ms chunks decode exactly like the same call read from its file.
        self._block = int(BLOCK_SECONDS * resampler.out_rate) * 2
        self._pending = bytearray()

    def accept(self, pcm16: bytes) -> Partial | None:
        if self._finished:
            raise RecognizerError("stream already finished")
        self._input_bytes += len(pcm16)
        self._since_partial += len(pcm16)
        self._pending += self._resampler.process(pcm16)
        ended = False
        while len(self._pending) >= self._block:
            block = bytes(self._pending[: self._block])
            del self._pending[: self._block]
            if self._rec.AcceptWaveform(block):
                # A pause ended an utterance: keep it, the recognizer carries on with the next.
                self._keep(self._rec.Result())
                ended = True
        if ended:
            self._since_partial = 0
            return Partial(self._joined())
        if self._partials and self._since_partial >= self._partial_bytes:
            self._since_partial = 0
            current = _text_of(self._rec.PartialResult(), "partial")
            return Partial(self._joined(current))
        return None

    def finish(self) -> Result:
        if not self._finished:
            self._finished = True
            tail = bytes(self._pending) + self._resampler.flush()
            self._pending.clear()
            if tail and self._rec.AcceptWaveform(tail):
                self._keep(self._rec.Result())
            self._keep(self._rec.FinalResult())
        seconds = self._input_bytes / 2 / self._input_rate
        return Result(self._joined(), list(self._words), round(seconds, 3))

    def _keep(self, raw: str) -> None:
        data = _parse(raw)
        text = str(data.get("text") or "").strip()
        if text:
            self._texts.append(text)
        for item in data.get("result") or []:
            self._words.append(
                Word(
                    word=str(item["word"]),
                    start=round(float(item["start"]), 3),
                    end=round(float(item["end"]), 3),
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
