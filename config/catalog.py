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
    # Business hours and public holidays pause the minute-based confirm clock unless a category
    # says otherwise; the day-based clocks run on calendar days unless it opts in.
    confirm_business_hours: bool = True
    days_business_days: bool = False


@dataclass(frozen=True)
class Agency:
    code: str
    name_th: str
    name_en: str
    province_code: str | None = None
    hotline: str | None = None
    district_code: str | None = None
    email: str | None = None
    open311_endpoint: str | None = None
    open311_api_key: str | None = None


@dataclass(frozen=True)
class RoutingRule:
    category: str
    province: str  # a DOPA province code or "*"
    agency: str  # an agency code; per-province agencies are named by their base code
    district: str | None = None  # a DOPA district code: beats a province rule


@dataclass(frozen=True)
class Suggestion:
    agency: str
    rule: RoutingRule | None  # None: no rule matched, the fallback agency
    why: str  # which rule, for the call-taker


@dataclass(frozen=True)
class Catalog:
    categories: dict[str, Category]
    agencies: dict[str, Agency]
    per_province_agencies: frozenset[str]
    rules: tuple[RoutingRule, ...]
    fallback_agency: str
    provinces: dict[str, str]  # DOPA code -> Thai name
    districts: dict[str, tuple[str, str]]  # DOPA code -> (province code, Thai name)
    per_district_agencies: frozenset[str] = frozenset()

    def suggest_agency(
        self, category: str | None, province_code: str | None, district_code: str | None = None
    ) -> str:
        """The agency the routing rules suggest for a ticket (most specific rule wins)."""
        return self.suggestion(category, province_code, district_code).agency

    def suggestion(
        self, category: str | None, province_code: str | None, district_code: str | None = None
    ) -> Suggestion:
        """The suggested agency and the rule that chose it: district > province > ``*``."""
        best: RoutingRule | None = None
        rank = 0
        for rule in self.rules:
            if rule.category != category:
                continue
            if rule.district is not None:
                if district_code is not None and rule.district == district_code:
                    best, rank = rule, 3
                    break
                continue
            if rule.province == province_code and province_code is not None and rank < 2:
                best, rank = rule, 2
            elif rule.province == "*" and rank < 1:
                best, rank = rule, 1
        if best is None:
            return Suggestion(self.fallback_agency, None, "no rule for this category: fallback")
        where = {3: f"district {best.district}", 2: f"province {best.province}", 1: "*"}[rank]
        why = f"rule {best.category} + {where} -> {best.agency}"
        if best.agency in self.per_district_agencies:
            if district_code and f"{best.agency}-{district_code}" in self.agencies:
                return Suggestion(f"{best.agency}-{district_code}", best, why + " of the district")
            code = self._provincial(province_code)
            return Suggestion(code, best, why + "; no district known: " + code)
        if best.agency in self.per_province_agencies:
            if province_code:
                return Suggestion(f"{best.agency}-{province_code}", best, why + " of the province")
            return Suggestion(self.fallback_agency, best, why + "; no province known: fallback")
        return Suggestion(best.agency, best, why)

    def _provincial(self, province_code: str | None) -> str:
        """A district matter without a district goes to the provincial Damrongdhama centre."""
        if province_code and f"DAMRONG-{province_code}" in self.agencies:
            return f"DAMRONG-{province_code}"
        return self.fallback_agency


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
    agencies, per_province, per_district = _load_agencies(
        resolve_file("agencies.toml", config_dir), provinces, districts
    )
    rules, fallback = _load_routing(
        resolve_file("routing.toml", config_dir),
        categories,
        agencies,
        per_province | per_district,
        provinces,
        districts,
    )
    return Catalog(
        categories=categories,
        agencies=agencies,
        per_province_agencies=frozenset(per_province),
        rules=rules,
        fallback_agency=fallback,
        provinces=provinces,
        districts=districts,
        per_district_agencies=frozenset(per_district),
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
            confirm_business_hours=_flag(path, where, entry, "confirm_business_hours", True),
            days_business_days=_flag(path, where, entry, "days_business_days", False),
        )
        if category.code in categories:
            raise CatalogError(f"{path}: {where}: duplicate code {category.code!r}")
        categories[category.code] = category
    return categories


def _flag(path: Path, where: str, entry: dict[str, Any], name: str, default: bool) -> bool:
    value = entry.get(name, default)
    if not isinstance(value, bool):
        raise CatalogError(f"{path}: {where}: '{name}' must be true or false")
    return value


def _optional(path: Path, where: str, entry: dict[str, Any], name: str) -> str | None:
    value = entry.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise CatalogError(f"{path}: {where}: '{name}' must be a non-empty string")
    if name == "email" and ("@" not in value or any(c.isspace() for c in value)):
        raise CatalogError(f"{path}: {where}: 'email' {value!r} is not an address")
    if name == "open311_endpoint" and not value.startswith(("http://", "https://")):
        raise CatalogError(f"{path}: {where}: 'open311_endpoint' must be an http(s) URL")
    return value.strip()


def _expanded(extra: dict[str, Any], code: str) -> dict[str, Any]:
    """``{code}`` in a per-province or per-district agency's address names each office."""
    email = extra.get("email")
    return {**extra, "email": email.replace("{code}", code.lower()) if email else None}


def _load_agencies(
    path: Path, provinces: dict[str, str], districts: dict[str, tuple[str, str]]
) -> tuple[dict[str, Agency], set[str], set[str]]:
    agencies: dict[str, Agency] = {}
    per_province: set[str] = set()
    per_district: set[str] = set()
    for index, entry in enumerate(_entries(path, read_toml(path), "agency"), start=1):
        code = entry.get("code")
        where = f"agency #{index} ({code})" if code else f"agency #{index}"
        code = _field(path, where, entry, "code", str)
        name_th = _field(path, where, entry, "name_th", str)
        name_en = _field(path, where, entry, "name_en", str)
        extra = {
            "hotline": entry.get("hotline"),
            "email": _optional(path, where, entry, "email"),
            "open311_endpoint": _optional(path, where, entry, "open311_endpoint"),
            "open311_api_key": _optional(path, where, entry, "open311_api_key"),
        }
        if code in agencies or code in per_province or code in per_district:
            raise CatalogError(f"{path}: {where}: duplicate code {code!r}")
        province_wide = _flag(path, where, entry, "per_province", False)
        district_wide = _flag(path, where, entry, "per_district", False)
        if province_wide and district_wide:
            raise CatalogError(f"{path}: {where}: per_province and per_district exclude each other")
        if province_wide:
            per_province.add(code)
            for province_code, province_name in provinces.items():
                agencies[f"{code}-{province_code}"] = Agency(
                    code=f"{code}-{province_code}",
                    name_th=f"{name_th} {province_name}",
                    name_en=f"{name_en} ({province_code})",
                    province_code=province_code,
                    **_expanded(extra, f"{code}-{province_code}"),
                )
        elif district_wide:
            per_district.add(code)
            for district_code, (province_code, district_name) in districts.items():
                agencies[f"{code}-{district_code}"] = Agency(
                    code=f"{code}-{district_code}",
                    name_th=f"{name_th} {district_name} {provinces[province_code]}",
                    name_en=f"{name_en} ({district_code})",
                    province_code=province_code,
                    district_code=district_code,
                    **_expanded(extra, f"{code}-{district_code}"),
                )
        else:
            agencies[code] = Agency(code=code, name_th=name_th, name_en=name_en, **extra)
    return agencies, per_province, per_district


def _load_routing(
    path: Path,
    categories: dict[str, Category],
    agencies: dict[str, Agency],
    per_province: set[str],
    provinces: dict[str, str],
    districts: dict[str, tuple[str, str]] | None = None,
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
            district=_optional(path, where, entry, "district"),
        )
        if rule.district is not None:
            owner = (districts or {}).get(rule.district)
            if owner is None:
                raise CatalogError(f"{path}: {where}: unknown district code {rule.district!r}")
            if rule.province not in ("*", owner[0]):
                raise CatalogError(
                    f"{path}: {where}: district {rule.district} is not in province {rule.province}"
                )
        if rule.category not in categories:
            raise CatalogError(f"{path}: {where}: unknown category {rule.category!r}")
        if rule.province != "*" and rule.province not in provinces:
            raise CatalogError(f"{path}: {where}: unknown province code {rule.province!r}")
        if rule.agency not in agencies and rule.agency not in per_province:
            raise CatalogError(f"{path}: {where}: unknown agency {rule.agency!r}")
        rules.append(rule)
    return tuple(rules), fallback
