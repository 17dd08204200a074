from __future__ import annotations

import pytest

from asr.understanding.normalise import match_form, readable_text, tokenise


@pytest.mark.parametrize(
    ("transcript", "tokens"),
    [
        ("น้ำ  ท่วม\tบ้าน", ["น้ำ", "ท่วม", "บ้าน"]),
        ("อยู่ อำเภอเมือง ครับ", ["อยู่", "อำเภอ", "เมือง", "ครับ"]),
        ("อ. เมือง จ. ยโสธร", ["อำเภอ", "เมือง", "จังหวัด", "ยโสธร"]),
        ("เขตลาดพร้าว,", ["เขต", "ลาดพร้าว"]),
        ("โทร ๐๘๑", ["โทร", "081"]),
        ("a\u200bb", ["ab"]),
    ],
)
def test_tokenise(transcript: str, tokens: list[str]) -> None:
    assert tokenise(transcript) == tokens


def test_readable_text_joins_thai_words_and_breaks_after_particles() -> None:
    tokens = ["น้ำ", "ท่วม", "ค่ะ", "เบอร์", "0812345678", "ค่ะ"]
    assert readable_text(tokens) == "น้ำท่วมค่ะ เบอร์ 0812345678 ค่ะ"


def test_match_form_ignores_spaces_and_dots() -> None:
    assert match_form("ธ.ก.ส. ") == match_form("ธ ก ส") == "ธกส"
