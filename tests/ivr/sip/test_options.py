import pytest

from config.settings import SettingsError
from ivr.sip.options import AdapterOptions


def test_defaults_and_overrides():
    assert AdapterOptions.from_extra({}) == AdapterOptions()
    options = AdapterOptions.from_extra(
        {
            "HOTLINE_IVR_MAX_CALLS": "20",
            "HOTLINE_RTP_PORTS": "40000-40100",
            "HOTLINE_IVR_RTP_TIMEOUT": "2.5",
            "HOTLINE_SIP_ADVERTISE": "10.0.0.5",
        }
    )
    assert (options.max_calls, options.rtp_low, options.rtp_high) == (20, 40000, 40100)
    assert (options.rtp_timeout, options.advertise) == (2.5, "10.0.0.5")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"HOTLINE_IVR_MAX_CALLS": "many"}, "HOTLINE_IVR_MAX_CALLS='many': expected a number"),
        ({"HOTLINE_IVR_MAX_CALLS": "0"}, "must be at least 1"),
        ({"HOTLINE_RTP_PORTS": "20000"}, "HOTLINE_RTP_PORTS='20000': expected low-high"),
        ({"HOTLINE_RTP_PORTS": "30000-20000"}, "expected low-high"),
    ],
)
def test_bad_values_name_the_variable(extra, message):
    with pytest.raises(SettingsError, match=message):
        AdapterOptions.from_extra(extra)
