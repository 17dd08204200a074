"""Deployer-editable reference data: categories (with SLA), agencies and routing rules.

Each file is read from ``HOTLINE_CONFIG_DIR`` when it holds one, else from the packaged defaults.
A broken file fails at start-up with a :class:`CatalogError` naming the file and the entry.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geothai

DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"


class CatalogError(ValueError):
    """A data file is missing, unreadable or has an invalid entry."""


@dataclass(frozen=True)
class Category:
    code: str
    name_th: str
    name_en: str
    progress_days: int
    resolve_days: int
    confirm_minutes: int


@dataclass(frozen=True)
class Agency:
    code: str
    name_th: str
    name_en: str
    province_code: str | None = None
    hotline: str | None = None


@dataclass(frozen=True)
class RoutingRule:
    category: str
    province: str  # a DOPA province code or "*"
    agency: str  # an agency code; per-province agencies are named by their base code


@dataclass(frozen=True)
class Catalog:
    categories: dict[str, Category]
    agencies: dict[str, Agency]
    per_province_agencies: frozenset[str]
    rules: tuple[RoutingRule, ...]
    fallback_agency: str
    provinces: dict[str, str]  # DOPA code -> Thai name
    districts: dict[str, tuple[str, str]]  # DOPA code -> (province code, Thai name)

    def suggest_agency(self, category: str | None, province_code: str | None) -> str:
        """The agency the routing rules suggest for a ticket (most specific rule wins)."""
        best: RoutingRule | None = None
        for rule in self.rules:
            if rule.category != category:
                continue
            if rule.province == province_code:
                best = rule
                break
            if rule.province == "*" and best is None:
                best = rule
        if best is None:
            return self.fallback_agency
        if best.agency in self.per_province_agencies:
            return f"{best.agency}-{province_code}" if province_code else self.fallback_agency
        return best.agency


def resolve_file(name: str, config_dir: Path | None) -> Path:
    """The deployer's copy of a data file when there is one, else the packaged default."""
    if config_dir is not None and (config_dir / name).exists():
        return config_dir / name
    return DEFAULTS_DIR / name


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as exc:
        raise CatalogError(f"{path}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: not valid TOML: {exc}") from exc


def load_catalog(config_dir: Path | None = None) -> Catalog:
    provinces = {p.code: p.name_th for p in geothai.provinces()}
    districts = {
        d.code: (d.province_code, d.name_th) for code in provinces for d in geothai.districts(code)
    }
    categories = _load_categories(resolve_file("categories.toml", config_dir))
    agencies, per_province = _load_agencies(resolve_file("agencies.toml", config_dir), provinces)
    rules, fallback = _load_routing(
        resolve_file("routing.toml", config_dir), categories, agencies, per_province, provinces
    )
    return Catalog(
        categories=categories,
        agencies=agencies,
        per_province_agencies=frozenset(per_province),
        rules=rules,
        fallback_agency=fallback,
        provinces=provinces,
        districts=districts,
    )


def _entries(path: Path, data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    entries = data.get(key)
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{path}: expected one or more [[{key}]] entries")
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise CatalogError(f"{path}: [[{key}]] #{index}: expected a table")
    return entries


def _field(path: Path, where: str, entry: dict[str, Any], name: str, kind: type) -> Any:
    value = entry.get(name)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise CatalogError(f"{path}: {where}: '{name}' must be a positive whole number")
    if kind is str and (not isinstance(value, str) or not value.strip()):
        raise CatalogError(f"{path}: {where}: '{name}' must be a non-empty string")
    return value


def _load_categories(path: Path) -> dict[str, Category]:
    categories: dict[str, Category] = {}
    for index, entry in enumerate(_entries(path, read_toml(path), "category"), start=1):
        code = entry.get("code")
        where = f"category #{index} ({code})" if code else f"category #{index}"
        category = Category(
            code=_field(path, where, entry, "code", str),
            name_th=_field(path, where, entry, "name_th", str),
            name_en=_field(path, where, entry, "name_en", str),
            progress_days=_field(path, where, entry, "progress_days", int),
            resolve_days=_field(path, where, entry, "resolve_days", int),
            confirm_minutes=_field(path, where, entry, "confirm_minutes", int),
        )
        if category.code in categories:
            raise CatalogError(f"{path}: {where}: duplicate code {category.code!r}")
        categories[category.code] = category
    return categories


def _load_agencies(path: Path, provinces: dict[str, str]) -> tuple[dict[str, Agency], set[str]]:
    agencies: dict[str, Agency] = {}
    per_province: set[str] = set()
    for index, entry in enumerate(_entries(path, read_toml(path), "agency"), start=1):
        code = entry.get("code")
        where = f"agency #{index} ({code})" if code else f"agency #{index}"
        code = _field(path, where, entry, "code", str)
        name_th = _field(path, where, entry, "name_th", str)
        name_en = _field(path, where, entry, "name_en", str)
        hotline = entry.get("hotline")
        if code in agencies or code in per_province:
            raise CatalogError(f"{path}: {where}: duplicate code {code!r}")
        if entry.get("per_province", False) is True:
            per_province.add(code)
            for province_code, province_name in provinces.items():
                agencies[f"{code}-{province_code}"] = Agency(
                    code=f"{code}-{province_code}",
                    name_th=f"{name_th} {province_name}",
                    name_en=f"{name_en} ({province_code})",
                    province_code=province_code,
                    hotline=hotline,
                )
        else:
            agencies[code] = Agency(code=code, name_th=name_th, name_en=name_en, hotline=hotline)
    return agencies, per_province


def _load_routing(
    path: Path,
    categories: dict[str, Category],
    agencies: dict[str, Agency],
    per_province: set[str],
    provinces: dict[str, str],
) -> tuple[tuple[RoutingRule, ...], str]:
    data = read_toml(path)
    fallback = data.get("fallback_agency")
    if fallback not in agencies:
        raise CatalogError(f"{path}: fallback_agency {fallback!r} is not a known agency")
    rules: list[RoutingRule] = []
    for index, entry in enumerate(_entries(path, data, "rule"), start=1):
        where = f"rule #{index}"
        rule = RoutingRule(
            category=_field(path, where, entry, "category", str),
            province=_field(path, where, entry, "province", str),
            agency=_field(path, where, entry, "agency", str),
        )
        if rule.category not in categories:
            raise CatalogError(f"{path}: {where}: unknown category {rule.category!r}")
        if rule.province != "*" and rule.province not in provinces:
            raise CatalogError(f"{path}: {where}: unknown province code {rule.province!r}")
        if rule.agency not in agencies and rule.agency not in per_province:
            raise CatalogError(f"{path}: {where}: unknown agency {rule.agency!r}")
        rules.append(rule)
    return tuple(rules), fallback
