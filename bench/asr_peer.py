"""The plain-threads Vosk program: the peer ``bench/asr_latency.py --peer`` measures us against.

The simplest program that could serve N calls: one shared ``vosk.Model``, one thread per call,
each with its own ``KaldiRecognizer`` at 16 kHz, fed the call's audio in real time in fixed
blocks; ``Result()`` at each of Vosk's own endpoints, ``FinalResult()`` when the audio ends. No
partial results are asked for (that only makes the peer faster), no transport, no database.

Run in a child process of its own, so its RSS and CPU time are its alone.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any


def rss_mb(pid: int | None = None) -> float:
    status = Path(f"/proc/{pid or os.getpid()}/status").read_text()
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class RssSampler:
    """Peak RSS of this process while it runs (sampled every 0.2 s)."""

    def __init__(self) -> None:
        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, rss_mb())


def _call(
    vosk: Any,
    model: Any,
    pcm: bytes,
    block_ms: int,
    start: threading.Barrier,
    out: dict[int, dict[str, Any]],
    n: int,
) -> None:
    recognizer = vosk.KaldiRecognizer(model, 16000.0)
    recognizer.SetWords(True)
    step = 16000 * block_ms // 1000 * 2
    seconds = len(pcm) / 32000
    texts: list[str] = []
    start.wait()
    begin = time.monotonic()
    for index, offset in enumerate(range(0, len(pcm), step)):
        # block ``index`` has fully arrived at begin + (index + 1) * block: real time
        delay = begin + (index + 1) * block_ms / 1000 - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if recognizer.AcceptWaveform(pcm[offset : offset + step]):
            texts.append(json.loads(recognizer.Result()).get("text", ""))
    texts.append(json.loads(recognizer.FinalResult()).get("text", ""))
    out[n] = {"latency": time.monotonic() - (begin + seconds), "text": " ".join(texts)}


def peer_round(model_dir: str, calls: list[bytes], block_ms: int) -> dict[str, Any]:
    """These calls (16 kHz PCM each) at once through the plain program; latency = end of
    audio → FinalResult returned."""
    import vosk

    vosk.SetLogLevel(-1)
    model = vosk.Model(model_dir)
    loaded_rss = rss_mb()
    start = threading.Barrier(len(calls) + 1)
    out: dict[int, dict[str, Any]] = {}
    threads = [
        threading.Thread(target=_call, args=(vosk, model, pcm, block_ms, start, out, n))
        for n, pcm in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    with RssSampler() as sampler:
        cpu_before = cpu_seconds()
        start.wait()
        for thread in threads:
            thread.join()
        cpu = cpu_seconds() - cpu_before
    return {
        "latencies": sorted(r["latency"] for r in out.values()),
        "texts": [out[n]["text"] for n in sorted(out)],
        "rss_loaded": loaded_rss,
        "rss_peak": sampler.peak,
        "cpu": cpu,
        "audio_seconds": sum(len(pcm) for pcm in calls) / 32000,
    }
