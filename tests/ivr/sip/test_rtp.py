import pytest

from ivr.sip import rtp

# A captured RFC 2833 packet: event 1, end bit, volume 10, duration 800, payload type 101.
DTMF_1_END = bytes.fromhex("8065 0010 0000a0a0 12345678 018a0320")


def test_parse_dtmf_packet_fields_and_round_trip():
    packet = rtp.parse(DTMF_1_END)
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc) == (
        101,
        16,
        0xA0A0,
        0x12345678,
    )
    assert packet.marker is False
    assert bytes(packet) == DTMF_1_END
    event = rtp.parse_telephone_event(packet.payload)
    assert event == rtp.TelephoneEvent(key="1", end=True, volume=10, duration=800)


@pytest.mark.parametrize(
    ("event_code", "key"), [(0, "0"), (9, "9"), (10, "*"), (11, "#"), (12, None), (16, None)]
)
def test_telephone_event_keys(event_code, key):
    assert rtp.parse_telephone_event(bytes([event_code, 0, 0, 160])).key == key


def test_csrc_extension_and_padding_are_skipped():
    header = bytes([0x80 | 0x20 | 0x10 | 1, 0]) + b"\x00\x01" + b"\x00" * 8
    csrc = b"\x00\x00\x00\x07"
    extension = b"\xbe\xde\x00\x01" + b"\x11\x22\x33\x44"
    data = header + csrc + extension + b"\xff\xfe" + b"\x00\x02"  # 2 bytes of padding
    assert rtp.parse(data).payload == b"\xff\xfe"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80\x00", "RTP packet too short: 2 bytes"),
        (b"\x40" + b"\x00" * 11, "RTP version 1 not supported"),
        (b"\x90" + b"\x00" * 11 + b"\x00\x00", "RTP header extension truncated"),
        (b"\x8f" + b"\x00" * 11, "RTP header longer than the packet"),
    ],
)
def test_broken_packets_raise_clear_errors(data, message):
    with pytest.raises(rtp.RtpError, match=message):
        rtp.parse(data)


def test_short_telephone_event_payload():
    with pytest.raises(rtp.RtpError, match="telephone-event payload too short: 3 bytes"):
        rtp.parse_telephone_event(b"\x01\x02\x03")
