from __future__ import annotations

from pathlib import Path

import pytest

from asr.decoding import merged_conf, model_with_options, parse_options
from config.sections import AsrWorkerOptions
from config.settings import SettingsError

CONF = "--min-active=200\n--max-active=3000\n--beam=10.0\n--lattice-beam=2.0\n"


def test_options_replace_the_models_lines_and_new_ones_are_added() -> None:
    text = merged_conf(CONF, {"beam": "8.0", "max-active": "1500", "min-active": "100"})
    assert text.splitlines() == [
        "--min-active=100",
        "--max-active=1500",
        "--beam=8.0",
        "--lattice-beam=2.0",
    ]
    assert merged_conf(CONF, {"endpoint.rule5.min-utterance-length": "20"}).endswith(
        "--lattice-beam=2.0\n--endpoint.rule5.min-utterance-length=20\n"
    )


def test_parse_options_refuses_what_is_not_name_value() -> None:
    assert parse_options("beam=9, --max-active=2000") == {"beam": "9", "max-active": "2000"}
    with pytest.raises(ValueError, match="name=value"):
        parse_options("beam")


def test_the_model_folder_is_left_alone_and_the_private_one_removed(tmp_path: Path) -> None:
    model = tmp_path / "model"
    (model / "conf").mkdir(parents=True)
    (model / "am").mkdir()
    (model / "conf" / "model.conf").write_text(CONF)
    (model / "conf" / "mfcc.conf").write_text("--use-energy=false\n")
    with model_with_options(model, {}) as same:
        assert same == model
    with model_with_options(model, {"beam": "8.0"}) as folder:
        assert folder != model and (folder / "am").resolve() == (model / "am").resolve()
        assert "--beam=8.0" in (folder / "conf" / "model.conf").read_text()
        assert (folder / "conf" / "mfcc.conf").read_text() == "--use-energy=false\n"
    assert not folder.exists()
    assert (model / "conf" / "model.conf").read_text() == CONF


def test_asr_decoder_setting_and_the_worker_read_it_alike() -> None:
    """One parser: what start-up accepts, the worker's decoder reads the same way."""
    raw = "beam=9, --max-active=2000,"  # a trailing comma and Kaldi's dashes
    assert AsrWorkerOptions.from_env({"HOTLINE_ASR_DECODER": raw}).decoder == raw
    assert parse_options(raw) == {"beam": "9", "max-active": "2000"}
    for bad in ("beam=,x=1", "=9"):
        with pytest.raises(SettingsError):
            AsrWorkerOptions.from_env({"HOTLINE_ASR_DECODER": bad})
        with pytest.raises(ValueError):
            parse_options(bad)
