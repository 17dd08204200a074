"""The embedded Kamailio's template is package data: a wheel install has it."""

from __future__ import annotations

import fnmatch
import importlib.resources
import tomllib
from pathlib import Path

from config.settings import Settings
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
