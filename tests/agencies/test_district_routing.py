"""Routing rules by district: district > province > *, per-district agencies, the why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from config.catalog import DEFAULTS_DIR, CatalogError, load_catalog


def _conf(tmp_path: Path, extra_rules: str) -> Path:
    target = tmp_path / "conf"
    shutil.copytree(DEFAULTS_DIR, target)
    routing = target / "routing.toml"
    routing.write_text(routing.read_text(encoding="utf-8") + extra_rules, encoding="utf-8")
    return target


def test_district_offices_exist_for_every_district() -> None:
    catalog = load_catalog()
    offices = [c for c in catalog.agencies if c.startswith("DISTRICT_OFFICE-")]
    assert len(offices) == 928  # 878 amphoe + 50 khet
    office = catalog.agencies["DISTRICT_OFFICE-5001"]
    assert (office.province_code, office.district_code) == ("50", "5001")
    assert "เชียงใหม่" in office.name_th


def test_a_district_matter_reaches_the_district_office() -> None:
    catalog = load_catalog()
    found = catalog.suggestion("CIVIL_REGISTRATION", "50", "5001")
    assert found.agency == "DISTRICT_OFFICE-5001"
    assert "CIVIL_REGISTRATION" in found.why and "*" in found.why
    # Without a district: the provincial centre.
    assert catalog.suggest_agency("CIVIL_REGISTRATION", "50") == "DAMRONG-50"
    assert catalog.suggest_agency("CIVIL_REGISTRATION", None) == "DAMRONG_CENTRAL"


def test_district_rule_beats_province_rule_beats_wildcard(tmp_path: Path) -> None:
    conf = _conf(
        tmp_path,
        """
[[rule]]
category = "DRUGS"
province = "50"
agency = "ONCB"

[[rule]]
category = "DRUGS"
province = "*"
district = "5001"
agency = "PACC"
""",
    )
    catalog = load_catalog(conf)
    district = catalog.suggestion("DRUGS", "50", "5001")
    assert district.agency == "PACC"
    assert "district 5001" in district.why
    province = catalog.suggestion("DRUGS", "50", "5002")
    assert province.agency == "ONCB" and "province 50" in province.why
    assert catalog.suggestion("DRUGS", "10", "1001").agency == "POLICE-10"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ('district = "9999"', "unknown district code '9999'"),
        ('district = "1001"', "district 1001 is not in province 50"),
    ],
)
def test_bad_district_rules_name_the_problem(tmp_path: Path, rule: str, message: str) -> None:
    conf = _conf(
        tmp_path,
        f"""
[[rule]]
category = "DRUGS"
province = "50"
{rule}
agency = "ONCB"
""",
    )
    with pytest.raises(CatalogError, match=message):
        load_catalog(conf)


def test_agency_addresses_expand_per_office(tmp_path: Path) -> None:
    target = tmp_path / "conf"
    shutil.copytree(DEFAULTS_DIR, target)
    agencies = target / "agencies.toml"
    text = agencies.read_text(encoding="utf-8").replace(
        'name_en = "Provincial police"\n',
        'name_en = "Provincial police"\nemail = "saraban-{code}@police.example"\n',
    )
    agencies.write_text(text, encoding="utf-8")
    catalog = load_catalog(target)
    assert catalog.agencies["POLICE-50"].email == "saraban-police-50@police.example"
    agencies.write_text(text.replace("saraban-{code}@police.example", "no address"), "utf-8")
    with pytest.raises(CatalogError, match="is not an address"):
        load_catalog(target)
