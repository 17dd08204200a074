"""Measuring a model on a deployer's own recordings: CER, newmm WER and real-time factor.

A folder of ``name.wav`` + ``name.txt`` (UTF-8 reference transcript). CER compares characters
with all whitespace removed (Thai is written without spaces between words, so spacing is not an
error); WER compares PyThaiNLP ``newmm`` tokens of both sides (the recognizer's own word splits
are ignored, so models with different lexicons are compared on the same words).
"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from asr.recognizer import Recognizer
from asr.wavfile import read_wav

_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Utterance:
    name: str
    reference: str
    hypothesis: str
    audio_seconds: float
    decode_seconds: float
    char_errors: int
    chars: int
    word_errors: int
    words: int
    cpu_seconds: float = 0.0  # CPU time of the decoding thread (Kaldi runs in it)


@dataclass(frozen=True)
class Report:
    utterances: list[Utterance]

    @property
    def cer(self) -> float:
        return _ratio(
            sum(u.char_errors for u in self.utterances), sum(u.chars for u in self.utterances)
        )

    @property
    def wer(self) -> float:
        return _ratio(
            sum(u.word_errors for u in self.utterances), sum(u.words for u in self.utterances)
        )

    @property
    def rtf(self) -> float:
        audio = sum(u.audio_seconds for u in self.utterances)
        return sum(u.decode_seconds for u in self.utterances) / audio if audio else 0.0

    @property
    def cpu_per_audio(self) -> float:
        """CPU seconds per audio second: the cost that decides how many calls a core takes
        (unlike the real-time factor, not inflated by other processes on a shared host)."""
        audio = sum(u.audio_seconds for u in self.utterances)
        return sum(u.cpu_seconds for u in self.utterances) / audio if audio else 0.0


def _ratio(errors: int, total: int) -> float:
    return errors / total if total else 0.0


def normalise_chars(text: str) -> str:
    return _SPACE.sub("", text).lower()


def newmm_tokens(text: str) -> list[str]:
    from pythainlp.tokenize import word_tokenize  # slow to import: only when evaluating

    return [t for t in word_tokenize(normalise_chars(text), engine="newmm") if t.strip()]


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    return int(Levenshtein.distance(a, b))


def find_pairs(folder: Path) -> list[tuple[Path, Path]]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    pairs = [(wav, wav.with_suffix(".txt")) for wav in sorted(folder.glob("*.wav"))]
    pairs = [(wav, txt) for wav, txt in pairs if txt.is_file()]
    if not pairs:
        raise FileNotFoundError(f"{folder}: no name.wav + name.txt pairs")
    return pairs


def score(
    name: str,
    reference: str,
    hypothesis: str,
    audio_seconds: float,
    decode_seconds: float,
    tokenize: Callable[[str], list[str]] = newmm_tokens,
) -> Utterance:
    ref_chars, hyp_chars = normalise_chars(reference), normalise_chars(hypothesis)
    ref_words, hyp_words = tokenize(reference), tokenize(hypothesis)
    return Utterance(
        name=name,
        reference=reference.strip(),
        hypothesis=hypothesis.strip(),
        audio_seconds=audio_seconds,
        decode_seconds=decode_seconds,
        char_errors=edit_distance(list(ref_chars), list(hyp_chars)),
        chars=len(ref_chars),
        word_errors=edit_distance(ref_words, hyp_words),
        words=len(ref_words),
    )


def evaluate(
    recognizer: Recognizer,
    folder: Path,
    *,
    tokenize: Callable[[str], list[str]] = newmm_tokens,
    chunk_seconds: float = 0.2,
) -> Report:
    """Decode each WAV the way the worker does (streamed in chunks) and score it."""
    utterances = []
    for wav, txt in find_pairs(folder):
        audio = read_wav(wav)
        step = max(2, int(chunk_seconds * audio.sample_rate) * 2)
        began, cpu = time.perf_counter(), time.thread_time()
        stream = recognizer.open_stream(audio.sample_rate, partials=False)
        for offset in range(0, len(audio.pcm16), step):
            stream.accept(audio.pcm16[offset : offset + step])
        result = stream.finish()
        elapsed = time.perf_counter() - began
        spent = time.thread_time() - cpu
        reference = txt.read_text(encoding="utf-8")
        scored = score(wav.stem, reference, result.text, audio.seconds, elapsed, tokenize)
        utterances.append(dataclasses.replace(scored, cpu_seconds=spent))
    return Report(utterances)


def format_report(report: Report) -> str:
    lines = []
    for u in report.utterances:
        cer = _ratio(u.char_errors, u.chars)
        lines.append(f"{u.name}: CER {cer:.1%}  REF {u.reference}")
        lines.append(f"{' ' * len(u.name)}  HYP {u.hypothesis}")
    audio = sum(u.audio_seconds for u in report.utterances)
    lines.append(
        f"files {len(report.utterances)}  audio {audio:.1f} s  "
        f"CER {report.cer:.1%}  WER(newmm) {report.wer:.1%}  RTF {report.rtf:.3f}  "
        f"CPU s/audio s {report.cpu_per_audio:.3f}"
    )
    return "\n".join(lines)
