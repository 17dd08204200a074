from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.catalog import DEFAULTS_DIR, CatalogError, load_catalog

TAXONOMY = {
    "DEBT_INFORMAL",
    "DEBT_FARMER",
    "DRUGS",
    "LAND",
    "CONSUMER",
    "OFFICIAL_MISCONDUCT",
    "NUISANCE",
    "INFRASTRUCTURE",
    "DISASTER",
    "CIVIL_REGISTRATION",
    "GAMBLING",
    "WELFARE",
    "LEGAL_AID",
    "INFO",
    "FEEDBACK",
    "OTHER",
}


def test_defaults_hold_the_taxonomy_places_and_routing() -> None:
    catalog = load_catalog()
    assert set(catalog.categories) == TAXONOMY
    assert len(catalog.provinces) == 77
    assert len(catalog.districts) == 928
    assert sum(1 for d in catalog.districts if d.startswith("10")) == 50
    assert catalog.suggest_agency("DRUGS", "50") == "POLICE-50"
    assert catalog.suggest_agency("CONSUMER", "50") == "OCPB"
    assert catalog.suggest_agency("DRUGS", None) == "DAMRONG_CENTRAL"
    assert catalog.suggest_agency(None, "50") == "DAMRONG_CENTRAL"
    # every category routes somewhere that exists
    for code in TAXONOMY:
        assert catalog.suggest_agency(code, "10") in catalog.agencies


def _copy_defaults(tmp_path: Path) -> Path:
    target = tmp_path / "conf"
    shutil.copytree(DEFAULTS_DIR, target)
    return target


def test_a_province_specific_rule_beats_the_wildcard(tmp_path: Path) -> None:
    conf = _copy_defaults(tmp_path)
    routing = conf / "routing.toml"
    routing.write_text(
        routing.read_text(encoding="utf-8")
        + """
[[rule]]
category = "DRUGS"
province = "10"
agency = "ONCB"
""",
        encoding="utf-8",
    )
    catalog = load_catalog(conf)
    assert catalog.suggest_agency("DRUGS", "10") == "ONCB"
    assert catalog.suggest_agency("DRUGS", "50") == "POLICE-50"


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "categories.toml",
            'code = "DRUGS"',
            'code = "DEBT_FARMER"',
            r"categories\.toml: category #3 \(DEBT_FARMER\): duplicate code",
        ),
        (
            "categories.toml",
            "progress_days = 7\nresolve_days = 30\nconfirm_minutes = 30",
            "progress_days = -7\nresolve_days = 30\nconfirm_minutes = 30",
            r"categories\.toml: category #3 \(DRUGS\): 'progress_days' must be a positive",
        ),
        (
            "routing.toml",
            'agency = "OCPB"',
            'agency = "NOBODY"',
            r"routing\.toml: rule #5: unknown agency 'NOBODY'",
        ),
        (
            "routing.toml",
            'category = "LAND"',
            'category = "MOON"',
            r"routing\.toml: rule #4: unknown category 'MOON'",
        ),
        (
            "agencies.toml",
            'name_th = "สำนักงานคณะกรรมการ ป.ป.ช."',
            'name_th = ""',
            r"agencies\.toml: agency #11 \(NACC\): 'name_th' must be a non-empty string",
        ),
        ("routing.toml", "[[rule]]", "[[rule]", r"routing\.toml: not valid TOML"),
    ],
)
def test_a_broken_file_names_the_file_and_entry(
    tmp_path: Path, file: str, old: str, new: str, message: str
) -> None:
    conf = _copy_defaults(tmp_path)
    path = conf / file
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        load_catalog(conf)
