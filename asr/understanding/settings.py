"""Loading and checking understanding.toml, the deployer-editable keyword data.

Every problem is reported as ``UnderstandingConfigError`` naming the file and the entry, so a
deployer who mistypes a weight learns where at start-up instead of getting silent misreadings.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from asr.understanding.errors import UnderstandingConfigError
from asr.understanding.normalise import match_form
from asr.understanding.phrases import Phrase, parse_phrase_key

URGENCY_LABEL = "urgency"
NEUTRAL_LABEL = ""


@dataclass(frozen=True)
class CategorySettings:
    fallback: str
    min_score: float
    codes: tuple[str, ...]
    phrases: tuple[Phrase, ...]  # includes the neutral ones (label "", weight 0)


@dataclass(frozen=True)
class UrgencySettings:
    threshold: float
    present_bonus: float
    cue_window: int
    past: tuple[str, ...]
    hypothetical: tuple[str, ...]
    negation: tuple[str, ...]
    present: tuple[str, ...]
    phrases: tuple[Phrase, ...]


@dataclass(frozen=True)
class PlaceSettings:
    province_aliases: dict[str, str]  # spoken short name → DOPA province code
    ambiguous_province_words: frozenset[str]
    common_word_districts: frozenset[str]


@dataclass(frozen=True)
class UnderstandingSettings:
    source: Path
    category: CategorySettings
    urgency: UrgencySettings
    places: PlaceSettings


def packaged_config_path() -> Path:
    """config/defaults/understanding.toml of this distribution."""
    try:
        candidate = Path(str(resources.files("config") / "defaults" / "understanding.toml"))
        if candidate.is_file():
            return candidate
    except (ModuleNotFoundError, TypeError):
        pass
    # config/ not importable as a package (no __init__.py yet): it sits next to asr/ in the repo.
    return Path(__file__).resolve().parents[2] / "config" / "defaults" / "understanding.toml"


def load_settings(path: Path | None = None) -> UnderstandingSettings:
    source = path if path is not None else packaged_config_path()
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UnderstandingConfigError(f"{source}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UnderstandingConfigError(f"{source}: not UTF-8: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise UnderstandingConfigError(f"{source}: not valid TOML: {exc}") from exc
    reader = _Reader(source)
    reader.only_keys(data, "", {"category", "urgency", "places"})
    return UnderstandingSettings(
        source=source,
        category=_category(reader, reader.table(data, "category")),
        urgency=_urgency(reader, reader.table(data, "urgency")),
        places=_places(reader, reader.table(data, "places")),
    )


class _Reader:
    """Typed access to the parsed TOML that names the entry in every error."""

    def __init__(self, source: Path) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> UnderstandingConfigError:
        return UnderstandingConfigError(f"{self.source}: [{where}]: {problem}")

    def table(self, parent: dict[str, Any], key: str, where: str = "") -> dict[str, Any]:
        name = f"{where}.{key}" if where else key
        value = parent.get(key)
        if not isinstance(value, dict):
            raise self.fail(name, "missing table" if value is None else "must be a table")
        return value

    def only_keys(self, table: dict[str, Any], where: str, allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise self.fail(
                where or "top level", f"unknown entry {unknown[0]!r}; known: {sorted(allowed)}"
            )

    def number(self, table: dict[str, Any], key: str, where: str, *, minimum: float = 0) -> float:
        value = table.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"{key!r} must be a number, got {value!r}")
        if not math.isfinite(value) or value < minimum:
            raise self.fail(where, f"{key!r} must be a number >= {minimum}, got {value!r}")
        return float(value)

    def words(self, table: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = table.get(key)
        if not isinstance(value, list) or not all(isinstance(w, str) and w.strip() for w in value):
            raise self.fail(where, f"{key!r} must be a list of non-empty strings")
        return tuple(match_form(w) for w in value)

    def phrases(self, table: dict[str, Any], where: str, label: str) -> tuple[Phrase, ...]:
        out: list[Phrase] = []
        for key, weight in table.items():
            if isinstance(weight, bool) or not isinstance(weight, int | float):
                raise self.fail(where, f"phrase {key!r}: weight must be a number, got {weight!r}")
            if not math.isfinite(weight) or weight < 0:
                raise self.fail(where, f"phrase {key!r}: weight must be >= 0, got {weight!r}")
            try:
                parts = parse_phrase_key(key)
            except ValueError as exc:
                raise self.fail(where, f"phrase {key!r}: {exc}") from exc
            out.append(Phrase(key, parts, float(weight), label))
        return tuple(out)


def _category(reader: _Reader, table: dict[str, Any]) -> CategorySettings:
    reader.only_keys(table, "category", {"fallback", "min_score", "neutral", "phrases"})
    fallback = table.get("fallback")
    if not isinstance(fallback, str) or not fallback:
        raise reader.fail("category", f"'fallback' must be a category code, got {fallback!r}")
    phrase_tables = reader.table(table, "phrases", "category")
    phrases: list[Phrase] = [
        Phrase(word, ((word,),), 0.0, NEUTRAL_LABEL)
        for word in reader.words(table, "neutral", "category")
    ]
    for code, entries in phrase_tables.items():
        if not isinstance(entries, dict):
            raise reader.fail(f"category.phrases.{code}", "must be a table of phrase = weight")
        phrases.extend(reader.phrases(entries, f"category.phrases.{code}", code))
    codes = tuple(dict.fromkeys([*phrase_tables, fallback]))
    return CategorySettings(
        fallback=fallback,
        min_score=reader.number(table, "min_score", "category"),
        codes=codes,
        phrases=tuple(phrases),
    )


def _urgency(reader: _Reader, table: dict[str, Any]) -> UrgencySettings:
    allowed = {"threshold", "present_bonus", "cue_window", "past", "hypothetical", "negation"}
    reader.only_keys(table, "urgency", allowed | {"present", "phrases"})
    return UrgencySettings(
        threshold=reader.number(table, "threshold", "urgency", minimum=0.001),
        present_bonus=reader.number(table, "present_bonus", "urgency"),
        cue_window=int(reader.number(table, "cue_window", "urgency", minimum=1)),
        past=reader.words(table, "past", "urgency"),
        hypothetical=reader.words(table, "hypothetical", "urgency"),
        negation=reader.words(table, "negation", "urgency"),
        present=reader.words(table, "present", "urgency"),
        phrases=reader.phrases(
            reader.table(table, "phrases", "urgency"), "urgency.phrases", URGENCY_LABEL
        ),
    )


def _places(reader: _Reader, table: dict[str, Any]) -> PlaceSettings:
    allowed = {"province_aliases", "ambiguous_province_words", "common_word_districts"}
    reader.only_keys(table, "places", allowed)
    aliases: dict[str, str] = {}
    for alias, code in reader.table(table, "province_aliases", "places").items():
        if not isinstance(code, str) or len(code) != 2 or not code.isdigit():
            raise reader.fail(
                "places.province_aliases", f"{alias!r}: must be a 2-digit code, got {code!r}"
            )
        aliases[alias] = code
    return PlaceSettings(
        province_aliases=aliases,
        ambiguous_province_words=frozenset(
            reader.words(table, "ambiguous_province_words", "places")
        ),
        common_word_districts=frozenset(reader.words(table, "common_word_districts", "places")),
    )
