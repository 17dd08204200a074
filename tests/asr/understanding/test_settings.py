from __future__ import annotations

from pathlib import Path

import pytest

from asr.understanding import Understanding, UnderstandingConfigError
from asr.understanding.settings import packaged_config_path

GOOD = packaged_config_path().read_text(encoding="utf-8")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "understanding.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_packaged_file_loads() -> None:
    assert Understanding.from_file().settings.source == packaged_config_path()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('"ยาบ้า" = 5', '"ยาบ้า" = "five"'), "[category.phrases.DRUGS]: phrase 'ยาบ้า'"),
        (('"ยาบ้า" = 5', '"ยาบ้า" = -1'), "weight must be >= 0"),
        (('"ยาบ้า" = 5', '"ยาบ้า|" = 5'), "phrase 'ยาบ้า|': has an empty alternative"),
        (("threshold = 2.0", "threshold = true"), "[urgency]: 'threshold' must be a number"),
        (('"กทม" = "10"', '"กทม" = "1"'), "[places.province_aliases]: 'กทม'"),
        (('"กทม" = "10"', '"กทม" = "99"'), "'กทม': no province has code '99'"),
        (("min_score = 1.5", "min_scor = 1.5"), "[category]: unknown entry 'min_scor'"),
        (("[urgency]\n", "[urgency]\nx = [\n"), "not valid TOML"),
    ],
)
def test_broken_file_names_file_and_entry(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(UnderstandingConfigError) as caught:
        Understanding.from_file(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnderstandingConfigError, match="cannot read"):
        Understanding.from_file(tmp_path / "nope.toml")


def test_deployer_can_add_a_phrase(tmp_path: Path) -> None:
    text = "มี การ ขาย ลูกชิ้น ปลา ดิบ ครับ"
    assert Understanding.from_file().extract(text).category.value == "OTHER"
    edited = GOOD.replace('"ยาบ้า" = 5', '"ยาบ้า" = 5\n"ลูกชิ้นปลาดิบ" = 9', 1)
    assert Understanding.from_file(_write(tmp_path, edited)).extract(text).category.value == "DRUGS"
