"""Province and district (DOPA codes, from geothai) named in a transcript.

How callers name places, and what each becomes:
- "อำเภอ หางดง เชียงใหม่", "เขต ลาดพร้าว": a district, with or without its province;
- "อำเภอ เมือง อุบล" / "อำเภอเมืองอุบลราชธานี": the province's capital district (its code ends 01);
- "กรุงเทพ", "กทม", "โคราช", "อุบล": short names, listed in the TOML;
- "บางพลี" alone: a district name unique in the country gives its province as well;
- "อำเภอ เมือง" or "เฉลิมพระเกียรติ" with no province: ambiguous, so no district.

Names are matched on whole recogniser words (joined when the recogniser split a name, as in
"บาง บัว ทอง"), never inside a word: "เลย" the province is not the "เลย" in "ไม่ได้เงินเลย".
Misheard names ("พิศณุโลก", "สมุด ปราการ") are matched on a phonetic key, then fuzzily, but only
right after a level word (อำเภอ / เขต / จังหวัด), where a place name is expected; without one,
only long names on their phonetic key ("ปทุมรัต" for ปทุมรัตต์).

Thai typed without spaces reaches here cut into words (``segment``), and a misspelt name may come
out in pieces whose first is a short district ("อำเภอ หนองบัว แดน" for หนองบัวแดง): a close longer
name over the pieces wins over the short one, as long as the pieces are not names themselves.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace
from functools import lru_cache

import geothai
from rapidfuzz import fuzz, process

from asr.understanding.errors import UnderstandingConfigError
from asr.understanding.normalise import CLAUSE_PARTICLES, match_form
from asr.understanding.numbers import digits_from_words
from asr.understanding.place_resolve import Mention, PlaceResult, resolve
from asr.understanding.settings import PlaceSettings

BANGKOK = "10"
DISTRICT_MARKERS = frozenset({"อำเภอ", "กิ่งอำเภอ"})
KHET_MARKERS = frozenset({"เขต"})
PROVINCE_MARKERS = frozenset({"จังหวัด"})
SUBDISTRICT_MARKERS = frozenset({"ตำบล", "แขวง"})
ALL_MARKERS = DISTRICT_MARKERS | KHET_MARKERS | PROVINCE_MARKERS | SUBDISTRICT_MARKERS
CAPITAL_WORD = "เมือง"
# Words after which a bare place name is expected ("อยู่ ตาก", "ที่ ยะลา").
LOCATIVES = frozenset({"อยู่", "ที่", "แถว", "จาก", "อยู่ที่"})
MAX_SPAN = 4  # a name split into at most this many recogniser words
MIN_BARE_DISTRICT = 4  # shorter district names must follow อำเภอ / เขต
HOUSE_WORD = "บ้าน"  # "บ้าน X" alone is a house, not the district บ้านX
WEAK_PROVINCE_CONFIDENCE = 0.6  # a province name that is also an everyday word ("เลย")
ANCHORED_FUZZY_CUTOFF = 78.0
SHORT_FUZZY_CUTOFF = 88.0
BARE_PROVINCE_FUZZY_CUTOFF = 90.0
LONGER_NAME_FUZZY_CUTOFF = 86.0  # a longer misspelt name over a short exact one
BARE_PHONETIC_SHORTEST = 6  # letters of a name matched phonetically with no level word before

# Letters Thai speakers pronounce alike, which a recogniser (or a caller typing) confuses.
_PHONETIC = str.maketrans(
    {
        "ศ": "ส",
        "ษ": "ส",
        "ซ": "ส",
        "ธ": "ท",
        "ฑ": "ท",
        "ฒ": "ท",
        "ฎ": "ด",
        "ฏ": "ต",
        "ณ": "น",
        "ภ": "พ",
        "ฆ": "ค",
        "ฐ": "ถ",
        "ฬ": "ล",
        "ญ": "ย",
        "ร": "ล",
        "ฤ": "ล",
    }
)
_TONE_MARKS = re.compile("[\u0e48-\u0e4b\u0e47]")
_SILENT = re.compile(".\u0e4c")  # a letter under the silencer (การันต์) is not pronounced


@lru_cache(maxsize=65536)  # the same words come up in call after call; keys are pure
def phonetic_key(name: str) -> str:
    """A spelling-insensitive key: "ศรีษะเกษ" and "ศรีสะเกษ" share one."""
    key = _SILENT.sub("", match_form(name).replace("ฯ", ""))
    return _TONE_MARKS.sub("", key).translate(_PHONETIC)


@lru_cache(maxsize=65536)
def name_key(name: str) -> str:
    return match_form(name).replace("ฯ", "")


class PlaceIndex:
    """Name indexes over geothai, built once; ``find`` is then pure and thread-safe."""

    def __init__(self, settings: PlaceSettings) -> None:
        self._settings = settings
        self._province_names = {p.code: p.name_th for p in geothai.provinces()}
        for alias, code in settings.province_aliases.items():
            if code not in self._province_names:
                raise UnderstandingConfigError(
                    f"[places.province_aliases]: {alias!r}: no province has code {code!r}"
                )
        self._provinces: dict[str, str] = {}  # name key → province code
        for code, name in self._province_names.items():
            self._provinces[name_key(name)] = code
        for alias, code in settings.province_aliases.items():
            self._provinces.setdefault(name_key(alias), code)
        self._districts: dict[str, set[str]] = defaultdict(set)  # name key → district codes
        self.capital_of: dict[str, str] = {}
        for province_code in self._province_names:
            for district in geothai.districts(province_code):
                name = district.name_th
                if province_code == BANGKOK and name.startswith("เขต"):
                    name = name[3:]
                self._districts[name_key(name)].add(district.code)
            if province_code != BANGKOK:
                self.capital_of[province_code] = f"{province_code}01"
        # "เมืองอุบล", "เมืองโคราช": capital district said with the province's short name
        for key, province_code in self._provinces.items():
            if province_code in self.capital_of:
                self._districts.setdefault(CAPITAL_WORD + key, {self.capital_of[province_code]})
        self._provinces_phonetic = _phonetic_index({k: {v} for k, v in self._provinces.items()})
        self._districts_phonetic = _phonetic_index(self._districts)
        self._province_choices = list(self._provinces_phonetic)
        self._district_choices = list(self._districts_phonetic)

    def province_name(self, code: str) -> str:
        return self._province_names[code]

    def names(self) -> set[str]:
        """Every name and spoken form matched, as written and as matched (for segmentation)."""
        names = set(self._provinces) | set(self._districts) | set(self._settings.province_aliases)
        names.update(self._province_names.values())
        return names

    # --- finding mentions

    def find(self, tokens: list[str]) -> PlaceResult:
        mentions = self._mentions(tokens)
        return resolve(mentions, self.capital_of)

    def _mentions(self, tokens: list[str]) -> list[Mention]:
        mentions: list[Mention] = []
        index = 0
        while index < len(tokens):
            token = tokens[index]
            marker = tokens[index - 1] if index and tokens[index - 1] in ALL_MARKERS else None
            # a stop word is no place, except a district whose name is a number ("อำเภอ สอง")
            if token in ALL_MARKERS or (_is_stop(token) and marker not in DISTRICT_MARKERS):
                index += 1
                continue
            if (
                marker is None
                and index >= 2
                and tokens[index - 1] == CAPITAL_WORD
                and tokens[index - 2] in DISTRICT_MARKERS
            ):
                # "อำเภอ เมือง <province>": the word after is a province, as after จังหวัด
                marker = "จังหวัด"
            if marker in SUBDISTRICT_MARKERS:
                index += 1  # a subdistrict's name often repeats a district's; skip it
                continue
            found = self._exact(tokens, index, marker)
            if found and marker in DISTRICT_MARKERS | KHET_MARKERS and _short_name(found):
                # "อำเภอ หนองบัว แดน": a misspelt name typed without spaces comes out in pieces,
                # the first of them a short district; a close longer name wins over it
                found = self._longer_misspelt(tokens, index, marker, found[0].last) or found
            if found is None and marker in DISTRICT_MARKERS and token == CAPITAL_WORD:
                # "อำเภอ เมือง" and then no province: the capital of whichever province is named
                found = [Mention("capital", (), index, index, 0.9, anchored=True)]
            if found is None and marker is not None:
                found = self._fuzzy(tokens, index, marker)
            if found is None and marker is None:
                found = self._bare_fuzzy_province(tokens, index)
            if not found:
                index += 1
                continue
            mentions.extend(found)
            index = max(m.last for m in found) + 1
        kept = [m for m in mentions if self._plausible(m, tokens, mentions)]
        # "อยู่ เลย ครับ" is as often "still there" as "I live in Loei": such a province counts
        # less than a place said plainly, which wins if there is one.
        return [
            replace(m, confidence=WEAK_PROVINCE_CONFIDENCE) if self._everyday_word(m, tokens) else m
            for m in kept
        ]

    def _everyday_word(self, mention: Mention, tokens: list[str]) -> bool:
        return (
            mention.kind == "province"
            and not mention.anchored
            and mention.first == mention.last
            and name_key(tokens[mention.first]) in self._settings.ambiguous_province_words
        )

    def _exact(self, tokens: list[str], start: int, marker: str | None) -> list[Mention] | None:
        for length in range(MAX_SPAN, 0, -1):
            span = _span(tokens, start, length)
            if span is None:
                continue
            key = name_key(span)
            last = start + length - 1
            found: list[Mention] = []
            said_alone = (
                start > 0
                and tokens[start - 1] in LOCATIVES
                and (last + 1 == len(tokens) or tokens[last + 1] in CLAUSE_PARTICLES)
            )
            districts = self._district_candidates(
                self._districts.get(key), key, marker, said_alone=said_alone
            )
            if districts:
                # a short or everyday-word name after อำเภอ may be the start of a misheard
                # longer one ("อำเภอ พนม ไพ" for พนมไพร): it does not outvote a named province
                plain = (
                    len(key) >= MIN_BARE_DISTRICT
                    and key not in self._settings.common_word_districts
                )
                confidence = 0.95 if marker and plain else 0.85
                found.append(Mention("district", districts, start, last, confidence, bool(marker)))
            if key in self._provinces and (marker not in DISTRICT_MARKERS or not districts):
                confidence = 0.95 if marker in PROVINCE_MARKERS else 0.9
                province = self._provinces[key]
                found.append(
                    Mention("province", (province,), start, last, confidence, bool(marker))
                )
            shortest = 2 if marker in DISTRICT_MARKERS | KHET_MARKERS else 4
            if not found and marker is not None and len(key) >= shortest:
                # a phonetic twin after a level word: "พิศณุโลก" for "พิษณุโลก"
                found = self._phonetic(key, start, last, marker)
            elif not found and marker is None and len(key) >= BARE_PHONETIC_SHORTEST:
                # without one, only long names: "ปทุมรัต" for ปทุมรัตต์ (else "ปทุม" would win)
                found = [replace(m, confidence=0.75, anchored=False) for m in
                         self._phonetic(key, start, last, "")]  # fmt: skip
            if found:
                return found
        return None

    def _phonetic(self, key: str, start: int, last: int, marker: str) -> list[Mention]:
        phonetic = phonetic_key(key)
        found: list[Mention] = []
        districts = self._district_candidates(self._districts_phonetic.get(phonetic), key, marker)
        if districts and marker not in PROVINCE_MARKERS:
            found.append(Mention("district", districts, start, last, 0.8, anchored=True))
        provinces = self._provinces_phonetic.get(phonetic)
        if provinces and not found:
            found.append(Mention("province", tuple(sorted(provinces)), start, last, 0.8, True))
        return found

    def _longer_misspelt(
        self, tokens: list[str], start: int, marker: str, last: int
    ) -> list[Mention] | None:
        """A close longer name over the words after a short one, if those words are not
        names themselves ("อำเภอ เฉลิมพระเกียรติ น่าน" is that district of Nan)."""
        end = last + 1
        while end < min(len(tokens), start + MAX_SPAN) and not self._is_name(tokens[end]):
            end += 1
        if end == last + 1:
            return None
        return self._fuzzy(tokens, start, marker, lengths=range(last - start + 2, end - start + 1))

    def _is_name(self, token: str) -> bool:
        key = name_key(token)
        return key in self._provinces or key in self._districts

    def _fuzzy(
        self, tokens: list[str], start: int, marker: str, lengths: range | None = None
    ) -> list[Mention] | None:
        """A misheard name after a level word. Given ``lengths`` (in words), only close matches
        count: they replace a short name that was found exactly."""
        best: tuple[float, int, str, set[str]] | None = None  # score, length, kind, codes
        # district names may hold number words: "อำเภอ ท่า สอง ยาว" for ท่าสองยาง
        numbers_inside = marker in DISTRICT_MARKERS | KHET_MARKERS
        for length in lengths or range(1, MAX_SPAN):
            span = _span(tokens, start, length, numbers_inside=numbers_inside)
            if span is None:
                break
            query = phonetic_key(span)
            if len(query) < 4:
                continue
            # one wrong letter in a short word is a different word ("ตั้ง" is not "ตรัง")
            cutoff = ANCHORED_FUZZY_CUTOFF if len(query) >= 6 else SHORT_FUZZY_CUTOFF
            if lengths is not None:
                cutoff = max(cutoff, LONGER_NAME_FUZZY_CUTOFF)
            for kind, choices, index in self._fuzzy_targets(marker):
                match = process.extractOne(query, choices, scorer=fuzz.ratio, score_cutoff=cutoff)
                if match is None:
                    continue
                score = float(match[1])
                if best is None or (score, length) > (best[0], best[1]):
                    best = (score, length, kind, index[match[0]])
        if best is None:
            return None
        score, length, kind, codes = best
        candidates = (
            self._district_candidates(codes, "", marker) if kind == "district" else tuple(codes)
        )
        if not candidates:
            return None
        confidence = round(
            0.4 + 0.45 * (score - ANCHORED_FUZZY_CUTOFF) / (100 - ANCHORED_FUZZY_CUTOFF), 3
        )
        return [Mention(kind, candidates, start, start + length - 1, confidence, anchored=True)]

    def _fuzzy_targets(self, marker: str) -> list[tuple[str, list[str], dict[str, set[str]]]]:
        districts = ("district", self._district_choices, self._districts_phonetic)
        provinces = ("province", self._province_choices, self._provinces_phonetic)
        if marker in PROVINCE_MARKERS:
            return [provinces]
        return [districts, provinces]

    def _bare_fuzzy_province(self, tokens: list[str], start: int) -> list[Mention] | None:
        """A province said without จังหวัด and misheard: only long names, close matches."""
        for length in range(MAX_SPAN - 1, 0, -1):
            span = _span(tokens, start, length)
            if span is None:
                continue
            query = phonetic_key(span)
            if len(query) < 6:
                continue
            codes = self._provinces_phonetic.get(query)
            score = 100.0
            if codes is None:
                match = process.extractOne(
                    query,
                    self._province_choices,
                    scorer=fuzz.ratio,
                    score_cutoff=BARE_PROVINCE_FUZZY_CUTOFF,
                )
                if match is None:
                    continue
                codes, score = self._provinces_phonetic[match[0]], float(match[1])
            confidence = 0.8 if score == 100.0 else 0.65
            return [
                Mention(
                    "province", tuple(sorted(codes)), start, start + length - 1, confidence, False
                )
            ]
        return None

    def _district_candidates(
        self, codes: set[str] | None, key: str, marker: str | None, *, said_alone: bool = False
    ) -> tuple[str, ...]:
        """``said_alone``: the name is a whole clause after a locative ("อยู่ ปาย ครับ"), where
        a short name is a place as surely as after อำเภอ."""
        if not codes:
            return ()
        if marker is None and (
            (len(key) < MIN_BARE_DISTRICT and not said_alone)
            or key in self._settings.common_word_districts
            or key.startswith(HOUSE_WORD)  # "บ้าน สร้าง" is a house being built, not บ้านสร้าง
        ):
            return ()
        # "เขต" names a Bangkok khet, "อำเภอ" a district elsewhere; callers sometimes mix them
        # up, so the filter only applies when it leaves something.
        if marker in KHET_MARKERS:
            preferred = {c for c in codes if c.startswith(BANGKOK)}
        elif marker in DISTRICT_MARKERS:
            preferred = {c for c in codes if not c.startswith(BANGKOK)}
        else:
            preferred = set(codes)
        return tuple(sorted(preferred or codes))

    def _plausible(self, mention: Mention, tokens: list[str], mentions: list[Mention]) -> bool:
        """A province name that is also an everyday word needs a place context around it."""
        if not self._everyday_word(mention, tokens):
            return True
        previous = tokens[mention.first - 1] if mention.first else ""
        if previous in LOCATIVES:
            return True
        code = mention.codes[0]
        return any(
            other.last == mention.first - 1
            and (other.kind == "capital" or any(c[:2] == code for c in other.codes))
            for other in mentions
        )


def _phonetic_index(index: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for key, codes in index.items():
        out[phonetic_key(key)].update(codes)
    return dict(out)


def _is_stop(token: str) -> bool:
    return token in CLAUSE_PARTICLES or token in LOCATIVES or digits_from_words(token) is not None


def _span(
    tokens: list[str], start: int, length: int, *, numbers_inside: bool = False
) -> str | None:
    """The words tokens[start:start+length] joined, or None if the span crosses a boundary
    (a level word, a particle, a locative, or a number word unless ``numbers_inside``)."""
    if start + length > len(tokens):
        return None
    words = tokens[start : start + length]
    for word in words[1:]:
        if word in ALL_MARKERS:
            return None
        if _is_stop(word) and not (numbers_inside and digits_from_words(word) is not None):
            return None
    return "".join(words)


def _short_name(found: list[Mention]) -> bool:
    """Whether an exact match is only a short or everyday-word district (confidence 0.85)."""
    return all(m.kind == "district" and m.confidence < 0.9 for m in found)
