"""Voice activity segmentation (asr.vad) on real speech: espeak-ng Korean at the model's 16 kHz."""

from __future__ import annotations

import numpy as np
import pytest

from asr.vad import END_SILENCE, FRAME_SECONDS, WINDOW, Segmenter, Speech, UtteranceEnd
from asr.wavfile import read_wav
from tests.asr.conftest import KOREAN_TEXT, synthesise

RATE = 16000


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """One sentence with the synthesiser's own lead-in and tail trimmed off (speech only)."""
    wav = synthesise(KOREAN_TEXT, tmp_path_factory.mktemp("vad") / "ko.wav", rate=RATE)
    samples = np.frombuffer(read_wav(wav).pcm16, dtype="<i2")
    loud = np.flatnonzero(np.abs(samples) > 500)
    return samples[loud[0] : loud[-1] + 1].tobytes()


def silence(seconds: float) -> bytes:
    return b"\x00\x00" * int(seconds * RATE)


def noise(seconds: float, level: int = 30) -> bytes:
    rng = np.random.default_rng(7)
    return rng.integers(-level, level, int(seconds * RATE), dtype="<i2").tobytes()


def segments(pcm: bytes, chunk: int = 640, **options: float) -> list[tuple[float, float]]:
    """(start, end) in seconds of each utterance, with every decoded byte accounted for."""
    segmenter = Segmenter(RATE, **options)  # type: ignore[arg-type]
    events = []
    for offset in range(0, len(pcm), chunk):
        events += segmenter.feed(pcm[offset : offset + chunk])
    events += segmenter.flush()
    found: list[tuple[float, float]] = []
    start: float | None = None
    position = 0.0
    for event in events:
        if isinstance(event, Speech):
            if start is None:
                start = event.start
            else:
                assert event.start == pytest.approx(position)  # contiguous inside an utterance
            position = event.start + len(event.pcm) / 2 / RATE
        else:
            assert isinstance(event, UtteranceEnd) and start is not None
            assert event.at == pytest.approx(position)
            found.append((start, event.at))
            start = None
    assert start is None, "an utterance was left open after flush"
    decoded = sum(end - begin for begin, end in found)
    assert segmenter.speech_seconds == pytest.approx(decoded, abs=1e-6)
    return found


@pytest.mark.parametrize("pcm", [silence(10), noise(10)], ids=["digital-silence", "line-noise"])
def test_silence_only_is_never_decoded(pcm: bytes) -> None:
    assert segments(pcm) == []


def test_speech_only_is_one_utterance_covering_all_of_it(speech: bytes) -> None:
    seconds = len(speech) / 2 / RATE
    found = segments(speech)
    assert len(found) == 1
    start, end = found[0]
    assert start == 0.0  # speech from the first sample: nothing before it to lose
    assert end == pytest.approx(seconds, abs=FRAME_SECONDS)  # closed by the end of the audio


def test_pauses_split_utterances_and_are_not_decoded(speech: bytes) -> None:
    seconds = len(speech) / 2 / RATE
    pauses = [2.0, 0.8, 3.0]
    pcm = silence(1.0)
    for pause in pauses:
        pcm += speech + silence(pause)
    found = segments(pcm)
    assert len(found) == len(pauses)
    onset = 1.0
    for (start, end), pause in zip(found, pauses, strict=True):
        # begins at most the look-back window before the speech, ends its trailing silence
        # after it (plus webrtcvad's own hang-over of a few frames)
        assert onset - WINDOW * FRAME_SECONDS - 0.01 <= start <= onset + 0.1
        assert onset + seconds <= end <= onset + seconds + END_SILENCE + 6 * FRAME_SECONDS
        onset += seconds + pause
    decoded = sum(end - start for start, end in found)
    total = len(pcm) / 2 / RATE
    assert decoded < total - (1.0 + sum(pauses)) + len(pauses) * (END_SILENCE + 0.4)


def test_a_call_cut_off_mid_word_still_ends_its_utterance(speech: bytes) -> None:
    cut = speech[: len(speech) // 2 // 2 * 2]  # the line drops half-way through the sentence
    found = segments(silence(1.0) + cut)
    assert len(found) == 1
    assert found[0][1] == pytest.approx(1.0 + len(cut) / 2 / RATE, abs=FRAME_SECONDS)


def test_clipped_loud_speech_is_still_speech(speech: bytes) -> None:
    samples = np.frombuffer(speech, dtype="<i2").astype(np.int32) * 8
    clipped = np.clip(samples, -32768, 32767).astype("<i2").tobytes()  # a shouting caller
    assert np.mean(np.abs(np.frombuffer(clipped, dtype="<i2")) >= 32767) > 0.05
    found = segments(silence(0.5) + clipped + silence(1.5))
    assert len(found) == 1
    assert found[0][1] - found[0][0] >= len(speech) / 2 / RATE


def test_segments_do_not_depend_on_how_the_audio_is_cut(speech: bytes) -> None:
    pcm = silence(0.7) + speech + silence(1.2) + speech + silence(0.3)
    expected = segments(pcm, chunk=640)
    for chunk in (2, 322, 7777, len(pcm)):
        assert segments(pcm, chunk=chunk) == expected


def test_a_caller_who_never_pauses_gets_bounded_utterances(speech: bytes) -> None:
    found = segments(speech * 6, max_utterance=4.0)
    assert len(found) >= 2
    assert all(end - start <= 4.0 + FRAME_SECONDS for start, end in found)
    assert found[-1][1] == pytest.approx(len(speech) * 6 / 2 / RATE, abs=FRAME_SECONDS)


def test_rates_webrtcvad_cannot_take_are_refused() -> None:
    with pytest.raises(ValueError, match="22050"):
        Segmenter(22050)


def test_speech_with_pauses_over_line_noise_splits_as_on_a_clean_line(speech: bytes) -> None:
    """A real line is never digitally silent: hiss under everything, the pauses included."""
    pauses = [1.5, 0.8, 2.5]
    clean = silence(1.0)
    for pause in pauses:
        clean += speech + silence(pause)
    hiss = np.frombuffer(noise(len(clean) / 2 / RATE, level=60), dtype="<i2").astype(np.int32)
    noisy = np.clip(np.frombuffer(clean, dtype="<i2") + hiss, -32768, 32767).astype("<i2")
    found, reference = segments(noisy.tobytes()), segments(clean)
    assert len(found) == len(reference) == len(pauses)
    for (start, end), (ref_start, ref_end) in zip(found, reference, strict=True):
        assert abs(start - ref_start) <= 0.1 and abs(end - ref_end) <= 0.2
