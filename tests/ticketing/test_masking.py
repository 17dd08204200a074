"""Personal numbers in free text: Arabic and Thai digits, Thai number words, word timings."""

from __future__ import annotations

import pytest

from ticketing.masking import has_digit_run, mask_mapping, mask_text, mask_words


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("โทร 081-234-5678 นะคะ", "โทร ••••••5678 นะคะ"),
        ("เลขบัตร 1101700230708", "เลขบัตร •••••••••0708"),
        ("ศูนย์ แปด หนึ่ง สอง สาม สี่ ห้า หก เจ็ด แปด", "••••••5678"),
        ("ศูนย์แปดหนึ่งโทสามสี่ห้าหกเจ็ดแปด ค่ะ", "••••••5678 ค่ะ"),
        ("๐๘๑๒๓๔๕๖๗๘", "••••••5678"),
        ("+66 81 234 5678", "•••••••5678"),
        ("บ้าน 02 123 4567", "บ้าน •••••4567"),
        # Not personal: a reference number, a house number, a year, a short count.
        ("เรื่อง 690000123", "เรื่อง 690000123"),
        ("บ้านเลขที่ 12/3 ปี 2567 มีสองคน", "บ้านเลขที่ 12/3 ปี 2567 มีสองคน"),
    ],
)
def test_mask_text(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_mask_words_keeps_timings_and_the_last_four_digits() -> None:
    spoken = ["เบอร์", "ศูนย์", "แปด", "หนึ่ง", "สอง", "สาม", "สี่", "ห้า", "หก", "เจ็ด", "แปด", "ครับ"]
    words = [{"word": w, "start": i * 0.5, "end": i * 0.5 + 0.4} for i, w in enumerate(spoken)]
    masked = mask_words(words)
    assert masked is not None
    assert [w["word"] for w in masked] == ["เบอร์", *["•"] * 6, "5", "6", "7", "8", "ครับ"]
    assert [w["start"] for w in masked] == [w["start"] for w in words]
    assert words[1]["word"] == "ศูนย์"  # the stored list is not changed


def test_mask_mapping_by_key_and_by_content() -> None:
    data = {
        "caller_phone": "0812345678",
        "citizen_id": "1101700230708",
        "description": "ติดต่อ 0812345678",
        "status": "draft",
        "nested": {"caller": "0899999999"},
        "urgent": True,
    }
    assert mask_mapping(data) == {
        "caller_phone": "••••••5678",
        "citizen_id": "•••••••••0708",
        "description": "ติดต่อ ••••••5678",
        "status": "draft",
        "nested": {"caller": "••••••9999"},
        "urgent": True,
    }


def test_digit_runs_that_would_make_a_search_an_oracle() -> None:
    assert has_digit_run("12345")
    assert has_digit_run("หนึ่งสองสามสี่ห้า")
    assert not has_digit_run("1234")
    assert not has_digit_run("ไฟดับ")


def test_digit_runs_of_a_live_partial_are_hidden_whole() -> None:
    from ticketing.masking import mask_digit_runs

    assert mask_digit_runs("โทร 081 ครับ") == "โทร 081 ครับ"  # three digits: not yet a number
    assert mask_digit_runs("โทร 0812 ครับ") == "โทร •••• ครับ"
    assert mask_digit_runs("ศูนย์ แปด หนึ่ง สอง สาม") == "•••••"
    assert mask_digit_runs("เลข ๑๒๓๔๕ ซอย 7") == "เลข ••••• ซอย 7"
    assert mask_digit_runs("") == "" and mask_digit_runs(None) is None
