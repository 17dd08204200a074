"""The prompt manifest: which prompt ids exist, what each says in Thai, and its WAV file name.

The file is ``prompts.toml`` (the deployer's copy in ``HOTLINE_CONFIG_DIR`` wins over the packaged
default). A studio recording replaces a rendered prompt by being dropped into the prompts dir under
the same file name, so the manifest stays the single list of what the IVR can say.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.catalog import CatalogError, read_toml, resolve_file

MANIFEST_FILE = "prompts.toml"
_ID = re.compile(r"^[a-z0-9_]+$")
_FILE = re.compile(r"^[A-Za-z0-9_.-]+\.wav$")
# Generated in code, never rendered or loaded from a file.
GENERATED_IDS = frozenset({"beep", "pause"})


class ManifestError(ValueError):
    """The manifest is missing, unreadable or has an invalid entry; the message names both."""


@dataclass(frozen=True)
class PromptEntry:
    id: str
    text: str
    file: str


@dataclass(frozen=True)
class PromptManifest:
    path: Path
    entries: dict[str, PromptEntry]

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self.entries or prompt_id in GENERATED_IDS

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self.entries) | GENERATED_IDS


def manifest_path(config_dir: Path | None) -> Path:
    return resolve_file(MANIFEST_FILE, config_dir)


def load_manifest(path: Path) -> PromptManifest:
    try:
        data = read_toml(path)
    except CatalogError as exc:
        raise ManifestError(str(exc)) from exc
    raw = data.get("prompt")
    if not isinstance(raw, list) or not raw:
        raise ManifestError(f"{path}: expected one or more [[prompt]] entries")
    entries: dict[str, PromptEntry] = {}
    files: dict[str, str] = {}
    for index, entry in enumerate(raw, start=1):
        entry_id = entry.get("id") if isinstance(entry, dict) else None
        where = f"prompt #{index} ({entry_id})" if isinstance(entry_id, str) else f"prompt #{index}"
        if not isinstance(entry, dict):
            raise ManifestError(f"{path}: {where}: expected a table")
        prompt = PromptEntry(
            id=_text(path, where, entry, "id"),
            text=_text(path, where, entry, "text"),
            file=_text(path, where, entry, "file"),
        )
        if not _ID.match(prompt.id):
            raise ManifestError(f"{path}: {where}: 'id' must be lower-case letters, digits, _")
        if prompt.id in GENERATED_IDS:
            raise ManifestError(f"{path}: {where}: {prompt.id!r} is generated in code")
        if not _FILE.match(prompt.file):
            # A plain name only: the manifest must not write outside the prompts dir.
            raise ManifestError(f"{path}: {where}: 'file' must be a plain name ending in .wav")
        if prompt.id in entries:
            raise ManifestError(f"{path}: {where}: duplicate id {prompt.id!r}")
        if prompt.file in files:
            raise ManifestError(
                f"{path}: {where}: file {prompt.file!r} is already used by {files[prompt.file]!r}"
            )
        entries[prompt.id] = prompt
        files[prompt.file] = prompt.id
    return PromptManifest(path=path, entries=entries)


def _text(path: Path, where: str, entry: dict[str, Any], name: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ManifestError(f"{path}: {where}: '{name}' must be a non-empty string")
    return value.strip()
