"""Masking of personal numbers (phone numbers, citizen IDs) for viewers without need-to-know.

Fields that hold a number are masked whole but for the last four digits. Free text (descriptions,
transcripts, notes, audit values) is scanned for runs of digits that look like a phone number or a
citizen ID — written with Arabic or Thai digits or said as Thai number words ("ศูนย์ แปด หนึ่ง …",
"โท" for 2), with or without spaces — and those runs are masked the same way. Reference numbers
(they start with the Buddhist-era year, never with 0, and have 9-10 digits) stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "•"
KEEP = 4
# Keys whose whole value is a personal number, wherever they appear (fields, audit, events).
NUMBER_KEYS = frozenset(
    {"caller_phone", "citizen_id", "caller", "caller_number", "phone", "digits"}
)

DIGIT_WORDS = {
    "ศูนย์": "0",
    "หนึ่ง": "1",
    "เอ็ด": "1",
    "สอง": "2",
    "โท": "2",
    "สาม": "3",
    "สี่": "4",
    "ห้า": "5",
    "หก": "6",
    "เจ็ด": "7",
    "แปด": "8",
    "เก้า": "9",
}
_THAI_DIGITS = {chr(0x0E50 + i): str(i) for i in range(10)}
_UNIT = "(?:[0-9\u0e50-\u0e59]|" + "|".join(sorted(DIGIT_WORDS, key=len, reverse=True)) + ")"
_UNIT_RE = re.compile(_UNIT)
# A run: digits or digit words, separated by at most two spaces, dashes or dots; "+66" too.
_RUN_RE = re.compile(rf"\+?{_UNIT}(?:[\s\-.]{{0,2}}{_UNIT})+")
_DIGIT_RUN_RE = re.compile(rf"{_UNIT}(?:[\s\-.]{{0,2}}{_UNIT}){{{KEEP},}}")


def unit_digits(text: str) -> str:
    """The digits a run of digits or Thai number words stands for."""
    out = []
    for unit in _UNIT_RE.findall(text):
        out.append(DIGIT_WORDS.get(unit) or _THAI_DIGITS.get(unit) or unit)
    return "".join(out)


def is_personal_number(digits: str) -> bool:
    """A phone number (9 or more digits from 0, or +66…) or a citizen ID (13 digits)."""
    return (len(digits) >= 9 and digits[0] == "0") or len(digits) >= 11


def mask_digits(value: str | None, keep: int = KEEP) -> str | None:
    if not value:
        return value
    return MASK * max(len(value) - keep, 0) + value[-keep:]


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = unit_digits(run)
    if not is_personal_number(digits):
        return run
    return MASK * (len(digits) - KEEP) + digits[-KEEP:]


def mask_text(text: str | None) -> str | None:
    """``text`` with every phone number and citizen ID in it masked."""
    if not text:
        return text
    return _RUN_RE.sub(_mask_run, text)


def mask_digit_runs(text: str | None, length: int = KEEP) -> str | None:
    """``text`` with every run of ``length`` or more digits (Arabic, Thai, or Thai number words)
    hidden whole, one mark per digit: for a live transcript that grows word by word, where a
    number is still too short to be told from any other and keeping its last digits would give
    the whole number away over a few partials."""
    if not text:
        return text

    def hide(match: re.Match[str]) -> str:
        digits = unit_digits(match.group(0))
        return MASK * len(digits) if len(digits) >= length else match.group(0)

    return _RUN_RE.sub(hide, text)


def has_digit_run(text: str, length: int = KEEP + 1) -> bool:
    """True when ``text`` holds ``length`` or more digits (or number words) in a row: a search
    for it could tell a masked viewer whether a number exists."""
    return any(len(unit_digits(m.group(0))) >= length for m in _DIGIT_RUN_RE.finditer(text))


def mask_words(words: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Word timings of a transcript with the words of a personal number masked."""
    if not words:
        return words
    out = [dict(w) for w in words]
    per_word = [unit_digits(str(w.get("word", ""))) for w in out]
    whole = [
        bool(d) and _UNIT_RE.sub("", str(w.get("word", ""))).strip(" -.") == ""
        for d, w in zip(per_word, out, strict=True)
    ]
    i = 0
    while i < len(out):
        if not whole[i]:
            out[i]["word"] = mask_text(str(out[i].get("word", "")))
            i += 1
            continue
        j = i
        while j < len(out) and whole[j]:
            j += 1
        digits = "".join(per_word[i:j])
        if is_personal_number(digits):
            hidden = len(digits) - KEEP
            for k in range(i, j):
                count = len(per_word[k])
                shown = per_word[k][max(hidden, 0) :] if hidden < count else ""
                out[k]["word"] = MASK * min(max(hidden, 0), count) + shown
                hidden -= count
        i = j
    return out


def mask_value(key: str, value: Any) -> Any:
    """One value of a mapping, masked by what its key says it is."""
    if isinstance(value, str):
        return mask_digits(value) if key in NUMBER_KEYS else mask_text(value)
    if isinstance(value, Mapping):
        return mask_mapping(value)
    if isinstance(value, list):
        return [mask_value(key, item) for item in value]
    return value


def mask_mapping(data: Mapping[str, Any]) -> dict[str, Any]:
    """Audit before/after values, event payloads: numbers by key, text by content."""
    return {key: mask_value(key, value) for key, value in data.items()}
