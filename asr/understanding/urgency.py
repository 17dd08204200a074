"""Urgency: a present danger to life or safety (config: [urgency] in understanding.toml).

Danger phrases add up; a phrase does not count when a past or hypothetical word is near it in the
same clause ("เคย ท่วม เมื่อ ปี ที่แล้ว", "กลัว ว่า จะ ท่วม อีก") unless a present-time word is
there too, nor when a negation comes right before it ("ไม่ ได้ ท่วม").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from asr.understanding.normalise import CLAUSE_PARTICLES, match_form
from asr.understanding.phrases import Occurrence, PhraseMatcher
from asr.understanding.settings import UrgencySettings

_NEGATION_REACH = 14  # characters between a negation and the phrase it denies ("ไม่ใช่เรื่อง|ด่วน")


@dataclass(frozen=True)
class UrgencyResult:
    urgent: bool
    confidence: float
    score: float


class UrgencyDetector:
    def __init__(self, settings: UrgencySettings) -> None:
        self._settings = settings
        self._matcher = PhraseMatcher(settings.phrases)
        particles = sorted((match_form(p) for p in CLAUSE_PARTICLES), key=len, reverse=True)
        self._clause_end = re.compile("|".join(map(re.escape, particles)))

    def assess(self, text: str) -> UrgencyResult:
        """``text`` in matching form (``normalise.match_form``)."""
        clauses = [m.end() for m in self._clause_end.finditer(text)]
        counted: dict[str, float] = {}
        present_near = False
        for occurrence in self._matcher.simple_occurrences(text):
            phrase = occurrence.phrase
            if phrase.weight == 0 or phrase.key in counted:
                continue
            if self._counts(text, occurrence, clauses):
                counted[phrase.key] = phrase.weight
                present_near = present_near or (
                    self._cue_distance(text, occurrence, clauses, self._settings.present)
                    is not None
                )
        for match in self._matcher.combination_matches(text):
            if match.phrase.key in counted:
                continue
            if all(any(self._counts(text, o, clauses) for o in part) for part in match.parts):
                counted[match.phrase.key] = match.phrase.weight
        score = sum(counted.values())
        if counted and present_near:
            score += self._settings.present_bonus
        threshold = self._settings.threshold
        urgent = score >= threshold
        # far from the threshold on either side = sure; near it = doubtful
        distance = abs(score - threshold) / threshold
        confidence = min(0.97, 0.55 + 0.4 * min(1.0, distance))
        return UrgencyResult(urgent, round(confidence, 3), score)

    def _counts(self, text: str, occurrence: Occurrence, clauses: list[int]) -> bool:
        before = text[max(0, occurrence.start - _NEGATION_REACH) : occurrence.start]
        if any(before.endswith(word) for word in self._settings.negation):
            return False
        s = self._settings
        # "เมื่อปีที่แล้ว" may come before or after the event; a worry ("กลัวว่าจะ") comes
        # before what is feared: "ดินไหลลงมาแล้ว กลัวจะถล่ม" is a landslide happening now.
        doubts = [
            d
            for d in (
                self._cue_distance(text, occurrence, clauses, s.past),
                self._cue_distance(text, occurrence, clauses, s.hypothetical, after=False),
            )
            if d is not None
        ]
        if not doubts:
            return True
        # "เมื่อเดือนก่อนมันมายิงปืน ... ตอนนี้ปลอดภัยดี": the nearer cue says when it happened,
        # and "ตอนนี้หายแล้ว" (now it's over) is no present danger
        present = self._cue_distance(
            text, occurrence, clauses, s.present, unless_followed_by=s.past
        )
        return present is not None and present < min(doubts)

    def _cue_distance(
        self,
        text: str,
        occurrence: Occurrence,
        clauses: list[int],
        cues: tuple[str, ...],
        *,
        after: bool = True,
        unless_followed_by: tuple[str, ...] = (),
    ) -> int | None:
        """How many characters separate the phrase from the nearest cue in its window (a cue
        right before one of ``unless_followed_by`` does not count)."""
        clause_start = max((end for end in clauses if end <= occurrence.start), default=0)
        clause_end = min((end for end in clauses if end > occurrence.end), default=len(text))
        window = self._settings.cue_window
        start = max(clause_start, occurrence.start - window)
        end = min(clause_end, occurrence.end + window) if after else occurrence.start
        best: int | None = None
        for cue in cues:
            at = text.find(cue, start, end)
            while at != -1:
                stop = at + len(cue)
                if not any(text.startswith(word, stop) for word in unless_followed_by):
                    # before the phrase, after it, or overlapping it (0)
                    distance = max(occurrence.start - stop, at - occurrence.end, 0)
                    best = distance if best is None else min(best, distance)
                at = text.find(cue, at + 1, end)
        return best
