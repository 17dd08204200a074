"""Prompt manifest, rendering with espeak-ng + sox, the in-memory library, and the CLI."""

from __future__ import annotations

import argparse
import wave
from pathlib import Path

import pytest

from ivr import cli
from ivr.channel import SAMPLE_RATE
from ivr.prompts.build import build_prompts
from ivr.prompts.library import BEEP_SECONDS, PromptError, PromptLibrary
from ivr.prompts.manifest import ManifestError, load_manifest

TWO_PROMPTS = """
[[prompt]]
id = "digit_1"
text = "หนึ่ง"
file = "digit_1.wav"

[[prompt]]
id = "goodbye"
text = "ขอบคุณค่ะ"
file = "goodbye.wav"
"""


@pytest.fixture
def small_manifest(tmp_path: Path) -> Path:
    path = tmp_path / "config" / "prompts.toml"
    path.parent.mkdir()
    path.write_text(TWO_PROMPTS, encoding="utf-8")
    return path


def wav_shape(path: Path) -> tuple[int, int, int, float]:
    with wave.open(str(path), "rb") as wav:
        return (
            wav.getframerate(),
            wav.getsampwidth(),
            wav.getnchannels(),
            wav.getnframes() / wav.getframerate(),
        )


def test_build_renders_8khz_16bit_mono_and_keeps_existing_files(
    tmp_path: Path, small_manifest: Path
) -> None:
    manifest = load_manifest(small_manifest)
    out = tmp_path / "prompts"
    report = build_prompts(manifest, out)
    assert sorted(report.rendered) == ["digit_1", "goodbye"]
    for name in ("digit_1.wav", "goodbye.wav"):
        rate, width, channels, seconds = wav_shape(out / name)
        assert (rate, width, channels) == (8000, 2, 1)
        assert 0.2 < seconds < 5
    assert not [p for p in out.iterdir() if p.name.startswith(".render")]  # no temp left

    studio = (out / "goodbye.wav").read_bytes()[:44] + b"\x01\x00" * 800  # a "studio" take
    (out / "goodbye.wav").write_bytes(studio)
    again = build_prompts(manifest, out)
    assert again.rendered == [] and sorted(again.kept) == ["digit_1", "goodbye"]
    assert (out / "goodbye.wav").read_bytes() == studio

    forced = build_prompts(manifest, out, force=True)
    assert sorted(forced.rendered) == ["digit_1", "goodbye"]
    assert (out / "goodbye.wav").read_bytes() != studio


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('id = "x"\ntext = ""\nfile = "x.wav"', "prompt #1 (x): 'text' must be a non-empty string"),
        ('id = "x"\ntext = "a"\nfile = "../x.wav"', "prompt #1 (x): 'file' must be a plain name"),
        ('id = "X Y"\ntext = "a"\nfile = "x.wav"', "prompt #1 (X Y): 'id' must be lower-case"),
        ('id = "beep"\ntext = "a"\nfile = "b.wav"', "prompt #1 (beep): 'beep' is generated"),
        ('text = "a"\nfile = "x.wav"', "prompt #1: 'id' must be a non-empty string"),
    ],
)
def test_broken_manifest_names_the_entry(tmp_path: Path, entry: str, message: str) -> None:
    path = tmp_path / "prompts.toml"
    path.write_text(f"[[prompt]]\n{entry}\n", encoding="utf-8")
    with pytest.raises(ManifestError) as error:
        load_manifest(path)
    assert str(error.value).startswith(f"{path}: prompt #1")
    assert message in str(error.value)


def test_duplicates_in_manifest(tmp_path: Path) -> None:
    path = tmp_path / "prompts.toml"
    path.write_text(TWO_PROMPTS + '[[prompt]]\nid = "digit_1"\ntext = "a"\nfile = "c.wav"\n')
    with pytest.raises(ManifestError, match=r"prompt #3 \(digit_1\): duplicate id 'digit_1'"):
        load_manifest(path)
    path.write_text(TWO_PROMPTS.replace("goodbye.wav", "digit_1.wav"))
    with pytest.raises(ManifestError, match=r"'digit_1\.wav' is already used by 'digit_1'"):
        load_manifest(path)


def _write_wav(path: Path, rate: int, channels: int, seconds: float) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(b"\x00\x00" * channels * int(rate * seconds))


def test_library_loads_pcm_and_generates_beep(tmp_path: Path, small_manifest: Path) -> None:
    manifest = load_manifest(small_manifest)
    _write_wav(tmp_path / "digit_1.wav", 8000, 1, 0.5)
    _write_wav(tmp_path / "goodbye.wav", 8000, 1, 1.0)
    library = PromptLibrary.load(tmp_path, manifest)
    assert len(library.pcm("digit_1")) == 8000
    assert len(library.pcm("beep")) == int(SAMPLE_RATE * BEEP_SECONDS) * 2
    assert max(abs(int.from_bytes(library.pcm("beep")[i : i + 2], "little", signed=True))
               for i in range(0, 6400, 2)) > 5000  # fmt: skip
    assert len(library.join(["digit_1", "goodbye", "unknown"])) == 8000 + 16000
    assert library.sequence_for_reference("690001234") == [
        "digit_6", "digit_9", "pause", "digit_0", "digit_0", "digit_0", "digit_1", "digit_2",
        "digit_3", "pause", "digit_4",
    ]  # fmt: skip


def test_library_names_missing_and_bad_files(tmp_path: Path, small_manifest: Path) -> None:
    manifest = load_manifest(small_manifest)
    _write_wav(tmp_path / "digit_1.wav", 8000, 1, 0.5)
    with pytest.raises(PromptError, match=r"goodbye \(.*goodbye.wav\).*hotline1567 prompts build"):
        PromptLibrary.load(tmp_path, manifest)
    _write_wav(tmp_path / "goodbye.wav", 44100, 2, 0.1)
    expected = r"prompt goodbye: .* expected 8000 Hz 16-bit mono, got 44100 Hz 16-bit 2 channel"
    with pytest.raises(PromptError, match=expected):
        PromptLibrary.load(tmp_path, manifest)
    (tmp_path / "goodbye.wav").write_bytes(b"not a wav")
    with pytest.raises(PromptError, match=r"prompt goodbye: .* not a readable WAV file"):
        PromptLibrary.load(tmp_path, manifest)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cli.register(sub)
    return parser.parse_args(argv)


def test_cli_prompts_build_and_list(
    tmp_path: Path,
    small_manifest: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("HOTLINE_CONFIG_DIR", str(small_manifest.parent))
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    listed = _parse("prompts", "list")
    assert listed.handler(listed) == 1  # files missing
    assert "digit_1\tdigit_1.wav\tMISSING" in capsys.readouterr().out
    args = _parse("prompts", "build")
    assert args.handler(args) == 0
    assert "2 rendered, 0 kept" in capsys.readouterr().out
    assert (tmp_path / "data" / "prompts" / "goodbye.wav").exists()
    forced = _parse("prompts", "build", "--force")
    assert forced.force and forced.handler(forced) == 0
    assert listed.handler(listed) == 0


def test_cli_build_reports_a_broken_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "prompts.toml").write_text('[[prompt]]\nid = "a"\ntext = "x"\n')
    monkeypatch.setenv("HOTLINE_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "data"))
    args = _parse("prompts", "build")
    assert args.handler(args) == 2
    assert "prompt #1 (a): 'file' must be a non-empty string" in capsys.readouterr().err


def test_ivr_command_is_registered() -> None:
    args = _parse("ivr")
    assert args.handler.__name__ == "_run_node"
