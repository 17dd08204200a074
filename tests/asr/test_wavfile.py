from __future__ import annotations

import struct
from pathlib import Path

import pytest

from asr.wavfile import WavError, parse_wav, read_wav, write_stereo_wav, write_wav


def test_round_trip(tmp_path: Path) -> None:
    pcm = bytes(range(200))
    write_wav(tmp_path / "a.wav", pcm, 8000)
    audio = read_wav(tmp_path / "a.wav")
    assert (audio.pcm16, audio.sample_rate) == (pcm, 8000)
    assert audio.seconds == pytest.approx(100 / 8000)


def test_a_header_written_before_the_end_of_the_call_still_reads_all_samples(
    tmp_path: Path,
) -> None:
    write_wav(tmp_path / "a.wav", b"\x01\x00" * 50, 8000)
    data = bytearray((tmp_path / "a.wav").read_bytes())
    data[40:44] = struct.pack("<I", 0)  # the writer had not patched the size yet
    data += b"\x02\x00" * 10  # and had written more since
    assert len(parse_wav(bytes(data)).pcm16) == 120


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: b"garbage" + d, "not a WAV file"),
        (lambda d: d[:20] + struct.pack("<H", 3) + d[22:], "unsupported WAV encoding 3"),
        (lambda d: d[:22] + struct.pack("<H", 2) + d[24:], "2 channels"),
        (lambda d: d[:34] + struct.pack("<H", 8) + d[36:], "sample size 8 bits"),
        (lambda d: d[:36], "no audio data chunk"),
    ],
)
def test_bad_files_are_refused_with_a_reason(tmp_path: Path, mutate: object, message: str) -> None:
    write_wav(tmp_path / "a.wav", b"\x00\x00" * 10, 8000)
    data = mutate((tmp_path / "a.wav").read_bytes())  # type: ignore[operator]
    with pytest.raises(WavError, match=message):
        parse_wav(data)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(WavError, match="recording file not found"):
        read_wav(tmp_path / "nope.wav")


def test_a_conversation_is_read_one_side_at_a_time(tmp_path: Path) -> None:
    caller, agent = b"\x01\x00" * 30, b"\x02\x00" * 20
    write_stereo_wav(tmp_path / "c.wav", caller, agent, 8000)
    assert read_wav(tmp_path / "c.wav", "caller").pcm16 == caller
    assert read_wav(tmp_path / "c.wav", "agent").pcm16 == agent + b"\x00\x00" * 10
    with pytest.raises(WavError, match="one side at a time"):
        read_wav(tmp_path / "c.wav")
    write_wav(tmp_path / "m.wav", caller, 8000)  # the IVR's mono recording: all of it
    assert read_wav(tmp_path / "m.wav", "caller").pcm16 == caller
