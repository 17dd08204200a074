"""Which INVITEs a node takes: the service numbers and proxy addresses from the settings."""

from __future__ import annotations

import pytest

from config.settings import Settings, SettingsError
from ivr.sip.adapter import proxy_addresses


def test_defaults_serve_1567_from_the_registrar_and_loopback():
    settings = Settings.from_env({"HOTLINE_SIP_REGISTRAR": "127.0.0.5:5060"}, env_file=None)
    assert settings.ivr_service_numbers == ("1567",)
    assert proxy_addresses(settings) == {"127.0.0.5", "127.0.0.1"}
    assert proxy_addresses(Settings()) == {"127.0.0.1"}


def test_service_numbers_and_proxies_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "HOTLINE_IVR_SERVICE_NUMBERS": "1567, 1111,+6621234567",
            "HOTLINE_SIP_PROXIES": "10.1.0.2, localhost",
        },
        env_file=None,
    )
    assert settings.ivr_service_numbers == ("1567", "1111", "+6621234567")
    assert proxy_addresses(settings) == {"10.1.0.2", "127.0.0.1"}  # names are resolved


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "HOTLINE_IVR_SERVICE_NUMBERS is set but empty"),
        (" , ", "HOTLINE_IVR_SERVICE_NUMBERS is set but empty"),
        ("1567,hotline", "'hotline' is not a dialable number"),
    ],
)
def test_bad_service_numbers_stop_start_up_naming_the_variable(value, message):
    with pytest.raises(SettingsError, match=message):
        Settings.from_env({"HOTLINE_IVR_SERVICE_NUMBERS": value}, env_file=None)
