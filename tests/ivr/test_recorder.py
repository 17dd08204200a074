"""The incremental WAV writer and the energy speech detector."""

from __future__ import annotations

import wave
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from ivr.recorder import SpeechDetector, WavWriter, recording_path


def tone(seconds: float, amplitude: float) -> bytes:
    n = np.arange(int(8000 * seconds))
    return (amplitude * np.sin(2 * np.pi * 300 * n / 8000)).astype("<i2").tobytes()


def test_wav_is_readable_while_being_written_and_after_close(tmp_path: Path) -> None:
    path = tmp_path / "a" / "x.wav"
    writer = WavWriter(path)
    writer.write(tone(1.5, 1000))  # more than a second: flushed with its header sizes
    with wave.open(str(path), "rb") as wav:  # what a crash right now would leave
        assert wav.getnframes() == 12000
    writer.write(tone(0.3, 1000) + b"\x01")  # an odd byte is dropped, never misaligns samples
    writer.close()
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (8000, 2, 1)
        assert wav.getnframes() == 14400
    assert writer.seconds == pytest.approx(1.8)
    writer.write(b"\x00\x00")  # after close: ignored, no error
    assert writer.closed


def test_never_overwrites_an_existing_recording(tmp_path: Path) -> None:
    moment = datetime(2026, 3, 5, 1, 2, tzinfo=UTC)
    first = recording_path(tmp_path, "call/../1", moment)
    assert first == tmp_path / "2026" / "03" / "05" / "call_.._1.wav"
    WavWriter(first).close()
    second = recording_path(tmp_path, "call/../1", moment)
    assert second.name == "call_.._1-2.wav"
    with pytest.raises(FileExistsError):
        WavWriter(first)


def test_speech_detector_needs_a_run_of_loud_frames() -> None:
    detector = SpeechDetector(-40.0)
    assert not detector.feed(tone(1.0, 20))  # faint hiss
    assert not detector.feed(tone(0.04, 5000))  # a 40 ms click
    assert not detector.feed(tone(0.2, 20))
    assert not detector.speech_started
    assert detector.feed(tone(0.5, 5000))  # speech
    assert detector.speech_started
    detector.feed(tone(2.0, 20))
    assert detector.silence_seconds == pytest.approx(2.0, abs=0.021)
    assert detector.seconds == pytest.approx(3.74, abs=0.021)


def test_speech_detector_handles_odd_chunk_sizes() -> None:
    detector = SpeechDetector(-40.0)
    audio = tone(1.0, 5000)
    for start in range(0, len(audio), 333):
        detector.feed(audio[start : start + 333])
    assert detector.speech_started
    assert detector.seconds == pytest.approx(1.0, abs=0.021)
