"""Writes a folder for ``hotline1567 asr eval``: espeak-ng Korean calls with their reference text.

Half the files sound like calls (``bench/asr_latency.py``'s call-like audio: sentences with
pauses of 0.5–3 s, about a third of the time), half are the same sentences back to back; all
8 kHz telephone audio. Each file's ``.txt`` is the text given to espeak-ng.

    .venv/bin/python bench/asr_eval_set.py DIR [--calls 12] [--seconds 20]
    .venv/bin/hotline1567 asr eval DIR --model MODEL            # with voice detection
    .venv/bin/hotline1567 asr eval DIR --model MODEL --no-vad   # as before it
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from asr_latency import SENTENCES, _espeak, call_audio

from asr.wavfile import write_wav


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--calls", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        said = [_espeak(text, Path(tmp), f"s{n}") for n, text in enumerate(SENTENCES)]
    for n in range(args.calls):
        pcm, _silence, used = call_audio(said, args.seconds, n)
        name = f"call-{n:02d}"
        if n % 2:  # the same sentences without the pauses
            pcm, name = b"".join(said[i] for i in used), f"continuous-{n:02d}"
        write_wav(args.folder / f"{name}.wav", pcm, 8000)
        text = " ".join(SENTENCES[i] for i in used)
        (args.folder / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
    print(f"wrote {args.calls} calls to {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
