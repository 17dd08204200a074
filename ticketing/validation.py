"""Cleaning of values people and machines type: phone numbers, citizen IDs, free text."""

from __future__ import annotations

import re

from ticketing.errors import InvalidInput

CHANNELS = ("phone", "web", "api", "walk_in", "letter", "line")

_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def citizen_id_check_digit(first12: str) -> int:
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return (11 - total % 11) % 10


def is_valid_citizen_id(value: str) -> bool:
    return (
        len(value) == 13
        and value.isascii()
        and value.isdigit()
        and citizen_id_check_digit(value[:12]) == int(value[12])
    )


def clean_phone(value: str | None) -> str | None:
    """Digits of a Thai phone number; +66 becomes 0. Accepts what SIP From headers carry."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("caller_phone must be a string of digits", "caller_phone")
    digits = _PHONE_SEPARATORS.sub("", value)
    if not digits:
        return None
    if digits.startswith("+66"):
        digits = "0" + digits[3:]
    elif digits.startswith("66") and len(digits) in (10, 11):
        digits = "0" + digits[2:]
    if not digits.isascii() or not digits.isdigit() or not 3 <= len(digits) <= 15:
        raise InvalidInput(f"not a phone number: {value!r}", "caller_phone")
    return digits


def clean_citizen_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput("citizen_id must be a string of 13 digits", "citizen_id")
    digits = re.sub(r"[\s\-]", "", value)
    if not digits:
        return None
    if not is_valid_citizen_id(digits):
        raise InvalidInput("citizen_id must be 13 digits with a valid check digit", "citizen_id")
    return digits


def clean_text(value: str | None, field: str, max_length: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field)
    # NUL bytes break PostgreSQL text and are never meaningful in a complaint.
    text = value.replace("\x00", "").strip()
    if required and not text:
        raise InvalidInput(f"{field} is required", field)
    if len(text) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field)
    return text
