"""Complaint category from weighted phrases (config: [category] in understanding.toml)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from asr.understanding.phrases import PhraseMatcher
from asr.understanding.settings import NEUTRAL_LABEL, CategorySettings

# Score at which a category is as sure as it gets; a lone weak word stays doubtful.
CONFIDENT_SCORE = 8.0


@dataclass(frozen=True)
class CategoryResult:
    code: str
    confidence: float
    scores: dict[str, float]


class CategoryClassifier:
    def __init__(self, settings: CategorySettings) -> None:
        self._settings = settings
        self._matcher = PhraseMatcher(settings.phrases)

    def classify(self, text: str) -> CategoryResult:
        """``text`` in matching form (``normalise.match_form``)."""
        counted: set[tuple[str, str]] = set()  # each TOML entry counts once, however often said
        scores: dict[str, float] = defaultdict(float)
        occurrences = self._matcher.simple_occurrences(text)
        combinations = [match.phrase for match in self._matcher.combination_matches(text)]
        for phrase in [o.phrase for o in occurrences] + combinations:
            if phrase.label == NEUTRAL_LABEL or (phrase.label, phrase.key) in counted:
                continue
            counted.add((phrase.label, phrase.key))
            scores[phrase.label] += phrase.weight
        ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
        if not ranked or ranked[0][1] < self._settings.min_score:
            # nothing recognisable: the fallback, and not much faith in it
            return CategoryResult(self._settings.fallback, 0.4, dict(scores))
        (best, top), runner_up = ranked[0], (ranked[1][1] if len(ranked) > 1 else 0.0)
        margin = (top - runner_up) / top
        strength = min(1.0, top / CONFIDENT_SCORE)
        confidence = 0.3 + 0.65 * (0.6 * margin + 0.4 * strength)
        return CategoryResult(best, round(confidence, 3), dict(scores))
