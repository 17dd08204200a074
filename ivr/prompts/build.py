"""Render the prompt manifest with espeak-ng (Thai voice) into 8 kHz 16-bit mono WAV files.

A file that exists is never overwritten without ``force``: a deployer's studio recording dropped
in under the same name wins over the synthetic voice.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ivr.prompts.manifest import PromptEntry, PromptManifest

log = logging.getLogger(__name__)

ESPEAK_VOICE = "th"
ESPEAK_SPEED = 150  # words per minute; a little slower than the default for phone audio


class PromptBuildError(RuntimeError):
    """espeak-ng or sox is missing or failed for a prompt (the message names the prompt)."""


@dataclass
class BuildReport:
    rendered: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def build_prompts(
    manifest: PromptManifest, out_dir: Path, *, force: bool = False, only: set[str] | None = None
) -> BuildReport:
    espeak, sox = _tool("espeak-ng"), _tool("sox")
    out_dir.mkdir(parents=True, exist_ok=True)
    report = BuildReport()
    for entry in manifest.entries.values():
        if only is not None and entry.id not in only:
            continue
        target = out_dir / entry.file
        if target.exists() and not force:
            report.kept.append(entry.id)
            continue
        _render(espeak, sox, entry, target)
        report.rendered.append(entry.id)
    log.info("prompts in %s: %d rendered, %d kept", out_dir, len(report.rendered), len(report.kept))
    return report


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PromptBuildError(f"{name} is not installed (apt-get install {name})")
    return path


def _render(espeak: str, sox: str, entry: PromptEntry, target: Path) -> None:
    # Render next to the target and rename, so an interrupted build never leaves half a file
    # that a later build would keep.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".render-") as tmp:
        raw = Path(tmp) / "espeak.wav"
        converted = Path(tmp) / "out.wav"
        _run(
            [espeak, "-v", ESPEAK_VOICE, "-s", str(ESPEAK_SPEED), "-w", str(raw), entry.text],
            entry,
        )
        _run(
            [
                sox, str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer",
                str(converted),
                # Trim espeak's leading/trailing silence (joined digits would crawl), normalise,
                # and keep a short gap so joined words stay apart.
                "silence", "1", "0.02", "-45d", "reverse", "silence", "1", "0.02", "-45d",
                "reverse", "gain", "-n", "-3", "pad", "0", "0.08",
            ],
            entry,
        )  # fmt: skip
        os.replace(converted, target)


def _run(command: list[str], entry: PromptEntry) -> None:
    try:
        result = subprocess.run(command, capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PromptBuildError(f"prompt {entry.id}: {command[0]} failed: {exc}") from exc
    if result.returncode != 0:
        error = result.stderr.decode(errors="replace").strip()
        raise PromptBuildError(f"prompt {entry.id}: {Path(command[0]).name} failed: {error}")
