from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from asr.fields import understanding_config_path
from hotline1567.cli import main


def test_extract_reads_a_transcript_and_prints_fields(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("ไฟ ดับ ทั้ง หมู่บ้าน อยู่ จังหวัด ขอนแก่น ครับ\n"))
    assert main(["extract"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "category" in data and "confidence" in data


def test_extract_and_the_worker_read_the_deployers_understanding_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A word the deployer added to understanding.toml in HOTLINE_CONFIG_DIR is understood
    (before, both the extract command and the ASR worker read only the packaged file)."""
    defaults = Path(__file__).resolve().parents[2] / "config" / "defaults" / "understanding.toml"
    text = defaults.read_text(encoding="utf-8").replace(
        "[category.phrases.GAMBLING]\n", '[category.phrases.GAMBLING]\n"กุ้งหอยปูปลาพิเศษ" = 9\n'
    )
    (tmp_path / "understanding.toml").write_text(text, encoding="utf-8")
    sentence = "มี คน เล่น กุ้งหอยปูปลาพิเศษ ทุก คืน ครับ"
    monkeypatch.setattr("sys.stdin", io.StringIO(sentence + "\n"))
    assert main(["extract"]) == 0
    assert json.loads(capsys.readouterr().out).get("category") != "GAMBLING"
    monkeypatch.setenv("HOTLINE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setattr("sys.stdin", io.StringIO(sentence + "\n"))
    assert main(["extract"]) == 0
    assert json.loads(capsys.readouterr().out)["category"] == "GAMBLING"
    assert understanding_config_path(tmp_path) == tmp_path / "understanding.toml"
    assert understanding_config_path(tmp_path / "elsewhere") is None


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
