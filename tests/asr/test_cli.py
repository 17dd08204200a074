from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from hotline1567.cli import main


def test_extract_reads_a_transcript_and_prints_fields(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("asr.understanding", reason="asr.understanding not built yet")
    monkeypatch.setattr("sys.stdin", io.StringIO("ไฟ ดับ ทั้ง หมู่บ้าน อยู่ จังหวัด ขอนแก่น ครับ\n"))
    assert main(["extract"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "category" in data and "confidence" in data


def test_worker_refuses_a_folder_that_is_not_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_ASR_MODEL", str(tmp_path))
    assert main(["asr-worker"]) == 2
    assert "not a Vosk model: missing am/final.mdl" in capsys.readouterr().err


def test_bad_worker_settings_are_configuration_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_ASR_CONCURRENCY", "lots")
    assert main(["asr-worker"]) == 2
    assert "HOTLINE_ASR_CONCURRENCY='lots': expected a number" in capsys.readouterr().err
