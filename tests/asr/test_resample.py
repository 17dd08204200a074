from __future__ import annotations

import numpy as np
import pytest

from asr.resample import Resampler, resample_all


def tone(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> bytes:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2").tobytes()


def as_array(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float64)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def test_a_1khz_tone_keeps_its_frequency_and_energy_from_8_to_16_khz() -> None:
    source = tone(1000, 8000, 1.0)
    out = as_array(resample_all(source, 8000, 16000))
    assert abs(len(out) - 16000) <= 2  # twice the samples, same duration
    middle = out[2000:14000]  # away from the filter's start-up and tail
    assert dominant_frequency(middle, 16000) == pytest.approx(1000, abs=2)
    assert rms(middle) == pytest.approx(rms(as_array(source)[1000:7000]), rel=0.02)


@pytest.mark.parametrize("chunk_ms", [20, 30, 200])
def test_chunked_resampling_equals_one_shot(chunk_ms: int) -> None:
    source = tone(1000, 8000, 1.0) + tone(440, 8000, 0.5)
    one_shot = as_array(resample_all(source, 8000, 16000))
    resampler = Resampler(8000, 16000)
    step = 8000 * chunk_ms // 1000 * 2
    pieces = [resampler.process(source[i : i + step]) for i in range(0, len(source), step)]
    chunked = as_array(b"".join(pieces) + resampler.flush())
    assert len(chunked) == len(one_shot)
    # Same filter state carried across chunks: no clicks at chunk edges, not even one bit.
    assert np.array_equal(chunked, one_shot)


def test_odd_byte_chunks_are_carried_not_dropped() -> None:
    source = tone(1000, 8000, 0.1)
    resampler = Resampler(8000, 8000)
    out = resampler.process(source[:101]) + resampler.process(source[101:]) + resampler.flush()
    assert out == source


def test_full_scale_input_is_clipped_not_wrapped() -> None:
    # A full-scale 500 Hz square wave overshoots after filtering (Gibbs ripples).
    square = np.array(([32767] * 8 + [-32768] * 8) * 500, dtype="<i2").tobytes()
    out = as_array(resample_all(square, 8000, 16000))
    assert out.max() <= 32767 and out.min() >= -32768
    assert out.max() > 30000  # no wrap-around to negative values


def test_bad_rates_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        Resampler(0, 16000)
