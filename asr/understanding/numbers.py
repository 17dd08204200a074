"""Phone numbers and citizen IDs read digit by digit ("ศูนย์ แปด โท ...", "ศูนย์แปดเจ็ด...").

PyThaiNLP's ``thaiword_to_num`` reads quantities ("สามร้อย"), not digit strings, so we parse the
digit words ourselves. A run of digit words may be spaced, joined, or broken by "ขีด" (dash) and
hesitations; the run's length and first digits tell a mobile (10 digits, 06/08/09), a landline
(9 digits, 02-07) and a citizen ID (13 digits with a valid check digit) apart.

A 13-digit run whose check digit is wrong is **not returned**: callers and the recogniser get a
digit wrong far more often than a real ID fails its checksum, and a wrong ID in a ticket is worse
than none. Such a run is reported as ``rejected_citizen_id`` so the field gets confidence 0 and
the call-taker asks the caller again.

A digit word that was dropped (by the caller or the recogniser) must not turn into a wrong number:
a 12-digit run is an ID short of a digit, never a phone with two stray digits; a 9-digit run is a
landline only with a real area code (02, 032-039, 042-045, 052-056, 073-077), so a 06/08/09 mobile
short of a digit is no number at all; and a landline said without a word that says it is one
("เบอร์บ้าน", "ที่ทำงาน") is filled but marked unsure, because "ศูนย์ เก้า สอง ..." with the เก้า
dropped reads exactly like a Bangkok number. Digits that make no number mark the field unsure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

DIGIT_WORDS: dict[str, str] = {
    "ศูนย์": "0",
    "ศูนย": "0",
    "สูญ": "0",
    "หนึ่ง": "1",
    "นึ่ง": "1",
    "นึง": "1",
    "สอง": "2",
    "โท": "2",  # radio style, to tell สอง from สาม on a bad line
    "สาม": "3",
    "สี่": "4",
    "ห้า": "5",
    "หก": "6",
    "เจ็ด": "7",
    "แปด": "8",
    "เก้า": "9",
}
# Tokens that may sit between the digits of one number without ending it.
DIGIT_FILLERS = frozenset({"ขีด", "เอ่อ", "เออ", "อ่า", "อ่ะ", "อืม", "เว้นวรรค", "-"})
# Tokens that may separate chunks of one number when the chunks alone make no valid number.
CHUNK_SEPARATORS = frozenset({"ครับ", "ค่ะ", "คะ", "นะ", "นะครับ", "นะคะ", "แล้วก็", "ต่อ"})
PHONE_CUES = ("เบอร์", "โทร", "ติดต่อ", "มือถือ")
# Words that say a number is a fixed line, not a mobile short of a digit.
LANDLINE_CUES = ("บ้าน", "ทำงาน", "ที่ทำงาน", "สำนักงาน", "ออฟฟิศ", "บริษัท", "พื้นฐาน", "ตั้งโต๊ะ")
# Area codes of fixed lines (TOT/NT numbering): 02 Bangkok, then 0XY by region.
LANDLINE_PREFIXES = frozenset(
    ["02"] + [f"03{d}" for d in "23456789"] + [f"04{d}" for d in "2345"]
    + [f"05{d}" for d in "23456"] + [f"07{d}" for d in "34567"]
)  # fmt: skip
_PASSED_BEFORE_NUMBER = CHUNK_SEPARATORS | frozenset({"เบอร์", "โทร", "โทรศัพท์", "ที่", "เลข", "คือ"})
UNCUED_LANDLINE_CONFIDENCE = 0.6  # below the console's 0.7: shown as unsure
UNREAD_CONFIDENCE = 0.3  # digits were said that make no such number: ask again
CITIZEN_ID_CUES = ("บัตร", "ประจำตัว", "สิบสามหลัก")

_ALTERNATION = "|".join(
    # "โท" not followed by ร: "โทร" (to phone) is not the digit two
    "โท(?!ร)" if word == "โท" else re.escape(word)
    for word in sorted(DIGIT_WORDS, key=len, reverse=True)
)
_DIGIT_WORD = re.compile(_ALTERNATION)
_ALL_DIGIT_WORDS = re.compile(f"(?:{_ALTERNATION})+")
# Inside a longer token ("เบอร์ศูนย์แปด...") only a run of 3+ digit words is taken as a number;
# shorter ones are too often parts of other words (สามี, ห้าง, หกล้ม).
_EMBEDDED_RUN = re.compile(f"(?:{_ALTERNATION}){{3,}}")
_ARABIC = re.compile(r"^\+?[0-9][0-9\-]*$")


@dataclass(frozen=True)
class NumberFindings:
    phone: str | None = None
    phone_confidence: float = 0.9
    citizen_id: str | None = None
    citizen_id_confidence: float = 0.95
    rejected_citizen_ids: tuple[str, ...] = ()
    # token index ranges that were read as one number, for rewriting the text with digits
    spans: tuple[tuple[int, int, str], ...] = field(default=())


@lru_cache(maxsize=65536)  # asked of every word, often several times; pure
def digits_from_words(text: str) -> str | None:
    """ "ศูนย์แปดโท" → "082"; None if the text is not made only of digit words."""
    if not _ALL_DIGIT_WORDS.fullmatch(text):
        return None
    return "".join(DIGIT_WORDS[m.group()] for m in _DIGIT_WORD.finditer(text))


def is_valid_citizen_id(digits: str) -> bool:
    """13 digits whose DOPA check digit matches: (11 − Σ d[i]·(13−i) mod 11) mod 10.

    Any first digit: 0 is the type given to people without Thai nationality, exactly the
    callers of CIVIL_REGISTRATION complaints (ticketing/validation.py accepts it too).
    """
    if len(digits) != 13 or not digits.isascii() or not digits.isdigit():
        return False
    total = sum(int(digits[i]) * (13 - i) for i in range(12))
    return (11 - total % 11) % 10 == int(digits[12])


def phone_kind(digits: str) -> str | None:
    if len(digits) == 10 and digits[:2] in ("06", "08", "09"):
        return "mobile"
    if len(digits) == 9 and (digits[:2] in LANDLINE_PREFIXES or digits[:3] in LANDLINE_PREFIXES):
        return "landline"
    return None


@dataclass
class _Chunk:
    digits: str
    first_token: int
    last_token: int
    separated: bool  # a CHUNK_SEPARATORS token stands between this chunk and the previous one


def _token_digits(token: str) -> list[tuple[str, bool]]:
    """Pieces of one token: (digits, True) or (other text, False), in order."""
    arabic = token.replace("-", "")
    if _ARABIC.match(token) and arabic.lstrip("+").isdigit():
        return [(arabic.lstrip("+"), True)]
    whole = digits_from_words(token)
    if whole is not None:
        return [(whole, True)]
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _EMBEDDED_RUN.finditer(token):
        if match.start() > position:
            pieces.append((token[position : match.start()], False))
        pieces.append((digits_from_words(match.group()) or "", True))
        position = match.end()
    if position < len(token):
        pieces.append((token[position:], False))
    return pieces


def _chunks(tokens: list[str]) -> list[_Chunk]:
    """Runs of digits; a run continues across fillers, and notes a separator before it."""
    chunks: list[_Chunk] = []
    current: _Chunk | None = None
    separator_seen = False
    for index, token in enumerate(tokens):
        if current is not None and token in DIGIT_FILLERS:
            continue
        pieces = _token_digits(token)
        for position, (text, is_digits) in enumerate(pieces):
            if is_digits:
                if current is None:
                    current = _Chunk(text, index, index, separated=separator_seen)
                else:
                    current.digits += text
                    current.last_token = index
                continue
            # text after digits inside a token, or a word between digits, ends the run
            if current is not None:
                chunks.append(current)
                current = None
            separator_seen = token in CHUNK_SEPARATORS and len(pieces) == 1 and position == 0
    if current is not None:
        chunks.append(current)
    return chunks


def _classify(digits: str) -> str | None:
    if is_valid_citizen_id(digits):
        return "citizen_id"
    if len(digits) == 13:
        return "rejected_citizen_id"
    return phone_kind(digits)


def _numbers(tokens: list[str], chunks: list[_Chunk]) -> list[tuple[str, str, int, int]]:
    """(kind, digits, first_token, last_token) for every number found in the chunks.

    Adjacent chunks are joined across a separator only when they make a number together and
    not apart; a run that is two numbers said without a pause (phone then ID) is split.
    """
    found: list[tuple[str, str, int, int]] = []
    index = 0
    while index < len(chunks):
        chunk = chunks[index]
        kind = _classify(chunk.digits)
        if kind is None and index + 1 < len(chunks) and _next_to(tokens, chunk, chunks[index + 1]):
            joined = chunk.digits + chunks[index + 1].digits
            joined_kind = _classify(joined)
            if joined_kind is not None and _classify(chunks[index + 1].digits) is None:
                found.append((joined_kind, joined, chunk.first_token, chunks[index + 1].last_token))
                index += 2
                continue
        if kind is None:
            found.extend(_split_run(chunk))
        else:
            found.append((kind, chunk.digits, chunk.first_token, chunk.last_token))
        index += 1
    return found


def _next_to(tokens: list[str], chunk: _Chunk, following: _Chunk) -> bool:
    """Whether only separators ("ครับ", "ต่อ") stand between two chunks: one number said in
    two breaths. A digit said long before ("เกือบ สอง เมตร") is not the start of an ID."""
    between = tokens[chunk.last_token + 1 : following.first_token]
    return (
        following.separated
        and 0 < len(between) <= 2
        and all(t in CHUNK_SEPARATORS or t in DIGIT_FILLERS for t in between)
    )


def _split_run(chunk: _Chunk) -> list[tuple[str, str, int, int]]:
    digits = chunk.digits
    for first_length in (10, 9, 13):
        head, tail = digits[:first_length], digits[first_length:]
        head_kind, tail_kind = _classify(head), _classify(tail)
        if head_kind and tail_kind and head_kind != tail_kind:
            return [
                (head_kind, head, chunk.first_token, chunk.last_token),
                (tail_kind, tail, chunk.first_token, chunk.last_token),
            ]
    # a stray digit word next to the number ("อาทิตย์ นึง ศูนย์ แปด ..."): drop it. Never from
    # 12 digits to a mobile: that is an ID short of a digit far more often than two strays.
    for trimmed in (digits[1:], digits[:-1], digits[2:], digits[:-2]):
        kind = _classify(trimmed)
        if kind == "citizen_id" or (kind == "mobile" and len(digits) == 11):
            return [(kind, trimmed, chunk.first_token, chunk.last_token)]
    return []


def find_numbers(tokens: list[str]) -> NumberFindings:
    chunks = _chunks(tokens)
    numbers = _numbers(tokens, chunks)
    phones = [n for n in numbers if n[0] in ("mobile", "landline")]
    ids = [n for n in numbers if n[0] == "citizen_id"]
    rejected = tuple(n[1] for n in numbers if n[0] == "rejected_citizen_id")
    unread = [
        c
        for c in chunks
        if len(c.digits) >= 6
        and not any(n[2] <= c.first_token and c.last_token <= n[3] for n in numbers)
    ]

    phone, phone_confidence = None, 0.9
    if phones:
        cued = [p for p in phones if _cued(tokens, p[2], PHONE_CUES)]
        kind, phone, first, _ = (cued or phones)[0]
        phone_confidence = 0.95 if cued else 0.85
        if kind == "landline":
            phone_confidence -= 0.05
            if not _landline_cued(tokens, first):
                phone_confidence = min(phone_confidence, UNCUED_LANDLINE_CONFIDENCE)
        if len({p[1] for p in phones}) > 1:
            phone_confidence -= 0.25  # two different numbers: the call-taker should check
    elif unread:
        phone_confidence = UNREAD_CONFIDENCE

    citizen_id, id_confidence = None, 0.95
    if ids:
        citizen_id = ids[0][1]
        id_confidence = 0.97 if len({i[1] for i in ids}) == 1 else 0.6
    elif rejected:
        id_confidence = 0.0
    elif any(len(c.digits) >= 11 for c in unread):
        id_confidence = UNREAD_CONFIDENCE  # an ID short of a digit, most likely
    return NumberFindings(
        phone=phone,
        phone_confidence=phone_confidence,
        citizen_id=citizen_id,
        citizen_id_confidence=id_confidence,
        rejected_citizen_ids=rejected,
        spans=tuple((n[2], n[3], n[1]) for n in numbers),
    )


def _cued(tokens: list[str], first_token: int, cues: tuple[str, ...], reach: int = 3) -> bool:
    # the token itself too: "เบอร์โทรศูนย์แปด..." carries its cue inside
    before = "".join(tokens[max(0, first_token - reach) : first_token + 1])
    return any(cue in before for cue in cues)


def _landline_cued(tokens: list[str], first_token: int) -> bool:
    """A fixed-line word right before the number, past "เบอร์", "โทร" and particles
    ("เบอร์ บ้าน ครับ ศูนย์ สอง ..."); whole words only ("บ้านไผ่" is a district)."""
    for token in reversed(tokens[max(0, first_token - 5) : first_token]):
        if token in LANDLINE_CUES or (
            token.startswith(PHONE_CUES) and token.endswith(LANDLINE_CUES)
        ):
            return True
        if token not in _PASSED_BEFORE_NUMBER:
            return False
    return False
