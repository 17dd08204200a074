from __future__ import annotations

import pytest

from asr.understanding import Understanding

# Written for these tests, not taken from the labelled sets: one or more per category.
CASES = [
    ("โดน แก๊ง ปล่อย กู้ ทวง หนี้ ดอก ร้อย ละ ยี่สิบ ครับ", "DEBT_INFORMAL"),
    ("เจ้าหนี้ โทร ทวง เงิน ทุก ชั่วโมง ค่ะ", "DEBT_INFORMAL"),
    ("เป็น หนี้ ธ ก ส ปลูก ข้าว ขาดทุน ครับ อยาก พัก หนี้", "DEBT_FARMER"),
    ("แจ้ง เบาะแส ขาย ยาบ้า ใน ซอย ครับ", "DRUGS"),
    ("ข้าง บ้าน รุกล้ำ ที่ดิน ผม ครับ มี โฉนด", "LAND"),
    ("สั่ง ของ ออนไลน์ ได้ ของ ปลอม ร้าน ไม่ คืน เงิน", "CONSUMER"),
    ("เจ้าหน้าที่ เรียก เงิน ใต้ โต๊ะ ครับ", "OFFICIAL_MISCONDUCT"),
    ("ร้าน คาราโอเกะ เปิด เพลง เสียง ดัง ทั้ง คืน", "NUISANCE"),
    ("ถนน หน้า บ้าน เป็น หลุม เป็น บ่อ ไฟ ถนน ก็ ดับ", "INFRASTRUCTURE"),
    ("น้ำ ป่า ไหล หลาก เข้า หมู่บ้าน ครับ", "DISASTER"),
    ("บัตร ประชาชน หาย อยาก ทำ ใหม่ ทะเบียนบ้าน ก็ หาย", "CIVIL_REGISTRATION"),
    ("มี บ่อน การพนัน ใน ซอย ครับ", "GAMBLING"),
    ("ยาย อยู่ คน เดียว ไม่มี รายได้ ขอ ความ ช่วยเหลือ ค่ะ", "WELFARE"),
    ("อยาก ปรึกษา ทนาย เรื่อง ถูก ฟ้อง ครับ", "LEGAL_AID"),
    ("ขอ สอบถาม ว่า ต้อง ใช้ เอกสาร อะไร บ้าง", "INFO"),
    ("ติดตาม เรื่อง ที่ ร้องเรียน ไป ครับ ยัง ไม่ มี ความ คืบหน้า", "INFO"),
    ("ขอบคุณ เจ้าหน้าที่ มาก ค่ะ ช่วย เร็ว มาก", "FEEDBACK"),
    ("อยาก ให้ ข้อเสนอแนะ เรื่อง การ ให้ บริการ", "FEEDBACK"),
    ("ช่วย ตามหา น้อง ที่ หาย ไป ครับ", "OTHER"),
    ("สวัสดี ครับ", "OTHER"),  # nothing to go on: the fallback
]


@pytest.mark.parametrize(("transcript", "category"), CASES)
def test_category(understanding: Understanding, transcript: str, category: str) -> None:
    assert understanding.extract(transcript).category.value == category


def test_every_category_is_covered() -> None:
    assert {category for _, category in CASES} == {
        "DEBT_INFORMAL", "DEBT_FARMER", "DRUGS", "LAND", "CONSUMER", "OFFICIAL_MISCONDUCT",
        "NUISANCE", "INFRASTRUCTURE", "DISASTER", "CIVIL_REGISTRATION", "GAMBLING", "WELFARE",
        "LEGAL_AID", "INFO", "FEEDBACK", "OTHER",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("transcript", "category"),
    [
        # a longer phrase hides the shorter one inside it
        ("ซื้อ รถ น้ำท่วม มา จาก เต็นท์ รถ ครับ", "CONSUMER"),
        ("เลข บัตร ประชาชน ครับ ร้าน ขาย ของ หมดอายุ", "CONSUMER"),
        # ศาลา (a pavilion) and ศาลากลาง (the provincial hall) are not ศาล (a court)
        ("ศูนย์ดำรงธรรม ที่ ศาลากลาง เปิด กี่ โมง ครับ", "INFO"),
        ("ลูก ไม่ ดูแล ต้อง นอน ศาลา วัด อยาก เข้า บ้าน พัก คน ชรา", "WELFARE"),
    ],
)
def test_longest_phrase_wins(understanding: Understanding, transcript: str, category: str) -> None:
    assert understanding.extract(transcript).category.value == category


def test_fallback_has_low_confidence(understanding: Understanding) -> None:
    clear = understanding.extract("มี บ่อน การพนัน และ วง ไพ่ ใน ซอย").category.confidence
    fallback = understanding.extract("สวัสดี ครับ").category.confidence
    assert fallback < 0.5 < clear


def test_phrases_match_whole_syllables_only() -> None:
    from asr.understanding.phrases import whole_syllables

    text = "สามีดิฉัน"  # สามี ดิฉัน: "มีด" appears in the letters, not in the words
    start = text.index("มีด")
    assert not whole_syllables(text, start, start + len("มีด"))
    assert whole_syllables("ถือมีดมา", 3, 6)
    assert not whole_syllables("เมา", 1, 3)  # "มา" after the leading vowel of เมา
