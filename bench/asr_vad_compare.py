"""webrtcvad (what the worker uses) against silero-vad (ONNX, onnxruntime) on the same call audio.

The audio is ``bench/asr_latency.py``'s call-like audio (espeak-ng Korean sentences with pauses
of 0.5–3 s of digital silence), at the model's 16 kHz, plus the same with telephone-like noise
(white noise at -35 dBFS over everything, pauses included), so "silence" is not just zeros.
The truth is where the sentences were put. For each detector: CPU seconds (this thread) per
second of audio, the share of 30 ms frames it labels as the truth does, recall of speech
frames, and the agreement between the two detectors.

silero runs as its wrapper does (512-sample windows at 16 kHz with 64 samples of context, the
recurrent state carried over; speech when the probability is at least 0.5), with one
onnxruntime thread: the worker's decoding threads need the rest of the cores.

Not in requirements.lock (measurement only): install into a scratch folder and point at it,
    pip install --no-deps --target /tmp/silero silero-vad onnxruntime
    PYTHONPATH=/tmp/silero .venv/bin/python bench/asr_vad_compare.py [--seconds 120]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import webrtcvad
from asr_latency import PAUSES, SENTENCES, _espeak

from asr.resample import resample_all

RATE = 16000
FRAME = 480  # 30 ms at 16 kHz (webrtcvad's frame; the comparison grid)
WINDOW = 512  # silero's window at 16 kHz
CONTEXT = 64


def call_with_truth(said: list[bytes], seconds: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """16 kHz int16 samples of speech with pauses, and a per-sample truth (True = a sentence)."""
    rng = random.Random(seed)
    pieces, truth = [], []
    total = 0
    index = seed
    while total < seconds * RATE:
        pause = np.zeros(int(rng.uniform(*PAUSES) * RATE), dtype=np.int16)
        speech = np.frombuffer(resample_all(said[index % len(said)], 8000, RATE), dtype="<i2")
        pieces += [pause, speech]
        truth += [np.zeros(len(pause), bool), np.ones(len(speech), bool)]
        total += len(pause) + len(speech)
        index += 1
    return np.concatenate(pieces), np.concatenate(truth)


def frames_truth(truth: np.ndarray) -> np.ndarray:
    n = len(truth) // FRAME
    return truth[: n * FRAME].reshape(n, FRAME).mean(axis=1) >= 0.5


def webrtc_labels(pcm: np.ndarray, aggressiveness: int = 2) -> tuple[np.ndarray, float]:
    vad = webrtcvad.Vad(aggressiveness)
    raw = pcm.astype("<i2").tobytes()
    n = len(pcm) // FRAME
    began = time.thread_time()
    labels = np.array(
        [vad.is_speech(raw[i * FRAME * 2 : (i + 1) * FRAME * 2], RATE) for i in range(n)]
    )
    return labels, time.thread_time() - began


def silero_labels(pcm: np.ndarray, model: Path, threshold: float = 0.5) -> tuple[np.ndarray, float]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    audio = pcm.astype(np.float32) / 32768.0
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros((1, CONTEXT), dtype=np.float32)
    sr = np.array(RATE, dtype=np.int64)
    probs = []
    began = time.thread_time()
    for start in range(0, len(audio) - WINDOW + 1, WINDOW):
        window = audio[start : start + WINDOW][None, :]
        out, state = session.run(
            None, {"input": np.concatenate([context, window], axis=1), "state": state, "sr": sr}
        )
        context = window[:, -CONTEXT:]
        probs.append(float(out[0][0]))
    cpu = time.thread_time() - began
    # Onto the 30 ms grid: each frame takes the window its middle falls in.
    n = len(pcm) // FRAME
    middle = (np.arange(n) * FRAME + FRAME // 2) // WINDOW
    per_window = np.array([*probs, 0.0])
    return per_window[np.minimum(middle, len(probs))] >= threshold, cpu


def report(name: str, labels: np.ndarray, truth: np.ndarray, cpu: float, seconds: float) -> None:
    n = min(len(labels), len(truth))
    labels, truth = labels[:n], truth[:n]
    agree = float(np.mean(labels == truth))
    recall = float(np.mean(labels[truth])) if truth.any() else float("nan")
    false_speech = float(np.mean(labels[~truth])) if (~truth).any() else float("nan")
    print(
        f"  {name:<9} CPU {cpu / seconds * 1000:7.2f} ms per audio s   frames as the truth "
        f"{agree:6.1%}   speech recall {recall:6.1%}   pauses called speech {false_speech:6.1%}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--silero-model", type=Path, help="default: the silero_vad package's")
    args = parser.parse_args()
    model = args.silero_model
    if model is None:  # the package's own model file (importing it would need torch)
        spec = importlib.util.find_spec("silero_vad")
        if spec is None or not spec.submodule_search_locations:
            sys.exit("silero-vad is not installed: see the docstring")
        model = Path(next(iter(spec.submodule_search_locations))) / "data" / "silero_vad.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        said = [_espeak(text, Path(tmp), f"s{n}") for n, text in enumerate(SENTENCES)]
    pcm, truth = call_with_truth(said, args.seconds, 1567)
    noise = np.random.default_rng(1567).normal(0, 32768 * 10 ** (-35 / 20), len(pcm))
    noisy = np.clip(pcm + noise, -32768, 32767).astype(np.int16)
    grid = frames_truth(truth)
    seconds = len(pcm) / RATE
    print(
        f"{seconds:.0f} s of call-like audio at 16 kHz, {1 - truth.mean():.0%} pauses; one thread "
        f"each; load average {os.getloadavg()[0]:.1f} (machine shared with other work)"
    )
    for label, audio in (("clean pauses", pcm), ("noise at -35 dBFS", noisy)):
        print(label)
        web, web_cpu = webrtc_labels(audio)
        sil, sil_cpu = silero_labels(audio, model)
        report("webrtcvad", web, grid, web_cpu, seconds)
        report("silero", sil, grid, sil_cpu, seconds)
        n = min(len(web), len(sil))
        print(f"  the two agree on {float(np.mean(web[:n] == sil[:n])):.1%} of frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
