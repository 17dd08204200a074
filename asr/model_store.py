"""Installing and locating Vosk models under ``<data dir>/models/<name>``.

``install_model`` takes a URL or a local zip / tar archive / folder, unpacks into a temporary
folder beside the target (same filesystem, so the final move is a rename), checks the Vosk
layout and only then swaps it in: a failed or interrupted install leaves no half model behind.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from config.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_NAME = "default"
DOWNLOAD_TIMEOUT_SECONDS = 60


class ModelError(ValueError):
    """The model source or folder is unusable; the message says what is wrong and where."""


def configured_model(settings: Settings) -> Path | None:
    """``HOTLINE_ASR_MODEL`` if set, else ``<models dir>/default`` if installed, else None."""
    if settings.asr_model is not None:
        return settings.asr_model
    default = settings.models_dir / DEFAULT_NAME
    return default if default.is_dir() else None


def check_layout(model_dir: Path) -> None:
    """Raise ModelError naming every missing piece of a Vosk (Kaldi nnet3) model folder."""
    if not model_dir.is_dir():
        raise ModelError(f"{model_dir}: not a folder")
    problems: list[str] = []
    for required in ("am/final.mdl", "conf/mfcc.conf"):
        if not (model_dir / required).is_file():
            problems.append(f"missing {required}")
    graph = model_dir / "graph"
    static = (graph / "HCLG.fst").is_file()
    lookahead = (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()
    if not (static or lookahead):
        problems.append("missing graph/HCLG.fst (or graph/HCLr.fst + graph/Gr.fst)")
    if (static or lookahead) and not (graph / "phones" / "word_boundary.int").is_file():
        # Without it Vosk cannot give word times, which the console's player relies on.
        problems.append("missing graph/phones/word_boundary.int")
    ivector = model_dir / "ivector"
    if ivector.is_dir():
        for name in ("final.ie", "final.dubm", "final.mat", "global_cmvn.stats", "splice.conf"):
            if not (ivector / name).is_file():
                problems.append(f"missing ivector/{name}")
    if problems:
        raise ModelError(f"{model_dir}: not a Vosk model: {'; '.join(problems)}")


def find_model_root(folder: Path) -> Path:
    """Archives usually hold one top folder (``vosk-model-xx/``); find the one with am/."""
    if (folder / "am").is_dir():
        return folder
    candidates = [p.parent.parent for p in folder.rglob("am/final.mdl")]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise ModelError(f"{folder}: no am/final.mdl anywhere inside: not a Vosk model")
    raise ModelError(f"{folder}: several models inside ({len(candidates)}); unpack one")


def install_model(
    source: str, models_dir: Path, *, name: str = DEFAULT_NAME, sha256: str | None = None
) -> Path:
    _check_name(name)
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / name
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=models_dir) as tmp:
        work = Path(tmp)
        local = _fetch(source, work)
        if sha256:
            _verify(local, sha256)
        unpacked = work / "unpacked"
        if local.is_dir():
            shutil.copytree(local, unpacked, symlinks=False)
        elif zipfile.is_zipfile(local):
            _unzip(local, unpacked)
        elif tarfile.is_tarfile(local):
            _untar(local, unpacked)
        else:
            raise ModelError(f"{source}: not a zip or tar archive, nor a folder")
        root = find_model_root(unpacked)
        check_layout(root)
        if target.exists():
            # Keep the old model until the new one is in place, then drop it.
            old = work / "previous"
            target.rename(old)
        root.rename(target)
    log.info("installed ASR model %s from %s", target, source)
    return target


def _check_name(name: str) -> None:
    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise ModelError(f"invalid model name {name!r}: use a plain folder name like 'default'")


def _fetch(source: str, work: Path) -> Path:
    scheme = urllib.parse.urlsplit(source).scheme.lower()
    if scheme in ("http", "https", "ftp"):
        dest = work / "download"
        log.info("downloading %s", source)
        try:
            with (
                urllib.request.urlopen(source, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response,
                dest.open("wb") as out,
            ):
                shutil.copyfileobj(response, out, length=1 << 20)
        except OSError as exc:  # URLError, HTTPError, timeouts and socket errors are OSErrors
            raise ModelError(f"cannot download {source}: {exc}") from exc
        return dest
    path = Path(source[7:] if scheme == "file" else source).expanduser()
    if not path.exists():
        raise ModelError(f"{source}: no such file or folder")
    return path


def _verify(path: Path, expected: str) -> None:
    if path.is_dir():
        raise ModelError("--sha256 checks an archive; a folder has no single checksum")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    actual = digest.hexdigest()
    if actual.lower() != expected.strip().lower():
        raise ModelError(f"checksum mismatch: expected sha256 {expected}, got {actual}")


def _inside(base: Path, member: str) -> Path:
    target = (base / member).resolve()
    if not target.is_relative_to(base.resolve()):
        raise ModelError(f"archive entry {member!r} points outside the model folder: refused")
    return target


def _unzip(archive: Path, dest: Path) -> None:
    dest.mkdir()
    try:
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _inside(dest, info.filename)  # check all before writing anything
            bad = zf.testzip()
            if bad is not None:
                raise ModelError(f"{archive.name}: corrupt archive (bad CRC in {bad})")
            zf.extractall(dest)
    except (zipfile.BadZipFile, EOFError) as exc:
        raise ModelError(f"{archive.name}: corrupt zip archive: {exc}") from exc


def _untar(archive: Path, dest: Path) -> None:
    dest.mkdir()
    try:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                _inside(dest, member.name)
                if member.issym() or member.islnk() or member.isdev():
                    raise ModelError(f"archive entry {member.name!r} is a link or device: refused")
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, EOFError) as exc:
        raise ModelError(f"{archive.name}: corrupt tar archive: {exc}") from exc
