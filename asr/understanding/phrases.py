"""Weighted phrases from the TOML and how they are found in a transcript.

A phrase key is either simple ("น้ำท่วม|ท่วม": any alternative) or a combination
("เกษตรกร + หนี้": every part somewhere in the text). Simple phrases are found leftmost-longest
without overlaps, so "รถน้ำท่วม" (a flood-damaged car) hides the "น้ำท่วม" inside it.

With the spaces gone, a phrase can also appear across a syllable: "มีด" (a knife) inside
"สามีดิฉัน" (my husband). A match must not end before a vowel or tone mark that belongs to its
last consonant, nor start after a leading vowel (เ แ โ ใ ไ) that belongs to its first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from asr.understanding.normalise import match_form

_LEADING_VOWELS = "\u0e40-\u0e44"  # เ แ โ ใ ไ: written before the consonant they follow
# ะ ั า ำ ิ ี ึ ื ุ ู ฺ ็ ่ ้ ๊ ๋ ์ ํ ๎: written after (or over) the consonant they belong to
_BOUND_MARKS = "\u0e30-\u0e3a\u0e47-\u0e4e"
_LEADING_RE = re.compile(f"[{_LEADING_VOWELS}]")
_MARK_RE = re.compile(f"[{_BOUND_MARKS}]")


def whole_syllables(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` begins and ends on syllable boundaries (as far as the
    script shows them)."""
    if start > 0 and _LEADING_RE.match(text, start - 1):
        return False
    return not (end < len(text) and _MARK_RE.match(text, end))


@dataclass(frozen=True)
class Phrase:
    """One TOML entry: ``parts`` are alternatives per part; one part means a simple phrase."""

    key: str
    parts: tuple[tuple[str, ...], ...]
    weight: float
    label: str  # what the phrase counts towards: a category code, or "urgency"

    @property
    def is_combination(self) -> bool:
        return len(self.parts) > 1


@dataclass(frozen=True)
class Occurrence:
    phrase: Phrase
    start: int
    end: int


@dataclass(frozen=True)
class CombinationMatch:
    """A combination whose every part occurs; ``parts`` holds each part's occurrences."""

    phrase: Phrase
    parts: tuple[tuple[Occurrence, ...], ...]


def parse_phrase_key(key: str) -> tuple[tuple[str, ...], ...]:
    """ "a|b + c" → (("a", "b"), ("c",)). Raises ValueError for an empty part or alternative."""
    parts: list[tuple[str, ...]] = []
    for part in key.split("+"):
        alternatives = tuple(match_form(alt) for alt in part.split("|"))
        if not all(alternatives):
            raise ValueError("has an empty alternative (check the '|' and '+' signs)")
        parts.append(alternatives)
    return tuple(parts)


class PhraseMatcher:
    """Finds phrases in the matching form of a transcript (see ``normalise.match_form``)."""

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        self._simple: dict[str, Phrase] = {}
        self._combinations: list[Phrase] = []
        for phrase in phrases:
            if phrase.is_combination:
                self._combinations.append(phrase)
                continue
            for alternative in phrase.parts[0]:
                # the first entry to claim an alternative keeps it; later duplicates add nothing
                self._simple.setdefault(alternative, phrase)
        ordered = sorted(self._simple, key=len, reverse=True)
        alternation = "|".join(map(re.escape, ordered))
        self._pattern = (
            re.compile(f"(?<![{_LEADING_VOWELS}])(?:{alternation})(?![{_BOUND_MARKS}])")
            if ordered
            else None
        )

    def simple_occurrences(self, text: str) -> list[Occurrence]:
        if self._pattern is None:
            return []
        return [
            Occurrence(self._simple[m.group()], m.start(), m.end())
            for m in self._pattern.finditer(text)
        ]

    def combination_matches(self, text: str) -> list[CombinationMatch]:
        found: list[CombinationMatch] = []
        for phrase in self._combinations:
            per_part = tuple(_find_all(text, alternatives, phrase) for alternatives in phrase.parts)
            if all(per_part):
                found.append(CombinationMatch(phrase, per_part))
        return found


def _find_all(text: str, alternatives: tuple[str, ...], phrase: Phrase) -> tuple[Occurrence, ...]:
    out: list[Occurrence] = []
    for alternative in alternatives:
        start = text.find(alternative)
        while start != -1:
            if whole_syllables(text, start, start + len(alternative)):
                out.append(Occurrence(phrase, start, start + len(alternative)))
            start = text.find(alternative, start + 1)
    return tuple(out)
