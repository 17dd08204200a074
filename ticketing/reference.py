"""Ticket reference numbers a caller can key on a phone keypad and hear read back.

Format: two digits of the Buddhist-era year, a sequence of at least six digits, and one Damm check
digit (9+ digits, e.g. ``690001234`` + check). The Damm algorithm detects every single-digit error
and every transposition of adjacent digits — the two mistakes people make on a keypad.
"""

from __future__ import annotations

from datetime import datetime

from ticketing.timeutil import bangkok_time

_DAMM_TABLE = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)

SEQUENCE_DIGITS = 6
MIN_LENGTH = 2 + SEQUENCE_DIGITS + 1


class InvalidReference(ValueError):
    """A reference that is not digits, too short, or fails its check digit."""


def damm_digit(digits: str) -> int:
    interim = 0
    for char in digits:
        interim = _DAMM_TABLE[interim][int(char)]
    return interim


def buddhist_year_prefix(moment: datetime) -> int:
    """The year is Thailand's: a ticket made at 01:00 on 1 January in Bangkok is the new year's."""
    return (bangkok_time(moment).year + 543) % 100


def format_reference(year_prefix: int, sequence: int) -> str:
    if not 0 <= year_prefix < 100 or sequence < 1:
        raise ValueError(f"bad reference parts: year {year_prefix}, sequence {sequence}")
    body = f"{year_prefix:02d}{sequence:0{SEQUENCE_DIGITS}d}"
    return body + str(damm_digit(body))


def normalize_reference(text: str) -> str:
    """Digits of a reference as typed (spaces and dashes allowed); raises if the check fails."""
    digits = "".join(ch for ch in text if ch not in " -")
    if not digits.isascii() or not digits.isdigit():
        raise InvalidReference(f"a reference is digits only, got {text!r}")
    if len(digits) < MIN_LENGTH:
        raise InvalidReference(f"a reference has at least {MIN_LENGTH} digits, got {len(digits)}")
    if damm_digit(digits) != 0:
        raise InvalidReference(f"check digit does not match in {digits}")
    return digits


def is_valid_reference(text: str) -> bool:
    try:
        normalize_reference(text)
    except InvalidReference:
        return False
    return True
