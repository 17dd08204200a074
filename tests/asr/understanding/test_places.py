from __future__ import annotations

import pytest

from asr.understanding import Understanding


@pytest.mark.parametrize(
    ("transcript", "province", "district"),
    [
        # Bangkok khet, with and without กรุงเทพ / กทม
        ("อยู่ เขต ลาดพร้าว ครับ", "10", "1038"),
        ("อยู่ เขตคลองเตย ค่ะ", "10", "1033"),
        ("อยู่ กทม ค่ะ เขต บางนา", "10", "1047"),
        ("อยู่ กรุงเทพฯ ครับ", "10", None),
        ("อยู่ กรุงเทพ ครับ", "10", None),
        ("เขต จอมทอง ครับ", "10", "1035"),  # จอมทอง is also a district of เชียงใหม่
        ("อำเภอ จอมทอง เชียงใหม่", "50", "5002"),
        # อำเภอเมือง + province, full and short names, joined or spaced
        ("อยู่ อำเภอ เมือง อุบลราชธานี ค่ะ", "34", "3401"),
        ("อยู่ อำเภอ เมือง อุบล ค่ะ", "34", "3401"),
        ("อยู่ อำเภอเมืองเชียงใหม่ ครับ", "50", "5001"),
        ("อำเภอ เมือง โคราช", "30", "3001"),
        ("อำเภอ เมือง ครับ จังหวัด อุดรธานี", "41", "4101"),
        ("อ. เมือง จ. ยโสธร", "35", "3501"),
        ("อำเภอ เมือง อยุธยา", "14", "1401"),  # its capital district is not called เมือง…
        ("อำเภอ เมือง เลย", "42", "4201"),
        # district with its province
        ("อยู่ อำเภอ หางดง เชียงใหม่ ครับ", "50", "5015"),
        ("อำเภอ เชียงคาน เลย ครับ", "42", "4203"),
        ("อยู่ อำเภอ ลอง แพร่ ครับ", "54", "5403"),
        ("อยู่ จังหวัด ลำปาง ครับ", "52", None),
        # a district unique in the country, named alone
        ("อยู่ บางพลี ครับ", "11", "1103"),
        ("อยู่ แม่สอด ครับ", "63", "6306"),
        ("อยู่ ที่ ปาก เกร็ด ครับ", "12", "1206"),
        ("อยู่ สุไหงโกลก ครับ", "96", "9610"),
        # ambiguous without a province: no district, no guess
        ("อยู่ อำเภอ เมือง ครับ", None, None),
        ("อยู่ อำเภอ เฉลิมพระเกียรติ ครับ", None, None),
        ("อยู่ อำเภอ เฉลิมพระเกียรติ น่าน ครับ", "55", "5515"),
        # misheard / misspelt names
        ("อำเภอ บาง บัว ทอง นนท บุรี", "12", "1204"),
        ("อำเภอ หาง ดง เชียง ใหม่", "50", "5015"),
        ("จังหวัด ศรีษะเกษ ครับ", "33", None),
        ("อำเภอ เมือง พิศณุโลก", "65", "6501"),
        ("อยู่ อำเภอ เมือง พิษณุโลด ครับ", "65", "6501"),  # one letter off, after อำเภอ เมือง
        ("อยู่ อำเภอ ลี่ ลำพูน", "51", "5104"),  # ลี้ without its tone mark
        # a district named like a number, and words that only look like places
        ("บ้าน สะเอียบ อำเภอ สอง จังหวัด แพร่", "54", "5406"),
        ("เพื่อน บ้าน สร้าง บ้าน ใหม่ อยู่ หัวหิน ค่ะ", "77", "7707"),
        ("ไฟ ยัง แลบ อยู่ เลย ครับ อยู่ อำเภอ เมือง ลำปาง", "52", "5201"),
        ("อยู่ อำเภอ สมุด ปราการ ค่ะ อำเภอ เมือง", "11", "1101"),
        ("อำเภอ วาริน ชำราบ อุบล ราช ธานี", "34", "3415"),
        ("อำเภอ ดอยสะเก้ด เชียงใหม่", "50", "5005"),
        # no place at all, and everyday words that are also place names
        ("ขอ สอบถาม ขั้นตอน การ ขอ ใบอนุญาต ครับ", None, None),
        ("ยัง ไม่ ได้ รับ เงิน เลย ค่ะ", None, None),
        ("ตาก ผ้า ไว้ แล้ว ฝน ตก ครับ", None, None),
        ("ลูก สอง คน ครับ", None, None),
        ("อยู่ ตำบล บางพลีน้อย ครับ", None, None),
        ("อยาก ทราบ ว่า ศูนย์ดำรงธรรม อำเภอ ตั้ง อยู่ ตรง ไหน", None, None),
    ],
)
def test_places(
    understanding: Understanding, transcript: str, province: str | None, district: str | None
) -> None:
    got = understanding.extract(transcript)
    assert (got.province_code.value, got.district_code.value) == (province, district)


@pytest.mark.parametrize(
    ("transcript", "at_least", "at_most"),
    [
        ("อยู่ อำเภอ หางดง เชียงใหม่ ครับ", 0.9, 1.0),  # said plainly and consistent
        ("อยู่ บางพลี ครับ", 0.7, 0.9),  # inferred from a district alone
        ("อยู่ อำเภอ เมือง ครับ", 0.0, 0.5),  # something said, nothing resolved
        ("ขอ สอบถาม ครับ", 0.85, 1.0),  # nothing said: sure there is nothing
    ],
)
def test_district_confidence(
    understanding: Understanding, transcript: str, at_least: float, at_most: float
) -> None:
    assert at_least <= understanding.extract(transcript).district_code.confidence <= at_most


def test_two_provinces_named_leave_the_province_unsure(understanding: Understanding) -> None:
    """The caller's son lives in Bangkok, the problem is in Khon Kaen: whichever wins, the
    console must show the field as unsure (below 0.7) so the call-taker asks."""
    two = understanding.extract("ลูก ชาย ทำงาน อยู่ กรุงเทพ ครับ ส่วน ผม อยู่ จังหวัด ขอนแก่น ครับ")
    one = understanding.extract("ผม อยู่ จังหวัด ขอนแก่น ครับ")
    assert one.province_code.value == "40" and one.province_code.confidence >= 0.9
    assert two.province_code.confidence < 0.7
