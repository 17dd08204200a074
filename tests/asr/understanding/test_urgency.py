from __future__ import annotations

import pytest

from asr.understanding import Understanding


@pytest.mark.parametrize(
    ("transcript", "urgent"),
    [
        # present danger
        ("สามี ถือ มีด ขู่ จะ ฆ่า ค่ะ ช่วย ด้วย", True),
        ("มี คน ยิง ปืน ใน หมู่บ้าน ครับ", True),
        ("ไฟไหม้ บ้าน ตอนนี้ ลาม ไป หลาย หลัง ครับ", True),
        ("น้ำ ท่วม ถึง หลังคา แล้ว คน แก่ ยัง ติด อยู่ ใน บ้าน ค่ะ", True),
        ("ตอนนี้ น้ำ กำลัง ท่วม เข้า บ้าน ครับ", True),
        ("ดิน ถล่ม ทับ บ้าน มี คน ติด อยู่ ครับ", True),
        ("พายุ พัด บ้าน พัง หมด ไม่มี ที่ อยู่ ค่ะ", True),
        ("ไฟ ดับ แม่ ใช้ เครื่อง ช่วย หายใจ อยู่ ค่ะ", True),
        ("ดิน ไหล ลง มา แล้ว กลัว จะ ถล่ม ทับ บ้าน ครับ", True),
        # past, worry, negation, resolved
        ("เคย ท่วม เมื่อ ปี ที่แล้ว ครับ อยาก ให้ ขุด ลอก คลอง", False),
        ("กลัว ว่า จะ ท่วม อีก ครับ", False),
        ("ไม่ ได้ ท่วม แล้ว ครับ ถนน พัง อยาก ให้ ซ่อม", False),
        ("บ้าน ถูก ไฟไหม้ เมื่อ สาม เดือน ก่อน ยัง ไม่ ได้ เงิน ช่วยเหลือ", False),
        ("ไม่ ใช่ เรื่อง ด่วน นะ ครับ ไฟ ไหม้ หญ้า ดับ ไป แล้ว", False),
        # look-alikes
        ("เพื่อนบ้าน ขู่ ว่า จะ ฟ้อง ศาล ครับ", False),
        ("ไฟ ดับ บ่อย ทุก เย็น ทีวี เสีย", False),
        ("ซื้อ รถ น้ำท่วม มา จาก เต็นท์", False),
        ("ซื้อ ยาฆ่าหญ้า ปลอม มา ครับ", False),
        ("ขอ ความ ช่วยเหลือ เร่ง ด่วน ค่ะ ไม่มี เงิน ซื้อ นม", False),
        ("ปี นี้ ลำไย ส่ง ออก ไม่ ได้ ราคา ตก ค่ะ", False),  # not "trapped" (ออกไม่ได้)
        ("ตอนนี้ นายทุน ขู่ จะ ยึด ที่ ถ้า ไม่ จ่าย ดอก ครับ", False),  # a threat to property
        ("ไฟ ช็อต ที่ เสา ไฟ การไฟฟ้า ซ่อม เสร็จ แล้ว ครับ", False),
        # the nearer time word decides: past here, although ตอนนี้ follows
        ("เมื่อ เดือน ก่อน มัน มา ยิง ปืน หน้า บ้าน ตอนนี้ ย้าย ไป อยู่ กับ ญาติ แล้ว", False),
        ("เมื่อ วาน ก็ มา ตอนนี้ มัน ถือ ปืน ยืน อยู่ หน้า บ้าน", True),
        # "มีด" (knife) across two words: สามี ดิฉัน (my husband); ชักดาบ (skip paying) is no sword
        ("สามี ดิฉัน มี ผู้หญิง ใหม่ แล้ว ค่ะ อยาก ฟ้อง หย่า", False),
        ("ขู่ ว่า จะ เอา รูป ไป ติด ประกาศ ว่า ดิฉัน ชักดาบ", False),
        # "ตอนนี้ หาย แล้ว": now it is over
        ("เดือน ที่แล้ว มัน มา ตี สามี หัว แตก ตอนนี้ หาย แล้ว ค่ะ", False),
        ("มัน ลาก สามี ขึ้น รถ ไป บอก ว่า จะ ตัด นิ้ว ค่ะ", True),
        # live wires and fallen poles are dangers too
        ("สาย ไฟ แรง สูง ขาด ตก ลง มา กลาง ถนน มี ประกาย ไฟ ครับ", True),
        ("เสา ไฟฟ้า หัก ล้ม พาด หลังคา คน ยัง ออก มา ไม่ หมด ค่ะ", True),
    ],
)
def test_urgency(understanding: Understanding, transcript: str, urgent: bool) -> None:
    assert understanding.extract(transcript).urgent.value is urgent


def test_clear_cases_are_more_confident_than_borderline(understanding: Understanding) -> None:
    clear = understanding.extract("สามี ถือ มีด ขู่ จะ ฆ่า ตอนนี้ ค่ะ ช่วย ด้วย").urgent.confidence
    borderline = understanding.extract("ช่วย ด้วย ค่ะ").urgent.confidence
    assert borderline < clear
