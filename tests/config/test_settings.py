from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings, SettingsError


def test_defaults_are_embedded() -> None:
    settings = Settings.from_env({})
    assert settings.database_url is None
    assert settings.effective_database_url.startswith("sqlite:///")
    assert settings.effective_database_url.endswith("var/hotline1567.sqlite3")
    assert settings.embedded_redis
    assert settings.sip_registrar is None
    assert settings.web_port == 8080


def test_environment_values_are_typed(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "HOTLINE_DATA_DIR": str(tmp_path),
            "HOTLINE_DATABASE_URL": "postgresql://u@db/hotline",
            "HOTLINE_REDIS_URL": "redis://cache:6379/0",
            "HOTLINE_WEB_PORT": "9000",
            "HOTLINE_SIP_REGISTRAR": "10.0.0.5:5060",
            "HOTLINE_SIP_PORT": "5070",
            "HOTLINE_ASR_MODEL": str(tmp_path),
        }
    )
    assert settings.data_dir == tmp_path
    assert settings.web_port == 9000
    assert settings.sip_registrar == ("10.0.0.5", 5060)
    assert settings.sip_port == 5070
    assert settings.asr_model == tmp_path
    assert not settings.embedded_redis


def test_settings_are_immutable() -> None:
    settings = Settings.from_env({})
    with pytest.raises(AttributeError):
        settings.web_port = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HOTLINE_WEB_PORT", "http", "HOTLINE_WEB_PORT='http': expected a port number"),
        ("HOTLINE_WEB_PORT", "70000", "HOTLINE_WEB_PORT='70000': expected a port number"),
        ("HOTLINE_SIP_PORT", "-1", "HOTLINE_SIP_PORT='-1'"),
        (
            "HOTLINE_SIP_REGISTRAR",
            "kamailio",
            "HOTLINE_SIP_REGISTRAR='kamailio': expected host:port",
        ),
        (
            "HOTLINE_DATABASE_URL",
            "mysql://x/y",
            "HOTLINE_DATABASE_URL='mysql://x/y': expected a URL",
        ),
        ("HOTLINE_REDIS_URL", "localhost:6379", "HOTLINE_REDIS_URL='localhost:6379'"),
        ("HOTLINE_ASR_MODEL", "/no/such/model", "HOTLINE_ASR_MODEL='/no/such/model': no such file"),
        ("HOTLINE_SIP_USER", " ", "HOTLINE_SIP_USER is set but empty"),
        ("HOTLINE_LOG_LEVEL", "LOUD", "HOTLINE_LOG_LEVEL='LOUD'"),
    ],
)
def test_wrong_values_fail_naming_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({name: value})
    assert str(error.value).startswith(message)


def test_environment_beats_env_file_beats_default(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("HOTLINE_WEB_PORT=9001\nHOTLINE_SIP_PORT=5099\n# comment\n")
    settings = Settings.from_env({"HOTLINE_WEB_PORT": "9002"}, env_file=env_file)
    assert settings.web_port == 9002
    assert settings.sip_port == 5099


def test_broken_env_file_names_the_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("HOTLINE_WEB_PORT=1\nnonsense\n")
    with pytest.raises(SettingsError, match=r"\.env:2: expected NAME=value"):
        Settings.from_env({}, env_file=env_file)
