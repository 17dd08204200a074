"""Numbers, dates, references and statuses spoken as sequences of prompt ids (pure functions).

Thai numbers are built from digit prompts and place words: 21 = ยี่สิบ + เอ็ด, 2569 = สอง พัน
ห้า ร้อย หก สิบ เก้า. Any reference or date can thus be read with a few dozen recorded words.
"""

from __future__ import annotations

from datetime import date

DIGIT_IDS = tuple(f"digit_{d}" for d in range(10))
MONTH_IDS = tuple(f"month_{m}" for m in range(1, 13))
# Place words for positions above tens; index = power of ten.
_PLACE_IDS = {2: "num_100", 3: "num_1000", 4: "num_10000", 5: "num_100000"}

STATUS_IDS = {
    "draft": "status_received",
    "confirmed": "status_received",
    "routed": "status_with_agency",
    "in_progress": "status_in_progress",
    "resolved": "status_resolved",
    "closed": "status_closed",
    "rejected": "status_not_proceeding",
    "duplicate": "status_not_proceeding",
    "reopened": "status_reopened",
}
AGENCY_GENERIC = "agency_generic"


def sequence_for_digits(digits: str) -> list[str]:
    """Each digit on its own: phone numbers, references, hotline numbers."""
    if not digits.isascii() or not digits.isdigit():
        raise ValueError(f"digits only, got {digits!r}")
    return [DIGIT_IDS[int(d)] for d in digits]


def sequence_for_number(number: int) -> list[str]:
    """A whole number 0..999,999,999 the Thai way (สิบ, ยี่สิบ, เอ็ด, ล้าน)."""
    if number < 0 or number >= 1_000_000_000:
        raise ValueError(f"cannot speak {number}")
    if number == 0:
        return [DIGIT_IDS[0]]
    millions, rest = divmod(number, 1_000_000)
    out: list[str] = []
    if millions:
        out += [*_below_million(millions), "num_1000000"]
    if rest:
        out += _below_million(rest, after_higher=bool(millions))
    return out


def _below_million(number: int, *, after_higher: bool = False) -> list[str]:
    out: list[str] = []
    digits = str(number)
    length = len(digits)
    for position, char in enumerate(digits):
        value = int(char)
        power = length - 1 - position
        if value == 0:
            continue
        if power == 1:
            if value == 2:
                out.append("num_20")
            else:
                if value != 1:
                    out.append(DIGIT_IDS[value])
                out.append("num_10")
        elif power == 0:
            # A trailing one after any higher place is "เอ็ด" (11, 21, 101, 1,000,001).
            higher = after_higher or number >= 10
            out.append("num_unit_1" if value == 1 and higher else DIGIT_IDS[value])
        else:
            out += [DIGIT_IDS[value], _PLACE_IDS[power]]
    return out


def sequence_for_reference(reference: str) -> list[str]:
    """A reference digit by digit, with short pauses after the year and before the check digit
    so a caller can write it down."""
    digits = "".join(ch for ch in reference if ch not in " -")
    seq = sequence_for_digits(digits)
    if len(seq) < 4:
        return seq
    return [*seq[:2], "pause", *seq[2:-1], "pause", seq[-1]]


def sequence_for_date(day: date) -> list[str]:
    """Day, Thai month name and the Buddhist-era year: 5 มีนาคม พ.ศ. 2569."""
    return [
        *sequence_for_number(day.day),
        MONTH_IDS[day.month - 1],
        "word_year_be",
        *sequence_for_number(day.year + 543),
    ]


def sequence_for_time(hour: int, minute: int) -> list[str]:
    """24-hour official style: 8 นาฬิกา 30 นาที."""
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"not a time: {hour}:{minute}")
    out = [*sequence_for_number(hour), "word_hour"]
    if minute:
        out += [*sequence_for_number(minute), "word_minute"]
    return out


def status_prompt(status: str) -> str:
    return STATUS_IDS.get(status, "status_received")


def agency_prompt(agency_code: str | None, known_ids: frozenset[str]) -> str:
    """The spoken kind of agency: per-province agencies share their base code's word."""
    if not agency_code:
        return AGENCY_GENERIC
    base = agency_code.split("-", 1)[0].lower()
    candidate = f"agency_{base}"
    return candidate if candidate in known_ids else AGENCY_GENERIC
