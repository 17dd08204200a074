"""When a result call may ring a citizen: inside ``HOTLINE_CALL_HOURS`` (Bangkok time), never on
a public holiday of ``holidays.toml``; and whether a callback number can be dialled at all."""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, date, datetime, time, timedelta

from config.citizen_settings import CitizenSettings
from ticketing.timeutil import BANGKOK, as_utc

# Thai numbers a call can reach: mobiles 06/08/09 + 8 digits, landlines 02-07 + 7 digits.
_MOBILE_PREFIXES = ("06", "08", "09")
_EXTENSION_MARKS = ("ต่อ", "ext", "x", "#", ",", ";", "p", "w")


def allowed(moment: datetime, hours: CitizenSettings, holidays: Collection[date]) -> bool:
    local = as_utc(moment).astimezone(BANGKOK)
    if local.date() in holidays:
        return False
    clock = local.time().replace(tzinfo=None)
    return hours.call_start <= clock and (hours.call_end is None or clock < hours.call_end)


def next_allowed(moment: datetime, hours: CitizenSettings, holidays: Collection[date]) -> datetime:
    """``moment`` itself when a call may start then, else the next opening of the window."""
    local = as_utc(moment).astimezone(BANGKOK)
    for _ in range(400):  # more than a year of days: a window always opens within it
        day = local.date()
        if day not in holidays:
            opens = datetime.combine(day, hours.call_start, BANGKOK)
            closes = (
                datetime.combine(day + timedelta(days=1), time(0), BANGKOK)
                if hours.call_end is None
                else datetime.combine(day, hours.call_end, BANGKOK)
            )
            begin = max(local, opens)
            if begin < closes:
                return begin.astimezone(UTC)
        local = datetime.combine(day + timedelta(days=1), time(0), BANGKOK)
    raise ValueError("no call hours in the coming year: check HOTLINE_CALL_HOURS and holidays")


def callback_problem(raw: str | None) -> str | None:
    """Why a ticket's callback number cannot be dialled, or None when it can."""
    if raw is None or not raw.strip():
        return "no callback number on the ticket"
    text = raw.strip().lower()
    if any(mark in text for mark in _EXTENSION_MARKS):
        return "the callback number has an extension: an officer has to call"
    digits = dial_digits(text)
    if digits.isdigit() and len(digits) <= 5:
        return "the callback number is an internal extension"
    if not digits.startswith("0"):
        return "the callback number is not a Thai number"
    if digits.startswith(_MOBILE_PREFIXES):
        return None if len(digits) == 10 else "the callback number has the wrong length"
    if len(digits) > 1 and digits[1] in "234567":
        if len(digits) > 9:
            return "the callback number is a landline with an extension: an officer has to call"
        return None if len(digits) == 9 else "the callback number has the wrong length"
    return "the callback number is not a Thai phone number"


def dial_digits(raw: str) -> str:
    digits = "".join(c for c in raw if c.isdigit())
    return "0" + digits[2:] if raw.strip().startswith("+66") else digits


def is_mobile(raw: str | None) -> bool:
    return (
        bool(raw)
        and callback_problem(raw) is None
        and dial_digits(raw or "").startswith(_MOBILE_PREFIXES)
    )
