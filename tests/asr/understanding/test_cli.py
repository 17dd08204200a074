from __future__ import annotations

import io
import json

import pytest

from asr.understanding import run_extract_cli

FIELDS = {"category", "province_code", "district_code", "phone", "citizen_id", "urgent"}


class _Stdin(io.TextIOWrapper):
    """A stdin whose .buffer holds exactly the bytes given, like sys.stdin."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8")


def _run(data: bytes, *, jsonl: bool) -> tuple[int, list[dict[str, object]]]:
    stdout = io.StringIO()
    code = run_extract_cli(_Stdin(data), stdout, jsonl=jsonl)
    return code, [json.loads(line) for line in stdout.getvalue().splitlines()]


def test_single_transcript() -> None:
    text = "น้ำ ท่วม บ้าน ตอนนี้ ค่ะ อยู่ อำเภอ หางดง เชียงใหม่ เบอร์ ศูนย์แปดหนึ่งสองสามสี่ห้าหกเจ็ดแปด"
    code, [out] = _run(text.encode(), jsonl=False)
    assert code == 0
    assert FIELDS | {"confidence"} <= set(out)
    assert set(out["confidence"]) == FIELDS  # type: ignore[arg-type]
    assert (out["province_code"], out["district_code"], out["phone"], out["urgent"]) == (
        "50",
        "5015",
        "0812345678",
        True,
    )


def test_output_is_utf8_not_escaped() -> None:
    stdout = io.StringIO()
    run_extract_cli(_Stdin("สวัสดี ครับ".encode()), stdout, jsonl=False)
    assert "สวัสดี" in stdout.getvalue()


def test_jsonl_keeps_order_and_ids() -> None:
    lines = [
        {"id": "a", "text": "อยู่ เขต ลาดพร้าว ครับ"},
        {"text": "มี บ่อน การพนัน ครับ"},
        {"id": 3, "text": "ยาบ้า ระบาด ครับ"},
    ]
    data = "\n".join(json.dumps(line, ensure_ascii=False) for line in lines).encode() + b"\n"
    code, out = _run(data, jsonl=True)
    assert code == 0
    assert [o.get("id") for o in out] == ["a", None, 3]
    assert [o["category"] for o in out] == ["OTHER", "GAMBLING", "DRUGS"]
    assert out[0]["district_code"] == "1038"


def test_jsonl_bad_lines_are_reported_in_place(capsys: pytest.CaptureFixture[str]) -> None:
    data = b"\n".join(
        [
            json.dumps({"id": 1, "text": "ยาบ้า"}, ensure_ascii=False).encode(),
            b"{not json",
            b'{"id": 3}',
            b'{"text": "\xff\xfe"}',
            b'["text"]',
            json.dumps({"id": 6, "text": "บ่อน การพนัน"}, ensure_ascii=False).encode(),
        ]
    )
    code, out = _run(data, jsonl=True)
    assert code == 1
    assert len(out) == 6
    assert [o.get("id") for o in (out[0], out[5])] == [1, 6]
    assert [str(o.get("error", "")).split(":")[0] for o in out[1:5]] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
    ]
    assert "missing 'text'" in str(out[2]["error"])
    assert "not UTF-8" in str(out[3]["error"])
    err = capsys.readouterr().err
    for number in (2, 3, 4, 5):
        assert f"line {number}:" in err


@pytest.mark.parametrize("jsonl", [False, True])
@pytest.mark.parametrize("data", [b"", b"  \n\n"])
def test_empty_input_exits_2(data: bytes, jsonl: bool, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(data, jsonl=jsonl)
    assert (code, out) == (2, [])
    assert "no input" in capsys.readouterr().err


def test_single_not_utf8(capsys: pytest.CaptureFixture[str]) -> None:
    code, [out] = _run(b"\xff\xfe\xfa", jsonl=False)
    assert code == 1
    assert "not UTF-8" in str(out["error"])
    assert "not UTF-8" in capsys.readouterr().err


def test_plain_text_stdin_without_buffer() -> None:
    stdout = io.StringIO()
    assert run_extract_cli(io.StringIO("ยาบ้า ครับ"), stdout, jsonl=False) == 0
    assert json.loads(stdout.getvalue())["category"] == "DRUGS"
