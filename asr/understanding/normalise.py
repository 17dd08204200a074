"""Vosk's space-separated Thai words → tokens, matching form and readable Thai text.

Vosk prints Thai as dictionary words separated by spaces ("น้ำ ท่วม บ้าน"), while Thai writing has
no spaces between words. We keep the tokens (word boundaries help to tell a place name from a
syllable inside another word) and also match phrases on the text with spaces removed, so that a
phrase matches however the recogniser happened to split it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# Thai digits ๐-๙ are read as Arabic digits everywhere downstream.
_THAI_DIGITS = str.maketrans("๐๑๒๓๔๕๖๗๘๙", "0123456789")
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\ufeff]")
# Characters that differ between spellings of the same thing ("ธ.ก.ส." / "ธ ก ส", "โก-ลก").
_MATCH_NOISE = re.compile(r"[\s.\-'\"(),!?]")
_TOKEN_PUNCT = re.compile(r"^[\"'(),!?;:]+|[\"'(),!?;:.]+$")
_THAI_CHAR = re.compile("[\u0e00-\u0e7f]")

# Level words callers say before a place; split off when glued to the name ("อำเภอเมือง").
PLACE_MARKERS = ("กิ่งอำเภอ", "อำเภอ", "จังหวัด", "เขต", "ตำบล", "แขวง")
_GLUED_MARKER = re.compile(f"^({'|'.join(PLACE_MARKERS)})(.{{2,}})$")
# Politeness particles end a spoken clause; they are where a written sentence would break.
CLAUSE_PARTICLES = frozenset({"ครับ", "คับ", "ค่ะ", "คะ", "ค่า", "จ้ะ", "จ้า", "ฮะ", "ขอรับ"})


def clean(transcript: str) -> str:
    """Unicode NFC, Thai digits → Arabic, no zero-width characters, single spaces."""
    text = unicodedata.normalize("NFC", transcript).translate(_THAI_DIGITS)
    return " ".join(_ZERO_WIDTH.sub("", text).split())


def tokenise(transcript: str, split: Callable[[str], list[str]] | None = None) -> list[str]:
    """The transcript's words, with punctuation trimmed and place markers split off names.

    "อ." and "จ." (written abbreviations) become "อำเภอ" and "จังหวัด". ``split`` cuts a
    space-separated token into words (``segment.Segmenter.split``, for Thai typed without spaces).
    """
    tokens: list[str] = []
    raws = clean(transcript).split(" ")
    if split is not None:
        raws = [word for raw in raws for word in split(raw)]
    for raw in raws:
        if raw in ("อ.", "จ.", "ต."):
            tokens.append({"อ.": "อำเภอ", "จ.": "จังหวัด", "ต.": "ตำบล"}[raw])
            continue
        token = _TOKEN_PUNCT.sub("", raw) if _THAI_CHAR.search(raw) else raw.strip("\"'(),!?;:")
        if not token:
            continue
        glued = _GLUED_MARKER.match(token)
        tokens.extend(glued.groups() if glued else (token,))
    return tokens


def match_form(text: str) -> str:
    """The form phrases are matched in: no spaces, dots, hyphens or quotes."""
    return _MATCH_NOISE.sub("", clean(text))


def is_thai(token: str) -> bool:
    return bool(_THAI_CHAR.search(token))


def readable_text(tokens: list[str]) -> str:
    """Thai as it is written: words joined, a space after each clause and around non-Thai words."""
    parts: list[str] = []
    for index, token in enumerate(tokens):
        if index:
            previous = tokens[index - 1]
            glue = is_thai(token) and is_thai(previous) and previous not in CLAUSE_PARTICLES
            if not glue:
                parts.append(" ")
        parts.append(token)
    return "".join(parts)
