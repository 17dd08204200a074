import pytest

from config.sections import AsrWorkerOptions, KamailioOptions, SipOptions
from config.settings import Settings, SettingsError


def test_defaults_and_overrides():
    assert SipOptions.from_env({}) == SipOptions()
    options = SipOptions.from_env(
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
        SipOptions.from_env(extra)


def test_every_role_section_comes_from_the_environment():
    settings = Settings.from_env(
        {
            "HOTLINE_KAMAILIO_LISTEN": "127.0.0.1:5070",
            "HOTLINE_IVR_NODES": "ivr1@127.0.0.1:5062, ivr2@127.0.0.1:5064",
            "HOTLINE_KAMAILIO_CHILDREN": "8",
            "HOTLINE_ASR_CONCURRENCY": "4",
            "HOTLINE_ASR_CONSUMER": "w1",
            "HOTLINE_SIP_PASSWORD": "secret",
            "HOTLINE_IVR_MAX_CALLS": "20",
        },
        env_file=None,
    )
    assert settings.kamailio == KamailioOptions(
        ("127.0.0.1", 5070), ("ivr1@127.0.0.1:5062", "ivr2@127.0.0.1:5064"), 8
    )
    assert (settings.asr_worker.concurrency, settings.asr_worker.consumer) == (4, "w1")
    assert settings.sip_password_set and settings.sip_options.max_calls == 20
    assert not Settings.from_env({}, env_file=None).sip_password_set
    assert Settings.from_env({}, env_file=None).asr_worker == AsrWorkerOptions()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("HOTLINE_KAMAILIO_CHILDREN", "0", "expected a whole number of at least 1"),
        ("HOTLINE_ASR_RECLAIM_SECONDS", "soon", "expected a number"),
        ("HOTLINE_ASR_MAX_ATTEMPTS", "0", "must be at least 1"),
    ],
)
def test_bad_section_values_stop_start_up(name, value, message):
    with pytest.raises(SettingsError, match=f"{name}=.*{message}"):
        Settings.from_env({name: value}, env_file=None)


def test_outbound_settings():
    options = SipOptions.from_env(
        {"HOTLINE_IVR_MAX_OUTBOUND": "5", "HOTLINE_SIP_OUTBOUND_PROXY": "10.0.0.2:5060"}
    )
    assert (options.max_outbound, options.outbound_proxy) == (5, ("10.0.0.2", 5060))
    assert SipOptions().max_outbound == 75 and SipOptions().outbound_proxy is None  # max_calls/2
    derived = SipOptions.from_env({"HOTLINE_IVR_MAX_CALLS": "600"})
    assert derived.max_outbound == 300
    assert SipOptions(max_calls=1).max_outbound == 1
    kamailio = KamailioOptions.from_env({"HOTLINE_SIP_TRUNK": "192.0.2.10:5060"})
    assert kamailio.trunk == ("192.0.2.10", 5060) and KamailioOptions().trunk is None
    with pytest.raises(SettingsError, match="HOTLINE_IVR_MAX_OUTBOUND='0'"):
        SipOptions.from_env({"HOTLINE_IVR_MAX_OUTBOUND": "0"})
    with pytest.raises(SettingsError, match="HOTLINE_SIP_TRUNK='trunk': expected host:port"):
        KamailioOptions.from_env({"HOTLINE_SIP_TRUNK": "trunk"})
    with pytest.raises(SettingsError, match="HOTLINE_SIP_OUTBOUND_PROXY"):
        SipOptions.from_env({"HOTLINE_SIP_OUTBOUND_PROXY": "x:0"})


def test_asr_decoder_setting():
    assert AsrWorkerOptions.from_env({}).decoder is None
    assert AsrWorkerOptions.from_env({"HOTLINE_ASR_DECODER": "model"}).decoder == "model"
    options = AsrWorkerOptions.from_env({"HOTLINE_ASR_DECODER": "beam=9, max-active=2000"})
    assert options.decoder == "beam=9, max-active=2000"
    with pytest.raises(SettingsError, match=r"HOTLINE_ASR_DECODER=.*'beam' is not name=value"):
        AsrWorkerOptions.from_env({"HOTLINE_ASR_DECODER": "beam,max-active=2000"})


def test_the_nodes_database_connections():
    assert SipOptions().db_connections == 4
    assert SipOptions.from_env({"HOTLINE_IVR_DB_CONNECTIONS": "2"}).db_connections == 2
    with pytest.raises(SettingsError, match="HOTLINE_IVR_DB_CONNECTIONS"):
        SipOptions.from_env({"HOTLINE_IVR_DB_CONNECTIONS": "0"})


def test_the_media_processs_real_time_priority():
    assert SipOptions().media_realtime == 10
    assert SipOptions.from_env({"HOTLINE_IVR_MEDIA_REALTIME": "0"}).media_realtime == 0
    assert SipOptions.from_env({"HOTLINE_IVR_MEDIA_REALTIME": "50"}).media_realtime == 50
    for bad in ("100", "-1", "high"):
        with pytest.raises(SettingsError, match="HOTLINE_IVR_MEDIA_REALTIME"):
            SipOptions.from_env({"HOTLINE_IVR_MEDIA_REALTIME": bad})
