from __future__ import annotations

import json
import threading

import pytest

from asr.understanding import Extraction, FieldValue, Understanding

FIELDS = ("category", "province_code", "district_code", "phone", "citizen_id", "urgent")


def test_json_dict_shape(understanding: Understanding) -> None:
    got = understanding.extract(
        "ยาบ้า ระบาด ครับ อยู่ เขต บางนา เบอร์ ศูนย์ แปด หนึ่ง สอง สาม สี่ ห้า หก เจ็ด แปด"
    )
    out = got.to_json_dict()
    assert list(out) == [*FIELDS, "confidence", "text"]
    assert all(0.0 <= out["confidence"][name] <= 1.0 for name in FIELDS)
    assert json.loads(json.dumps(out, ensure_ascii=False)) == out
    assert out["text"] == "ยาบ้าระบาดครับ อยู่เขตบางนาเบอร์ 0812345678"


def test_field_value_rejects_bad_confidence() -> None:
    with pytest.raises(ValueError):
        FieldValue("x", 1.5)


def test_extraction_is_frozen(understanding: Understanding) -> None:
    got: Extraction = understanding.extract("สวัสดี")
    with pytest.raises(AttributeError):
        got.text = "x"  # type: ignore[misc]


def test_extract_is_thread_safe(understanding: Understanding) -> None:
    texts = ["อยู่ เขต ลาดพร้าว ยาบ้า", "บ่อน การพนัน อำเภอ เมือง ขอนแก่น", "น้ำ ท่วม ตอนนี้ ช่วย ด้วย"]
    expected = [understanding.extract(t) for t in texts]
    results: list[bool] = []

    def work() -> None:
        results.append(
            all(
                understanding.extract(t) == e
                for t, e in zip(texts * 20, expected * 20, strict=True)
            )
        )

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True] * 8
