from __future__ import annotations

import pytest

from asr.fields import FieldExtractor, to_draft_fields


def extraction(**values: object) -> dict[str, object]:
    names = ("category", "province_code", "district_code", "phone", "citizen_id", "urgent")
    data: dict[str, object] = {name: values.get(name) for name in names}
    data["confidence"] = {name: 0.9 for name in names}
    data["text"] = "ignored"
    return data


def test_names_map_to_ticket_fields_and_empty_values_are_skipped() -> None:
    fields = to_draft_fields(
        extraction(category="INFRASTRUCTURE", province_code="50", urgent=False, phone="0891234567"),
        asr_confidence=1.0,
        caller_phone=None,
    )
    assert fields.values == {
        "category": "INFRASTRUCTURE",
        "province_code": "50",
        "caller_phone": "0891234567",
        "urgent": False,
    }
    assert set(fields.confidence) == set(fields.values)


def test_a_spoken_number_never_replaces_the_number_the_call_came_from() -> None:
    fields = to_draft_fields(
        extraction(phone="0891234567"), asr_confidence=1.0, caller_phone="0812345678"
    )
    assert "caller_phone" not in fields.values


def test_field_confidence_is_capped_by_the_recognizers_own() -> None:
    fields = to_draft_fields(
        extraction(category="INFRASTRUCTURE"), asr_confidence=0.35, caller_phone=None
    )
    assert fields.confidence == {"category": pytest.approx(0.35)}


def test_the_real_understanding_package_is_used_when_present() -> None:
    fields = FieldExtractor().extract(
        "ถนน พัง เป็น หลุม ใหญ่ อยู่ อำเภอ เมือง เชียงใหม่ ครับ",
        asr_confidence=0.5,
        caller_phone="0812345678",
        reference="TEST",
    )
    assert fields.values  # something was read from a clear complaint
    assert set(fields.values) <= {
        "category",
        "province_code",
        "district_code",
        "citizen_id",
        "urgent",
    }
    assert all(value <= 0.5 for value in fields.confidence.values())


def test_an_empty_transcript_gives_no_fields() -> None:
    fields = FieldExtractor().extract(" ", asr_confidence=1.0, caller_phone=None, reference="T")
    assert fields.values == {} and fields.confidence == {}
