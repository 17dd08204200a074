"""A digit word the caller or the recogniser dropped never becomes a wrong number.

The field is left empty and marked unsure (confidence below 0.7, the console's amber), or, where
the shorter number is itself a valid one that nothing tells apart (a 09-2 mobile without its 9
reads as a Bangkok 02 number), filled but marked unsure.
"""

from __future__ import annotations

import pytest

from asr.understanding import Understanding

UNSURE = 0.7  # agent_ui/console/static/console/state.js UNSURE_FIELD
MOBILE = "ศูนย์ แปด หนึ่ง สอง สาม สี่ ห้า หก เจ็ด แปด"  # 0812345678
ID = "หนึ่ง หนึ่ง ศูนย์ หนึ่ง เจ็ด ศูนย์ ศูนย์ สอง สาม ศูนย์ หก เจ็ด แปด"  # 1101700230678


def _without(words: str, position: int) -> str:
    kept = words.split()
    del kept[position]
    return " ".join(kept)


@pytest.mark.parametrize("position", range(10))
@pytest.mark.parametrize("spaces", [True, False], ids=["spaced", "spaceless"])
def test_mobile_short_of_a_digit_is_left_empty(
    understanding: Understanding, position: int, spaces: bool
) -> None:
    text = f"เบอร์ {_without(MOBILE, position)} ครับ"
    if not spaces:
        text = "".join(text.split())
    field = understanding.extract(text).phone
    assert field.value is None
    assert field.confidence < UNSURE


@pytest.mark.parametrize("position", range(13))
@pytest.mark.parametrize("spaces", [True, False], ids=["spaced", "spaceless"])
def test_id_short_of_a_digit_is_left_empty(
    understanding: Understanding, position: int, spaces: bool
) -> None:
    text = f"เลข บัตร {_without(ID, position)} ครับ"
    if not spaces:
        text = "".join(text.split())
    got = understanding.extract(text)
    assert got.citizen_id.value is None
    assert got.citizen_id.confidence < UNSURE
    assert got.phone.value is None  # two digits of it are not a mobile's prefix


@pytest.mark.parametrize(
    ("text", "phone", "sure"),
    [
        # 06 is a mobile prefix, no area code: a 9-digit 06... is a mobile short of a digit
        ("เบอร์ ศูนย์ หก หนึ่ง สอง สาม สี่ ห้า หก เจ็ด", None, False),
        # the 9 of 092... dropped reads as a Bangkok number: filled, but unsure
        ("เบอร์ ศูนย์ สอง หนึ่ง สอง สาม สี่ ห้า หก เจ็ด", "021234567", False),
        # unless a word says it is a fixed line
        ("เบอร์ บ้าน ศูนย์ สอง หนึ่ง สอง สาม สี่ ห้า หก เจ็ด", "021234567", True),
        ("เบอร์ บ้าน ครับ ศูนย์ สาม แปด หนึ่ง สอง สาม สี่ ห้า หก", "038123456", True),
        ("เบอร์ที่ทำงานศูนย์สองหนึ่งสองสามสี่ห้าหกเจ็ด", "021234567", True),
        # "บ้านไผ่" is a district, not a home number
        ("อยู่ อำเภอ บ้านไผ่ ครับ ศูนย์ สอง หนึ่ง สอง สาม สี่ ห้า หก เจ็ด", "021234567", False),
        # a digit said long before is not the start of the number ("สอง เมตร")
        ("รุก ที่ มา สอง เมตร ครับ เลข บัตร ครับ " + _without(ID, 0), None, False),
    ],
)
def test_landlines_and_short_numbers(
    understanding: Understanding, text: str, phone: str | None, sure: bool
) -> None:
    got = understanding.extract(text)
    assert got.phone.value == phone
    assert (got.phone.confidence >= UNSURE) is sure
    assert got.citizen_id.value is None


def test_a_number_said_twice_survives_one_dropped_digit(understanding: Understanding) -> None:
    text = f"เบอร์ {_without(MOBILE, 4)} ครับ ย้ำ อีก ที เบอร์ {MOBILE} ครับ"
    field = understanding.extract(text).phone
    assert field.value == "0812345678"
