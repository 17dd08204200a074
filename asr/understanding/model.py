"""The result of understanding one transcript: every field with how sure we are of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FIELD_NAMES = ("category", "province_code", "district_code", "phone", "citizen_id", "urgent")


@dataclass(frozen=True)
class FieldValue:
    """One extracted field. ``confidence`` is in [0, 1]: how sure we are that ``value`` is right.

    A ``None`` value with a high confidence means "the caller did not say it"; with a low one it
    means "something was said that we could not resolve" and the call-taker should ask again.
    """

    value: str | bool | None
    confidence: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"confidence must be in [0, 1], got {self.confidence}")


@dataclass(frozen=True)
class Extraction:
    """Draft ticket fields read from a transcript, plus the transcript as normalised Thai text."""

    category: FieldValue
    province_code: FieldValue
    district_code: FieldValue
    phone: FieldValue
    citizen_id: FieldValue
    urgent: FieldValue
    text: str

    def to_json_dict(self) -> dict[str, Any]:
        """Values at the top level, confidences (rounded to 3 places) under ``confidence``."""
        fields = {name: getattr(self, name) for name in FIELD_NAMES}
        out: dict[str, Any] = {name: field.value for name, field in fields.items()}
        out["confidence"] = {name: round(field.confidence, 3) for name, field in fields.items()}
        out["text"] = self.text
        return out
