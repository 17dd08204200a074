"""The embedded Kamailio's template is package data: a wheel install has it."""

from __future__ import annotations

import fnmatch
import importlib.resources
import tomllib
from pathlib import Path

import pytest

from config.settings import Settings, SettingsError
from ivr.kamailio import EmbeddedKamailio, kamailio_db_url, template_text

ROOT = Path(__file__).parents[2]


def test_template_is_read_from_the_package_not_the_checkout(tmp_path: Path) -> None:
    resource = importlib.resources.files("ivr.kamailio_cfg").joinpath("template.cfg")
    assert resource.is_file()
    assert template_text().startswith("#!KAMAILIO")
    # setuptools ships it: ivr.kamailio_cfg is a package and a package-data glob matches
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["*"]
    assert any(fnmatch.fnmatch("template.cfg", pattern) for pattern in globs)
    assert (ROOT / "ivr" / "kamailio_cfg" / "__init__.py").exists()
    assert not (ROOT / "deploy" / "kamailio" / "kamailio.cfg.tmpl").exists()
    config = EmbeddedKamailio(Settings(data_dir=tmp_path)).write_config().read_text()
    assert "@@" not in config
    assert "pike_check_req()" in config and 'www_authorize("hotline1567"' in config


def test_database_urls_for_kamailio() -> None:
    assert kamailio_db_url("sqlite:////srv/h.sqlite3") == ("sqlite", "sqlite:///srv/h.sqlite3")
    assert kamailio_db_url("postgresql+psycopg://u:p@db:5433/hotline") == (
        "postgres",
        "postgres://u:p@db:5433/hotline",
    )
    assert kamailio_db_url("postgresql://postgres@127.0.0.1/test") == (
        "postgres",
        "postgres://postgres@127.0.0.1:5432/test",
    )


def test_limit_settings_are_checked_and_rendered(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "HOTLINE_DATA_DIR": str(tmp_path),
            "HOTLINE_KAMAILIO_TRUSTED": "10.1.2.3, 192.168.0.0/16",
            "HOTLINE_KAMAILIO_PIKE_REQUESTS": "60",
            "HOTLINE_KAMAILIO_MAX_CALLS_PER_SOURCE": "4",
        },
        None,
    )
    assert settings.kamailio_trusted == ("10.1.2.3/32", "192.168.0.0/16")
    config = EmbeddedKamailio(settings).write_config().read_text()
    assert 'is_in_subnet("$si", "10.1.2.3/32,192.168.0.0/16")' in config
    assert 'modparam("pike", "reqs_density_per_unit", 60)' in config
    assert "if ($var(calls) >= 4) {" in config
    default = EmbeddedKamailio(Settings(data_dir=tmp_path)).write_config().read_text()
    assert 'is_in_subnet("$si", "192.0.2.255/32")' in default  # nothing trusted
    with pytest.raises(SettingsError, match="HOTLINE_KAMAILIO_TRUSTED: 'trunk' is not an IPv4"):
        Settings.from_env({"HOTLINE_KAMAILIO_TRUSTED": "trunk"}, None)
    with pytest.raises(SettingsError, match="HOTLINE_KAMAILIO_MAX_CALLS_PER_SOURCE='0'"):
        Settings.from_env({"HOTLINE_KAMAILIO_MAX_CALLS_PER_SOURCE": "0"}, None)
