"""Field accuracy of transcript understanding on labelled JSON Lines.

Usage: .venv/bin/python bench/extract_accuracy.py FILE.jsonl [FILE.jsonl ...] [--errors]
       [--spaceless all|clauses] [--drop-digit]

Each line: {"text": ..., "category", "province_code", "district_code", "phone", "citizen_id",
"urgent"} (the format of /work/shared/data/complaints-dev.jsonl). Prints, per file and in total,
the share of lines where each field is exactly right (null = null counts as right), urgent
precision and recall, and the time per extraction (CPU: mean, p95, worst; wall: mean).
--errors lists every wrong field.

Written Thai has no spaces between words; the sets are written with a space between words, as
Vosk prints them. ``--spaceless`` scores each transcript written the way people type Thai:

- ``all``: every space removed, numbers and Latin words glued to the Thai too (the harshest);
- ``clauses``: spaces kept only where written Thai keeps them: after a word that ends a spoken
  clause (ครับ, ค่ะ, นะคะ ...) and on both sides of a word not in Thai script (Arabic digits,
  Latin), as in "บ้านอยู่อำเภอสันทรายจังหวัดเชียงใหม่ค่ะ เบอร์ 0812345678 ค่ะ".

``--drop-digit`` makes, for every labelled phone number and citizen ID, one variant per digit with
that digit's word removed (a word the recogniser or the caller dropped), and counts what the field
became: the right number (it was said twice), empty, or a wrong number, and how many wrong ones
were confident (≥ 0.7, the console's threshold for marking a field unsure). The other fields are
not scored on these variants. It combines with ``--spaceless`` (the digit is dropped first).
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from asr.understanding import Understanding

FIELDS = ("category", "province_code", "district_code", "phone", "citizen_id", "urgent")
NUMBER_FIELDS = ("phone", "citizen_id")
SPACELESS_MODES = ("all", "clauses")
UNSURE_BELOW = 0.7  # agent_ui/console/static/console/state.js UNSURE_FIELD

# Kept here, not imported from asr.understanding, so the variants do not share the code they test.
CLAUSE_ENDINGS = frozenset(
    {"ครับ", "คับ", "ค่ะ", "คะ", "ค่า", "จ้ะ", "จ้า", "ฮะ", "ขอรับ", "นะคะ", "นะครับ"}
)
_THAI = re.compile("[\u0e00-\u0e7f]")
DIGIT_VALUES = {
    "ศูนย์": "0",
    "หนึ่ง": "1",
    "นึ่ง": "1",
    "นึง": "1",
    "สอง": "2",
    "โท": "2",
    "สาม": "3",
    "สี่": "4",
    "ห้า": "5",
    "หก": "6",
    "เจ็ด": "7",
    "แปด": "8",
    "เก้า": "9",
    **{str(d): str(d) for d in range(10)},
}
_DIGIT_WORD = re.compile("|".join("โท(?!ร)" if w == "โท" else re.escape(w) for w in DIGIT_VALUES))
# what may stand between two digits of one number as the sets write them
_BETWEEN_DIGITS = re.compile(r"(?:\s|-|ขีด|เอ่อ|เออ|อ่า|อืม|ครับ|ค่ะ|คะ|นะ|แล้วก็|ต่อ)*")


def spaceless(text: str, mode: str) -> str:
    """``text`` written without the spaces between words (see the module docstring)."""
    if mode not in SPACELESS_MODES:
        raise ValueError(f"spaceless mode must be one of {SPACELESS_MODES}, got {mode!r}")
    words = text.split()
    if mode == "all":
        return "".join(words)
    parts: list[str] = []
    for index, word in enumerate(words):
        if index:
            previous = words[index - 1]
            thai_pair = _THAI.search(word) and _THAI.search(previous)
            if previous in CLAUSE_ENDINGS or not thai_pair:
                parts.append(" ")
        parts.append(word)
    return "".join(parts)


def digit_word_spans(text: str, digits: str) -> list[tuple[int, int]] | None:
    """Where in ``text`` each digit of ``digits`` is said (character spans), or None."""
    said = list(_DIGIT_WORD.finditer(text))
    for first in range(len(said) - len(digits) + 1):
        window = said[first : first + len(digits)]
        if "".join(DIGIT_VALUES[m.group()] for m in window) != digits:
            continue
        gaps = (text[a.end() : b.start()] for a, b in itertools.pairwise(window))
        if all(_BETWEEN_DIGITS.fullmatch(gap) for gap in gaps):
            return [m.span() for m in window]
    return None


def drop_digit_variants(
    text: str, digits: str, positions: Iterable[int] | None = None
) -> Iterator[tuple[int, str]]:
    """(position, ``text`` with that digit's word left out) for each digit of ``digits``, or
    only at ``positions`` (0-based; negative counts from the end)."""
    spans = digit_word_spans(text, digits) or []
    chosen = (
        range(len(spans))
        if positions is None
        else sorted({p % len(spans) for p in positions} if spans else set())
    )
    for position in chosen:
        start, end = spans[position]
        before, after = text[:start], text[end:]
        if before.endswith(" ") and after.startswith(" "):
            after = after[1:]  # "สอง สาม สี่" → "สอง สี่", one space left
        yield position, before + after


@dataclass
class Tally:
    lines: int = 0
    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(FIELDS, 0))
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    seconds: list[float] = field(default_factory=list)  # wall time per extraction
    cpu_seconds: list[float] = field(default_factory=list)  # CPU time of the extracting thread
    errors: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.lines += other.lines
        for name in FIELDS:
            self.right[name] += other.right[name]
        self.true_positive += other.true_positive
        self.false_positive += other.false_positive
        self.false_negative += other.false_negative
        self.seconds.extend(other.seconds)
        self.cpu_seconds.extend(other.cpu_seconds)

    def accuracy(self, name: str) -> float:
        return self.right[name] / self.lines if self.lines else 0.0

    def urgent_precision(self) -> float:
        flagged = self.true_positive + self.false_positive
        return self.true_positive / flagged if flagged else 1.0

    def urgent_recall(self) -> float:
        actual = self.true_positive + self.false_negative
        return self.true_positive / actual if actual else 1.0


@dataclass
class DropTally:
    """What a number field became when one of its digit words was dropped."""

    variants: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NUMBER_FIELDS, 0))
    right: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NUMBER_FIELDS, 0))
    empty: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NUMBER_FIELDS, 0))
    wrong: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NUMBER_FIELDS, 0))
    confident_wrong: dict[str, int] = field(default_factory=lambda: dict.fromkeys(NUMBER_FIELDS, 0))
    not_located: int = 0  # labelled numbers whose digit words could not be found in the text
    wrong_values: list[tuple[str, str, float]] = field(default_factory=list)  # field, value, conf
    seconds: list[float] = field(default_factory=list)  # wall time per extraction
    cpu_seconds: list[float] = field(default_factory=list)  # CPU time of the extracting thread
    errors: list[str] = field(default_factory=list)

    def add(self, other: DropTally) -> None:
        for counts, more in (
            (self.variants, other.variants),
            (self.right, other.right),
            (self.empty, other.empty),
            (self.wrong, other.wrong),
            (self.confident_wrong, other.confident_wrong),
        ):
            for name in NUMBER_FIELDS:
                counts[name] += more[name]
        self.not_located += other.not_located
        self.wrong_values.extend(other.wrong_values)
        self.seconds.extend(other.seconds)
        self.cpu_seconds.extend(other.cpu_seconds)


def read_rows(path: Path) -> Iterator[tuple[str, dict[str, object]]]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            row = json.loads(line)
            yield str(row.get("id", f"line {number}")), row


def score_file(
    understanding: Understanding, path: Path, spaceless_mode: str | None = None
) -> Tally:
    tally = Tally()
    for label, row in read_rows(path):
        text = str(row["text"])
        if spaceless_mode is not None:
            text = spaceless(text, spaceless_mode)
        started, cpu = time.perf_counter(), time.thread_time()
        got = understanding.extract(text).to_json_dict()
        tally.cpu_seconds.append(time.thread_time() - cpu)
        tally.seconds.append(time.perf_counter() - started)
        tally.lines += 1
        for name in FIELDS:
            if got[name] == row.get(name):
                tally.right[name] += 1
            else:
                tally.errors.append(f"{label} {name}: want {row.get(name)!r} got {got[name]!r}")
        if row["urgent"] and got["urgent"]:
            tally.true_positive += 1
        elif got["urgent"]:
            tally.false_positive += 1
        elif row["urgent"]:
            tally.false_negative += 1
    return tally


def score_dropped_digits(
    understanding: Understanding,
    path: Path,
    spaceless_mode: str | None = None,
    positions: Iterable[int] | None = None,
) -> DropTally:
    """Every digit of every labelled number dropped in turn, or only those at ``positions``."""
    tally = DropTally()
    for label, row in read_rows(path):
        for name in NUMBER_FIELDS:
            digits = row.get(name)
            if not isinstance(digits, str):
                continue
            variants = list(drop_digit_variants(str(row["text"]), digits, positions))
            if not variants:
                tally.not_located += 1
                tally.errors.append(f"{label} {name}: digits of {digits} not found in the text")
            for position, text in variants:
                if spaceless_mode is not None:
                    text = spaceless(text, spaceless_mode)
                started, cpu = time.perf_counter(), time.thread_time()
                got = getattr(understanding.extract(text), name)
                tally.cpu_seconds.append(time.thread_time() - cpu)
                tally.seconds.append(time.perf_counter() - started)
                tally.variants[name] += 1
                if got.value == digits:
                    tally.right[name] += 1
                elif got.value is None:
                    tally.empty[name] += 1
                else:
                    tally.wrong[name] += 1
                    tally.confident_wrong[name] += got.confidence >= UNSURE_BELOW
                    tally.wrong_values.append((name, str(got.value), got.confidence))
                    tally.errors.append(
                        f"{label} {name} without digit {position + 1}: want none, got "
                        f"{got.value!r} at confidence {got.confidence}"
                    )
    return tally


def _timing(seconds: list[float], cpu_seconds: list[float]) -> str:
    """CPU time says what an extraction costs even on a shared machine; wall time includes
    waiting for a core."""
    if not seconds:
        return ""
    cpu = sorted(cpu_seconds)
    p95_ms = 1000 * cpu[min(len(cpu) - 1, int(0.95 * len(cpu)))]
    return (
        f"  time per transcript: CPU mean {1000 * sum(cpu) / len(cpu):.2f} ms, "
        f"p95 {p95_ms:.2f} ms, max {1000 * cpu[-1]:.1f} ms; "
        f"wall mean {1000 * sum(seconds) / len(seconds):.2f} ms"
    )


def report(title: str, tally: Tally) -> str:
    rows = [f"{title}: {tally.lines} transcripts"]
    rows += [f"  {name:<14} {tally.accuracy(name):7.1%}" for name in FIELDS]
    rows.append(
        f"  urgent precision {tally.urgent_precision():.1%}  recall {tally.urgent_recall():.1%}"
        f"  (tp {tally.true_positive}, fp {tally.false_positive}, fn {tally.false_negative})"
    )
    if tally.seconds:
        rows.append(_timing(tally.seconds, tally.cpu_seconds))
    return "\n".join(rows)


def report_dropped(title: str, tally: DropTally) -> str:
    rows = [f"{title}: one digit word dropped ({tally.not_located} numbers not located)"]
    for name in NUMBER_FIELDS:
        rows.append(
            f"  {name:<11} {tally.variants[name]:5} variants: right {tally.right[name]}, "
            f"empty {tally.empty[name]}, wrong {tally.wrong[name]} "
            f"(confident ≥ {UNSURE_BELOW}: {tally.confident_wrong[name]})"
        )
    if tally.seconds:
        rows.append(_timing(tally.seconds, tally.cpu_seconds))
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--errors", action="store_true", help="list every wrong field")
    parser.add_argument("--config", type=Path, default=None, help="understanding.toml to use")
    parser.add_argument(
        "--spaceless", choices=SPACELESS_MODES, default=None, help="score without spaces"
    )
    parser.add_argument(
        "--drop-digit", action="store_true", help="score numbers with one digit word dropped"
    )
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.files if not path.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    understanding = Understanding.from_file(args.config)
    suffix = f" (spaceless: {args.spaceless})" if args.spaceless else ""
    if args.drop_digit:
        dropped = DropTally()
        for path in args.files:
            one = score_dropped_digits(understanding, path, args.spaceless)
            print(report_dropped(f"{path}{suffix}", one))
            if args.errors:
                print("\n".join(f"    {error}" for error in one.errors))
            dropped.add(one)
        if len(args.files) > 1:
            print(report_dropped(f"all files{suffix}", dropped))
        return 0
    total = Tally()
    for path in args.files:
        tally = score_file(understanding, path, args.spaceless)
        print(report(f"{path}{suffix}", tally))
        if args.errors:
            print("\n".join(f"    {error}" for error in tally.errors))
        total.add(tally)
    if len(args.files) > 1:
        print(report(f"all files{suffix}", total))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
