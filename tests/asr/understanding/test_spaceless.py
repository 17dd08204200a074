"""Thai written without spaces between words reads as the spaced transcript does.

Each row is a transcript as people type it; the same words with spaces are in the other tests.
"""

from __future__ import annotations

import pytest

from asr.understanding import Understanding
from asr.understanding.normalise import tokenise


@pytest.mark.parametrize(
    ("text", "province", "district"),
    [
        ("อยู่อำเภอสันทรายจังหวัดเชียงใหม่ค่ะ", "50", "5014"),
        ("บ้านอยู่อ.หางดงจ.เชียงใหม่ค่ะ", "50", "5015"),  # written abbreviations, glued
        ("ร้านอยู่เขตลาดพร้าวครับ", "10", "1038"),
        ("อยู่กทมค่ะ", "10", None),
        ("อยู่อำเภอเมืองอุบลค่ะ", "34", "3401"),
        ("อำเภอเมืองอุบลราชธานีค่ะ", "34", "3401"),
        ("อยู่บางบัวทองครับ", "12", "1204"),  # a district unique in the country names its province
        ("อยู่อำเภอสองพี่น้องสุพรรณบุรีครับ", "72", "7207"),  # a number word inside the name
        # misspelt names come out of the word cutter in pieces and are still found
        ("อยู่อำเภอหนองบัวแดนชัยภูมิครับ", "36", "3605"),
        ("อยู่อำเภอท่าสองยาวจังหวัดตากครับ", "63", "6305"),
        ("อยู่อำเภอบ้านนาสานสุราษฎร์ค่ะ", "84", "8412"),
        ("อยู่ปทุมรัตร้อยเอ็ดครับ", "45", "4503"),  # not ปทุม (Pathum Thani) + รัต
        # "อำเภอ เฉลิมพระเกียรติ" is in five provinces: the province after it decides
        ("อยู่อำเภอเฉลิมพระเกียรติน่านครับ", "55", "5515"),
        # everyday words are no places, glued or not
        ("ทำงานมาทั้งเดือนไม่ได้เงินเลยค่ะ", None, None),
        ("ตากผ้าไว้หน้าบ้านโดนขโมยค่ะ", None, None),
    ],
)
def test_places_without_spaces(
    understanding: Understanding, text: str, province: str | None, district: str | None
) -> None:
    got = understanding.extract(text)
    assert (got.province_code.value, got.district_code.value) == (province, district)


@pytest.mark.parametrize(
    ("text", "phone", "citizen_id"),
    [
        ("เบอร์ศูนย์แปดหนึ่งสองสามสี่ห้าหกเจ็ดแปดครับ", "0812345678", None),
        ("ติดต่อกลับเบอร์ศูนย์เก้าโทหนึ่งศูนย์โทศูนย์แปดหกศูนย์นะคะ", "0921020860", None),
        ("เบอร์0812345678ค่ะ", "0812345678", None),
        ("เลขบัตรหนึ่งหนึ่งศูนย์หนึ่งเจ็ดศูนย์ศูนย์สองสามศูนย์หกเจ็ดแปดครับ", None, "1101700230678"),
        (
            "เลขบัตรหนึ่งหนึ่งศูนย์หนึ่งเจ็ดศูนย์ศูนย์สองสามศูนย์หกเจ็ดแปดเบอร์ศูนย์เก้าเก้าแปดเจ็ดหกห้าสี่สามสองค่ะ",
            "0998765432",
            "1101700230678",
        ),
        # number words inside other words are no digits
        ("สามีไปห้างสรรพสินค้าแล้วหกล้มค่ะ", None, None),
    ],
)
def test_numbers_without_spaces(
    understanding: Understanding, text: str, phone: str | None, citizen_id: str | None
) -> None:
    got = understanding.extract(text)
    assert (got.phone.value, got.citizen_id.value) == (phone, citizen_id)


@pytest.mark.parametrize(
    ("text", "urgent"),
    [
        ("น้ำท่วมบ้านตอนนี้ติดอยู่บนหลังคาช่วยด้วยค่ะ", True),
        ("ไฟไหม้บ้านข้างๆกำลังลามมาค่ะ", True),
        ("เจ้าหนี้เอาปืนมาขู่ที่บ้านตอนนี้ยังยืนอยู่หน้าบ้านค่ะ", True),
        ("เคยท่วมเมื่อปีที่แล้วค่ะตอนนี้แห้งแล้ว", False),
        ("อยากถามเรื่องใบอนุญาตปืนครับ", False),
        ("สามีดิฉันไม่ส่งเงินเลี้ยงลูกค่ะ", False),  # มีด (a knife) is not in สามีดิฉัน
    ],
)
def test_urgency_without_spaces(understanding: Understanding, text: str, urgent: bool) -> None:
    assert understanding.extract(text).urgent.value is urgent


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("เจ้าหนี้นอกระบบทวงหนี้โหดมากครับ", "DEBT_INFORMAL"),
        ("มีคนขายยาบ้าในหมู่บ้านครับ", "DRUGS"),
        ("ไฟถนนดับทั้งซอยมืดมากครับ", "INFRASTRUCTURE"),
        ("สั่งของทางออนไลน์ได้ของปลอมร้านไม่ยอมคืนเงินค่ะ", "CONSUMER"),
        ("ปลัดอำเภอเรียกเงินค่าทำบัตรประชาชนครับ", "OFFICIAL_MISCONDUCT"),
    ],
)
def test_category_without_spaces(understanding: Understanding, text: str, category: str) -> None:
    assert understanding.extract(text).category.value == category


def test_spaced_and_spaceless_read_the_same(understanding: Understanding) -> None:
    spaced = (
        "น้ำ ท่วม บ้าน สูง เกือบ ถึง หลังคา แล้ว ค่ะ มี ผู้ป่วย ติด เตียง ยัง ออก มา ไม่ ได้ ค่ะ "
        "อยู่ อำเภอ เมือง อุบลราชธานี ค่ะ ช่วย ด่วน ค่ะ ศูนย์ หก หก สี่ ศูนย์ ห้า หก สี่ สาม เก้า"
    )
    a = understanding.extract(spaced).to_json_dict()
    b = understanding.extract("".join(spaced.split())).to_json_dict()
    del a["text"], b["text"]
    assert a == b
    assert a["district_code"] == "3401" and a["phone"] == "0664056439" and a["urgent"] is True


@pytest.mark.parametrize(
    ("text", "words"),
    [
        # what Vosk prints is kept as it is, misspelt words included
        ("อยู่ อำเภอ หนองบัวแดน", ["อยู่", "อำเภอ", "หนองบัวแดน"]),
        ("ศูนย์แปดหนึ่งสอง", ["ศูนย์แปดหนึ่งสอง"]),  # a run of digit words: numbers reads it
        ("อยู่อำเภอสันทรายจังหวัดเชียงใหม่", ["อยู่", "อำเภอ", "สันทราย", "จังหวัด", "เชียงใหม่"]),
        ("อยู่ตากครับ", ["อยู่", "ตาก", "ครับ"]),  # short, but a locative shows it is a phrase
        ("บ้านอยู่อ.หางดง", ["บ้าน", "อยู่", "อำเภอ", "หางดง"]),
        ("ธ.ก.ส.ยึดที่", ["ธ.ก.ส", "ยึด", "ที่"]),  # not อ. / จ. / ต.
        ("อยู่อำเภอหนองกุงสีครับ", ["อยู่", "อำเภอ", "หนอง", "กุง", "สี", "ครับ"]),
    ],
)
def test_words_of_a_transcript(understanding: Understanding, text: str, words: list[str]) -> None:
    assert tokenise(text, understanding.split_words) == words
