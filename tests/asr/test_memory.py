"""Memory flatness over call length: a long synthetic call through the worker's decoding
stream (resampling, voice detection, the shared recognizer pool), RSS sampled as it goes.

The audio is fed as fast as the CPU allows (memory follows the audio decoded, not the clock).
"""

from __future__ import annotations

import gc

import pytest

from asr.recognizer import Recognizer
from asr.wavfile import WavAudio
from tests.asr.test_worker import rss_mb

CHUNK = 320  # 20 ms at 8 kHz


@pytest.mark.slow
def test_rss_after_three_minutes_of_call_is_what_it_was_after_thirty_seconds(
    recognizer: Recognizer, korean_audio: WavAudio
) -> None:
    pool = recognizer.pool  # type: ignore[attr-defined]
    pause = b"\x00\x00" * int(1.5 * korean_audio.sample_rate)  # speech with pauses, as a call
    piece = korean_audio.pcm16 + pause
    for _ in range(3):  # a warm recognizer: its graph cache has met these words
        warm = recognizer.open_stream(8000, partials=False)
        warm.accept(korean_audio.pcm16)
        warm.finish()
    created = pool.created
    stream = recognizer.open_stream(8000)
    fed, samples = 0.0, {}
    while fed < 180:
        for offset in range(0, len(piece), CHUNK):
            stream.accept(piece[offset : offset + CHUNK])
        fed += len(piece) / 2 / korean_audio.sample_rate
        for mark in (30, 180):
            if fed >= mark and mark not in samples:
                gc.collect()
                samples[mark] = rss_mb()
    result = stream.finish()
    assert len(result.words) >= 3 * int(180 / (len(piece) / 16000))  # all of it decoded
    # Each utterance is finalised at its end and the recognizer goes back to the pool: the
    # call's own state does not accumulate (before: +50 MB per 30 s of continuous speech).
    # What still grows is the one recognizer's graph cache settling, and it saturates
    # (measured alone on the shared host: +24 MB from 30 s to 3 min, +4 MB from 3 to 4 min).
    assert samples[180] - samples[30] < 35, samples
    assert pool.created - created <= 1 and pool.leased == 0
