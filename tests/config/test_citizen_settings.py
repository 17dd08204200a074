"""HOTLINE_CALL_HOURS and the result-call settings: typed, with errors naming the variable."""

from __future__ import annotations

from datetime import time

import pytest

from config.citizen_settings import CitizenSettings
from config.settings import Settings, SettingsError


def test_defaults() -> None:
    citizen = Settings.from_env({}, env_file=None).citizen
    assert citizen == CitizenSettings()
    assert (citizen.call_start, citizen.call_end, citizen.attempts) == (time(8), time(20), 3)
    assert (citizen.spacing, citizen.concurrency) == (7200.0, 4)


def test_values_are_typed() -> None:
    citizen = CitizenSettings.from_env(
        {
            "HOTLINE_CALL_HOURS": "00:00-24:00",
            "HOTLINE_RESULT_CALL_ATTEMPTS": "5",
            "HOTLINE_RESULT_CALL_SPACING": "3600",
            "HOTLINE_RESULT_CALL_CONCURRENCY": "2",
            "HOTLINE_RESULT_CALL_PROGRESS_CATEGORIES": "DRUGS, LAND",
            "HOTLINE_RESULT_CALLS": "no",
            "HOTLINE_STATUS_LINE_NUMBER": "1111",
        }
    )
    assert (citizen.call_start, citizen.call_end) == (time(0), None)
    assert (citizen.attempts, citizen.spacing, citizen.concurrency) == (5, 3600.0, 2)
    assert citizen.progress_categories == ("DRUGS", "LAND")
    assert (citizen.enabled, citizen.status_line_number) == (False, "1111")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("HOTLINE_CALL_HOURS", "8-20"),
        ("HOTLINE_CALL_HOURS", "20:00-08:00"),
        ("HOTLINE_CALL_HOURS", "08:00-25:00"),
        ("HOTLINE_RESULT_CALL_ATTEMPTS", "0"),
        ("HOTLINE_RESULT_CALL_CONCURRENCY", "many"),
        ("HOTLINE_RESULT_CALL_SPACING", "-1"),
        ("HOTLINE_STATUS_LINE_NUMBER", "15-67"),
    ],
)
def test_a_wrong_value_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value}, env_file=None)
