from __future__ import annotations

import pytest

from asr.understanding import Understanding
from asr.understanding.normalise import tokenise
from asr.understanding.numbers import digits_from_words, find_numbers, is_valid_citizen_id


@pytest.mark.parametrize(
    ("words", "digits"),
    [
        ("ศูนย์", "0"),
        ("สูญ", "0"),
        ("หนึ่งสองสามสี่ห้าหกเจ็ดแปดเก้า", "123456789"),
        ("ศูนย์แปดเจ็ด", "087"),
        ("โทโท", "22"),
        ("นึง", "1"),
        ("โทร", None),  # "to phone", not the digit two
        ("สามี", None),
        ("ห้าง", None),
        ("ศูนย์ดำรงธรรม", None),
    ],
)
def test_digits_from_words(words: str, digits: str | None) -> None:
    assert digits_from_words(words) == digits


@pytest.mark.parametrize(
    ("transcript", "phone"),
    [
        ("เบอร์ ศูนย์ แปด หนึ่ง สอง สาม สี่ ห้า หก เจ็ด แปด", "0812345678"),
        ("เบอร์ ศูนย์แปดหนึ่งสองสามสี่ห้าหกเจ็ดแปด ครับ", "0812345678"),
        ("ศูนย์ แปด หก โท แปด โท เจ็ด เก้า แปด หนึ่ง", "0862827981"),
        ("ศูนย์ เก้า หนึ่ง ขีด สอง สาม สี่ ขีด ห้า หก เจ็ด แปด", "0912345678"),
        ("ศูนย์ หก หนึ่ง เอ่อ สอง สาม สี่ ห้า หก เจ็ด แปด", "0612345678"),
        ("ศูนย์แปดหนึ่ง สองสามสี่ ห้าหกเจ็ดแปด", "0812345678"),
        ("เบอร์โทรศูนย์แปดหนึ่งสองสามสี่ห้าหกเจ็ดแปดครับ", "0812345678"),
        ("โทร 081-234-5678 ครับ", "0812345678"),
        ("โทร ๐๘๑๒๓๔๕๖๗๘", "0812345678"),
        ("เบอร์ บ้าน ศูนย์ สอง หนึ่ง สอง สาม สี่ ห้า หก เจ็ด", "021234567"),
        ("ศูนย์ ห้า สาม ขีด สอง หนึ่ง สี่ ขีด หก เจ็ด แปด", "053214678"),
        ("มา อาทิตย์ นึง แล้ว เบอร์ ศูนย์ แปด หนึ่ง สอง สาม สี่ ห้า หก เจ็ด แปด", "0812345678"),
        # too short, or a mobile prefix that does not exist: not a phone
        ("ศูนย์ แปด หนึ่ง สอง สาม", None),
        ("ศูนย์ หนึ่ง หนึ่ง สอง สาม สี่ ห้า หก เจ็ด แปด", None),
        ("อายุ เจ็ดสิบ จ่าย วัน ละ ห้า ร้อย", None),
        ("ขอ เพิ่ม คู่ สาย หนึ่ง ห้า หก เจ็ด", None),
    ],
)
def test_phone(transcript: str, phone: str | None) -> None:
    assert find_numbers(tokenise(transcript)).phone == phone


# 1101700230678 has a valid check digit (worked out in test_check_digit_formula_by_hand).
@pytest.mark.parametrize(
    ("digits", "valid"),
    [
        ("1101700230678", True),
        ("5714524697319", True),
        ("1101700230675", False),  # last digit changed
        ("1101700230671", False),
        ("0101700230676", False),  # wrong check digit (the first digit is not checked)
        # DOMAIN.md's rule, as ticketing/validation.py applies it: any first digit; 0 is the
        # type given to people without Thai nationality
        ("0101700230670", True),
        ("9101700230673", True),
        ("110170023067๘", False),  # a Thai digit is not an ASCII one
        ("110170023067", False),  # 12 digits
    ],
)
def test_citizen_id_check_digit(digits: str, valid: bool) -> None:
    assert is_valid_citizen_id(digits) is valid


def test_check_digit_formula_by_hand() -> None:
    # 1·13 + 1·12 + 0·11 + 1·10 + 7·9 + 0·8 + 0·7 + 2·6 + 3·5 + 0·4 + 6·3 + 7·2 = 157
    # 157 mod 11 = 3, (11 - 3) mod 10 = 8
    digits = "110170023067"
    total = sum(int(d) * (13 - i) for i, d in enumerate(digits))
    assert (total, (11 - total % 11) % 10) == (157, 8)


@pytest.mark.parametrize(
    ("transcript", "citizen_id", "confidence"),
    [
        ("เลข บัตร หนึ่ง หนึ่ง ศูนย์ หนึ่ง เจ็ด ศูนย์ ศูนย์ สอง สาม ศูนย์ หก เจ็ด แปด", "1101700230678", 0.97),
        ("เลขบัตรหนึ่งหนึ่งศูนย์หนึ่งเจ็ดศูนย์ศูนย์โทสามศูนย์หกเจ็ดแปด", "1101700230678", 0.97),
        ("บัตร 1-1017-00230-67-8", "1101700230678", 0.97),
        # wrong check digit: rejected, and confidence 0 tells the call-taker to ask again
        ("เลข บัตร หนึ่ง หนึ่ง ศูนย์ หนึ่ง เจ็ด ศูนย์ ศูนย์ สอง สาม ศูนย์ หก เจ็ด ห้า", None, 0.0),
        ("ไม่ ได้ บอก เลข บัตร", None, 0.95),
    ],
)
def test_citizen_id(
    understanding: Understanding, transcript: str, citizen_id: str | None, confidence: float
) -> None:
    field = understanding.extract(transcript).citizen_id
    assert (field.value, field.confidence) == (citizen_id, confidence)


def test_phone_and_id_said_without_a_pause_are_split() -> None:
    transcript = "ศูนย์แปดหนึ่งสองสามสี่ห้าหกเจ็ดแปดหนึ่งหนึ่งศูนย์หนึ่งเจ็ดศูนย์ศูนย์สองสามศูนย์หกเจ็ดแปด"
    found = find_numbers(tokenise(transcript))
    assert (found.phone, found.citizen_id) == ("0812345678", "1101700230678")


def test_id_of_a_person_without_thai_nationality(understanding: Understanding) -> None:
    got = understanding.extract("เลข ประจำตัว ศูนย์ หนึ่ง ศูนย์ หนึ่ง เจ็ด ศูนย์ ศูนย์ สอง สาม ศูนย์ หก เจ็ด ศูนย์ ค่ะ")
    assert (got.citizen_id.value, got.citizen_id.confidence) == ("0101700230670", 0.97)


def test_phone_and_id_in_one_transcript(understanding: Understanding) -> None:
    got = understanding.extract(
        "เลข บัตร หนึ่งหนึ่งศูนย์หนึ่งเจ็ดศูนย์ศูนย์สองสามศูนย์หกเจ็ดแปด ครับ "
        "เบอร์ ศูนย์ เก้า เก้า แปด เจ็ด หก ห้า สี่ สาม สอง ครับ"
    )
    assert (got.phone.value, got.citizen_id.value) == ("0998765432", "1101700230678")
    assert "1101700230678" in got.text and "0998765432" in got.text
