"""``Understanding``: a transcript in, draft ticket fields (``Extraction``) out."""

from __future__ import annotations

from pathlib import Path

from asr.understanding.category import CategoryClassifier
from asr.understanding.model import Extraction, FieldValue
from asr.understanding.normalise import (
    CLAUSE_PARTICLES,
    PLACE_MARKERS,
    match_form,
    readable_text,
    tokenise,
)
from asr.understanding.numbers import DIGIT_WORDS, digits_from_words, find_numbers
from asr.understanding.places import LOCATIVES, PlaceIndex
from asr.understanding.segment import Segmenter
from asr.understanding.settings import UnderstandingSettings, load_settings
from asr.understanding.urgency import UrgencyDetector


class Understanding:
    """Built once (loads the TOML and indexes geothai); ``extract`` is then pure and thread-safe."""

    def __init__(self, settings: UnderstandingSettings) -> None:
        self.settings = settings
        self._category = CategoryClassifier(settings.category)
        self._urgency = UrgencyDetector(settings.urgency)
        try:
            self._places = PlaceIndex(settings.places)
        except Exception as exc:
            # the index names the entry; the file name is only known here
            raise type(exc)(f"{settings.source}: {exc}") from exc
        self._segmenter = Segmenter(
            self._places.names() | set(DIGIT_WORDS),
            boundary_words=set(PLACE_MARKERS) | CLAUSE_PARTICLES | LOCATIVES,
            is_number=lambda token: digits_from_words(token) is not None,
        )

    @classmethod
    def from_file(cls, path: Path | None = None) -> Understanding:
        """``path=None`` reads the packaged config/defaults/understanding.toml."""
        return cls(load_settings(path))

    def split_words(self, token: str) -> list[str]:
        """One space-separated token as words (Thai typed without spaces is cut up)."""
        return self._segmenter.split(token)

    def extract(self, transcript: str) -> Extraction:
        tokens = tokenise(transcript, self.split_words)
        numbers = find_numbers(tokens)
        # digit words are not place names nor keywords: read them on a copy with digits
        text_tokens = _with_digits(tokens, numbers.spans)
        matching_text = match_form(" ".join(text_tokens))
        place = self._places.find(tokens)
        category = self._category.classify(matching_text)
        urgency = self._urgency.assess(matching_text)
        return Extraction(
            category=FieldValue(category.code, category.confidence),
            province_code=FieldValue(place.province_code, _clamp(place.province_confidence)),
            district_code=FieldValue(place.district_code, _clamp(place.district_confidence)),
            phone=FieldValue(numbers.phone, _clamp(numbers.phone_confidence)),
            citizen_id=FieldValue(numbers.citizen_id, _clamp(numbers.citizen_id_confidence)),
            urgent=FieldValue(urgency.urgent, urgency.confidence),
            text=readable_text(text_tokens),
        )


def _with_digits(tokens: list[str], spans: tuple[tuple[int, int, str], ...]) -> list[str]:
    """Tokens with each number that was read replaced by its digits."""
    out: list[str] = []
    replaced = {first: (last, digits) for first, last, digits in spans}
    index = 0
    while index < len(tokens):
        if index in replaced:
            last, digits = replaced[index]
            out.append(digits)
            index = last + 1
        else:
            out.append(tokens[index])
            index += 1
    return out


def _clamp(value: float) -> float:
    return round(min(1.0, max(0.0, value)), 3)
