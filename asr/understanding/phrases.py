"""Weighted phrases from the TOML and how they are found in a transcript.

A phrase key is either simple ("น้ำท่วม|ท่วม": any alternative) or a combination
("เกษตรกร + หนี้": every part somewhere in the text). Simple phrases are found leftmost-longest
without overlaps, so "รถน้ำท่วม" (a flood-damaged car) hides the "น้ำท่วม" inside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from asr.understanding.normalise import match_form


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
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

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
            out.append(Occurrence(phrase, start, start + len(alternative)))
            start = text.find(alternative, start + 1)
    return tuple(out)
