"""Choosing one province and one district from the places a transcript mentions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class PlaceResult:
    province_code: str | None
    province_confidence: float
    district_code: str | None
    district_confidence: float


@dataclass(frozen=True)
class Mention:
    kind: str  # "province", "district" or "capital" (อำเภอเมือง without a province)
    codes: tuple[str, ...]
    first: int  # token indexes, inclusive
    last: int
    confidence: float
    anchored: bool


def resolve(mentions: list[Mention], capital_of: dict[str, str]) -> PlaceResult:
    """One province and one district from every place mentioned, with how sure we are."""
    if not mentions:
        return PlaceResult(None, 0.9, None, 0.9)
    districts = [m for m in mentions if m.kind == "district"]
    named: dict[str, float] = defaultdict(float)  # province → best confidence it was named
    for m in mentions:
        if m.kind == "province":
            for code in m.codes:
                named[code] = max(named[code], m.confidence / len(m.codes))
    # A district whose name fits one province only votes for that province; when the caller
    # also named it, the agreement counts extra. A mishearing rarely produces both.
    scores: dict[str, float] = defaultdict(float, named)
    implied: dict[str, float] = defaultdict(float)
    votes: dict[str, float] = defaultdict(float)
    for m in districts:
        provinces = {c[:2] for c in m.codes}
        if len(provinces) == 1:
            code = provinces.pop()
            implied[code] = max(implied[code], m.confidence)
            # "อำเภอ X" is said of where the problem is; a province said in passing
            # ("ผมโทรจากที่ทำงานที่กรุงเทพ") weighs less than a district said with its marker
            votes[code] = max(votes[code], (1.0 if m.anchored else 0.8) * m.confidence)
    for code, vote in votes.items():
        scores[code] += vote + (0.5 if code in named else 0.0)
    capital_said = any(m.kind == "capital" for m in mentions)
    if not scores:
        # Something place-like was said that does not pin a place down: ask the caller.
        return PlaceResult(None, 0.4, None, 0.3)
    province = max(scores, key=lambda c: scores[c])
    confidence = named.get(province) or 0.95 * implied[province]
    if province in named and province in implied:
        confidence = min(1.0, confidence + 0.03)
    if len(scores) > 1:
        confidence *= 0.7  # two provinces came up: the call-taker should check (amber)
    district, district_confidence = _district_in(province, districts, capital_said, capital_of)
    if district is not None and province not in named:
        district_confidence *= 0.95
    return PlaceResult(province, confidence, district, district_confidence)


def _district_in(
    province: str, districts: list[Mention], capital_said: bool, capital_of: dict[str, str]
) -> tuple[str | None, float]:
    consistent = [(m, [c for c in m.codes if c[:2] == province]) for m in districts]
    consistent = [(m, codes) for m, codes in consistent if len(codes) == 1]
    if consistent:
        mention, codes = max(consistent, key=lambda pair: pair[0].confidence)
        return codes[0], mention.confidence
    if capital_said and province in capital_of:
        return capital_of[province], 0.9
    if districts:
        return None, 0.4  # a district was named but not one of this province's
    return None, 0.8  # the caller named only the province
