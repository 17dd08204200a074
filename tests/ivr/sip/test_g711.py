import warnings

import numpy as np
import pytest

from ivr.sip import g711

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the reference implementation, only here in the tests


ALL_CODES = bytes(range(256))
RAMP = np.arange(-32768, 32768, 7, dtype="<i2").tobytes()


@pytest.mark.parametrize(
    ("payload_type", "reference_decode", "reference_encode"),
    [
        (g711.PCMU, audioop.ulaw2lin, audioop.lin2ulaw),
        (g711.PCMA, audioop.alaw2lin, audioop.lin2alaw),
    ],
)
def test_tables_match_the_reference_codec(payload_type, reference_decode, reference_encode):
    assert g711.decode(ALL_CODES, payload_type) == reference_decode(ALL_CODES, 2)
    assert g711.encode(RAMP, payload_type) == reference_encode(RAMP, 2)


@pytest.mark.parametrize("payload_type", [g711.PCMU, g711.PCMA])
def test_round_trip_error_is_within_quantisation(payload_type):
    samples = np.frombuffer(RAMP, dtype="<i2").astype(np.int32)
    back = np.frombuffer(g711.decode(g711.encode(RAMP, payload_type), payload_type), "<i2")
    error = np.abs(back.astype(np.int32) - samples)
    assert np.all(error <= np.maximum(np.abs(samples) // 16, 16) + 8)


@pytest.mark.parametrize(
    ("payload", "payload_type", "expected"),
    [
        (b"\xff", g711.PCMU, b"\x00\x00"),  # mu-law positive zero
        (b"\x00", g711.PCMU, (-32124).to_bytes(2, "little", signed=True)),
        (b"\x80", g711.PCMU, (32124).to_bytes(2, "little", signed=True)),
        (b"\xd5", g711.PCMA, (8).to_bytes(2, "little", signed=True)),
        (b"\x2a", g711.PCMA, (-32256).to_bytes(2, "little", signed=True)),
        (b"", g711.PCMU, b""),
    ],
)
def test_decode_known_codes(payload, payload_type, expected):
    assert g711.decode(payload, payload_type) == expected


def test_encode_ignores_a_trailing_odd_byte_and_silence_is_zero():
    assert g711.encode(b"\x00\x00\x01", g711.PCMU) == b"\xff"
    assert g711.decode(g711.silence(g711.PCMA, 160), g711.PCMA) == b"\x08\x00" * 160


def test_unknown_payload_type_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unsupported G\.711 payload type 18"):
        g711.decode(b"\x00", 18)
