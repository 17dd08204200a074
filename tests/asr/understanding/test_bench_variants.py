"""The written-Thai and dropped-digit variants that bench/extract_accuracy.py makes from a set."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "bench"))

from extract_accuracy import drop_digit_variants, spaceless  # noqa: E402

SPACED = "น้ำ ท่วม บ้าน ค่ะ อยู่ อำเภอ สันทราย ค่ะ เบอร์ 0812345678 ค่ะ"


@pytest.mark.parametrize(
    ("mode", "written"),
    [
        ("all", "น้ำท่วมบ้านค่ะอยู่อำเภอสันทรายค่ะเบอร์0812345678ค่ะ"),
        # spaces only after a clause-ending word and around non-Thai words
        ("clauses", "น้ำท่วมบ้านค่ะ อยู่อำเภอสันทรายค่ะ เบอร์ 0812345678 ค่ะ"),
    ],
)
def test_spaceless(mode: str, written: str) -> None:
    assert spaceless(SPACED, mode) == written


def test_spaceless_refuses_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="spaceless mode must be one of"):
        spaceless(SPACED, "some")


def test_each_digit_word_dropped_in_turn() -> None:
    text = "เบอร์ ศูนย์ แปด ขีด โท ครับ"
    assert list(drop_digit_variants(text, "082")) == [
        (0, "เบอร์ แปด ขีด โท ครับ"),
        (1, "เบอร์ ศูนย์ ขีด โท ครับ"),
        (2, "เบอร์ ศูนย์ แปด ขีด ครับ"),
    ]


def test_joined_words_arabic_digits_and_chosen_positions() -> None:
    assert list(drop_digit_variants("โทร ศูนย์แปดสอง", "082", [-1])) == [(2, "โทร ศูนย์แปด")]
    assert list(drop_digit_variants("โทร 08-2 นะ", "082", [0, 1])) == [
        (0, "โทร 8-2 นะ"),
        (1, "โทร 0-2 นะ"),
    ]


def test_a_number_not_in_the_text_gives_no_variant() -> None:
    # "สาม" inside "สามี" is no digit of the number, and 083 is not said
    assert list(drop_digit_variants("สามี โทร ศูนย์ แปด สอง", "083")) == []
