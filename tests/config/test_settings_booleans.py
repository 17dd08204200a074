"""Boolean settings: 1/0, true/false, yes/no in any case; anything else stops start-up."""

from __future__ import annotations

import pytest

from config.settings import Settings, SettingsError


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", "yes", "YES", " yes "])
def test_true_spellings_turn_secure_cookies_on(value: str) -> None:
    assert Settings.from_env({"HOTLINE_COOKIE_SECURE": value}).cookie_secure is True


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "no", "No"])
def test_false_spellings_turn_secure_cookies_off(value: str) -> None:
    assert Settings.from_env({"HOTLINE_COOKIE_SECURE": value}).cookie_secure is False


def test_unset_or_empty_is_the_default() -> None:
    assert Settings.from_env({}).cookie_secure is False
    assert Settings.from_env({"HOTLINE_COOKIE_SECURE": ""}).cookie_secure is False


@pytest.mark.parametrize("value", ["on", "off", "2", "y", "enabled", "truee"])
def test_anything_else_stops_start_up_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({"HOTLINE_COOKIE_SECURE": value})
    assert str(error.value) == (
        f"HOTLINE_COOKIE_SECURE={value!r}: expected one of 1, 0, true, false, yes, no"
    )


def test_the_command_line_reports_a_bad_boolean(monkeypatch: pytest.MonkeyPatch) -> None:
    from hotline1567.cli import main

    monkeypatch.setenv("HOTLINE_COOKIE_SECURE", "on")
    assert main(["web"]) == 2


@pytest.mark.parametrize(
    ("name", "field"),
    [
        ("HOTLINE_IVR_METRICS_PORT", "ivr_metrics_port"),
        ("HOTLINE_ASR_METRICS_PORT", "asr_metrics_port"),
        ("HOTLINE_SCHEDULER_METRICS_PORT", "scheduler_metrics_port"),
    ],
)
def test_metrics_ports_take_zero_for_off(name: str, field: str) -> None:
    assert getattr(Settings.from_env({name: "0"}), field) == 0
    assert getattr(Settings.from_env({name: "9200"}), field) == 9200
    with pytest.raises(SettingsError, match=f"{name}='65536'"):
        Settings.from_env({name: "65536"})


def test_metrics_port_defaults_are_documented_ones() -> None:
    settings = Settings.from_env({})
    ports = (settings.ivr_metrics_port, settings.asr_metrics_port, settings.scheduler_metrics_port)
    assert ports == (9101, 9102, 9103)


def test_log_format_is_text_or_json() -> None:
    assert Settings.from_env({}).log_format == "text"
    assert Settings.from_env({"HOTLINE_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(SettingsError, match="HOTLINE_LOG_FORMAT='XML'"):
        Settings.from_env({"HOTLINE_LOG_FORMAT": "xml"})
