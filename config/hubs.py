"""The external hubs an officer may transfer a caller to (``hubs.toml``). A broken file fails at
start-up with a :class:`CatalogError` naming the file and the entry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config.catalog import CatalogError, read_toml, resolve_file


@dataclass(frozen=True)
class Hub:
    number: str
    name_th: str
    name_en: str


def load_hubs(config_dir: Path | None = None) -> dict[str, Hub]:
    path = resolve_file("hubs.toml", config_dir)
    entries = read_toml(path).get("hub") or []
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: hub must be an array of tables ([[hub]])")
    hubs: dict[str, Hub] = {}
    for index, entry in enumerate(entries, start=1):
        number = str(entry.get("number", "")) if isinstance(entry, dict) else ""
        if not number.isdigit() or not 3 <= len(number) <= 15:
            raise CatalogError(f"{path}: [[hub]] #{index}: number must be 3-15 digits")
        if number in hubs:
            raise CatalogError(f"{path}: [[hub]] #{index}: number {number} is listed twice")
        names = [entry.get("name_th"), entry.get("name_en")]
        if not all(isinstance(n, str) and n.strip() for n in names):
            raise CatalogError(f"{path}: [[hub]] #{index} ({number}): name_th and name_en needed")
        hubs[number] = Hub(number, str(names[0]), str(names[1]))
    return hubs
