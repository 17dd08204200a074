"""Numbers, dates and references as sequences of prompt ids; every id used exists."""

from __future__ import annotations

from datetime import date

import pytest

from ivr.prompts.manifest import PromptManifest
from ivr.prompts.speech import (
    agency_prompt,
    sequence_for_date,
    sequence_for_digits,
    sequence_for_number,
    sequence_for_reference,
    sequence_for_time,
    status_prompt,
)
from ticketing.status import TicketStatus

WORDS = {
    "digit_0": "ศูนย์", "digit_1": "หนึ่ง", "digit_2": "สอง", "digit_3": "สาม", "digit_4": "สี่",
    "digit_5": "ห้า", "digit_6": "หก", "digit_7": "เจ็ด", "digit_8": "แปด", "digit_9": "เก้า",
    "num_10": "สิบ", "num_20": "ยี่สิบ", "num_unit_1": "เอ็ด", "num_100": "ร้อย",
    "num_1000": "พัน", "num_10000": "หมื่น", "num_100000": "แสน", "num_1000000": "ล้าน",
}  # fmt: skip


def thai(ids: list[str]) -> str:
    return "".join(WORDS[i] for i in ids)


@pytest.mark.parametrize(
    ("number", "spoken"),
    [
        (0, "ศูนย์"),
        (1, "หนึ่ง"),
        (10, "สิบ"),
        (11, "สิบเอ็ด"),
        (20, "ยี่สิบ"),
        (21, "ยี่สิบเอ็ด"),
        (31, "สามสิบเอ็ด"),
        (100, "หนึ่งร้อย"),
        (101, "หนึ่งร้อยเอ็ด"),
        (110, "หนึ่งร้อยสิบ"),
        (2569, "สองพันห้าร้อยหกสิบเก้า"),
        (10_000, "หนึ่งหมื่น"),
        (1_000_001, "หนึ่งล้านเอ็ด"),
        (21_000_000, "ยี่สิบเอ็ดล้าน"),
    ],
)
def test_thai_numbers(number: int, spoken: str) -> None:
    assert thai(sequence_for_number(number)) == spoken


def test_number_out_of_range() -> None:
    with pytest.raises(ValueError, match="cannot speak -1"):
        sequence_for_number(-1)


def test_reference_is_read_digit_by_digit_with_pauses() -> None:
    assert sequence_for_reference("69-000123-4") == [
        "digit_6", "digit_9", "pause",
        "digit_0", "digit_0", "digit_0", "digit_1", "digit_2", "digit_3", "pause",
        "digit_4",
    ]  # fmt: skip


def test_digits_reject_non_digits() -> None:
    with pytest.raises(ValueError, match="digits only"):
        sequence_for_digits("12a")


def test_date_in_buddhist_era_with_thai_month() -> None:
    assert sequence_for_date(date(2026, 12, 31)) == [
        "digit_3", "num_10", "num_unit_1",
        "month_12", "word_year_be",
        "digit_2", "num_1000", "digit_5", "num_100", "digit_6", "num_10", "digit_9",
    ]  # fmt: skip


def test_time() -> None:
    assert sequence_for_time(8, 30) == ["digit_8", "word_hour", "digit_3", "num_10", "word_minute"]
    assert sequence_for_time(16, 0) == ["num_10", "digit_6", "word_hour"]


def test_every_generated_id_is_in_the_manifest(manifest: PromptManifest) -> None:
    ids: list[str] = []
    for n in (*range(0, 130), 999_999, 123_456_789):
        ids += sequence_for_number(n)
    for month in range(1, 13):
        ids += sequence_for_date(date(2026, month, 28))
    ids += sequence_for_reference("6900012348") + sequence_for_time(23, 59)
    ids += [status_prompt(s.value) for s in TicketStatus]
    assert set(ids) - manifest.ids == set()


def test_agency_words(manifest: PromptManifest) -> None:
    assert agency_prompt("POLICE-10", manifest.ids) == "agency_police"
    assert agency_prompt("OCPB", manifest.ids) == "agency_ocpb"
    assert agency_prompt("SOMETHING_NEW", manifest.ids) == "agency_generic"
    assert agency_prompt(None, manifest.ids) == "agency_generic"


def test_every_catalog_agency_has_its_word(manifest: PromptManifest) -> None:
    from config.catalog import load_catalog

    catalog = load_catalog()
    bases = {code.split("-", 1)[0] for code in catalog.agencies}
    missing = {b for b in bases if agency_prompt(b, manifest.ids) == "agency_generic"}
    assert missing == set()
