"""G.711 μ-law (PCMU) and A-law (PCMA) <-> 16-bit little-endian linear PCM, table driven.

pyVoIP decodes to 8-bit audio and ``audioop`` is deprecated, so the tables are built here once
(numpy, vectorised) from the ITU-T G.711 segment rules.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt

PCMU = 0  # static RTP payload type numbers (RFC 3551)
PCMA = 8


def _ulaw_decode_table() -> npt.NDArray[np.int16]:
    code = ~np.arange(256, dtype=np.int32) & 0xFF
    sign = code & 0x80
    exponent = (code >> 4) & 0x07
    mantissa = code & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> npt.NDArray[np.int16]:
    code = np.arange(256, dtype=np.int32) ^ 0x55
    mantissa = (code & 0x0F) << 4
    segment = (code & 0x70) >> 4
    magnitude = np.where(
        segment == 0, mantissa + 8, (mantissa + 0x108) << np.maximum(segment - 1, 0)
    )
    return np.where(code & 0x80, magnitude, -magnitude).astype(np.int16)


def _segment(magnitude: npt.NDArray[np.int32]) -> npt.NDArray[np.int32]:
    """Index of the highest set bit above bit 7, clipped to 0..7 (the G.711 segment)."""
    bits = np.floor(np.log2(np.maximum(magnitude, 1))).astype(np.int32)
    return np.clip(bits - 7, 0, 7)


def _ulaw_encode_table() -> npt.NDArray[np.uint8]:
    sample = np.arange(-32768, 32768, dtype=np.int32)
    sign = np.where(sample < 0, 0x80, 0)
    # 14-bit arithmetic shift first, as G.711's reference code does: -31611 rounds away to 31612.
    magnitude = np.minimum(np.abs((sample >> 2) << 2), 32635) + 0x84
    exponent = _segment(magnitude)
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8)


def _alaw_encode_table() -> npt.NDArray[np.uint8]:
    sample = np.arange(-32768, 32768, dtype=np.int32)
    mask = np.where(sample >= 0, 0xD5, 0x55)
    magnitude = np.where(sample >= 0, sample, -sample - 1)
    exponent = _segment(magnitude)
    mantissa = np.where(exponent == 0, magnitude >> 4, magnitude >> (exponent + 3)) & 0x0F
    return (((exponent << 4) | mantissa) ^ mask).astype(np.uint8)


@cache
def _tables(payload_type: int) -> tuple[npt.NDArray[np.int16], npt.NDArray[np.uint8]]:
    if payload_type == PCMU:
        return _ulaw_decode_table(), _ulaw_encode_table()
    if payload_type == PCMA:
        return _alaw_decode_table(), _alaw_encode_table()
    raise ValueError(f"unsupported G.711 payload type {payload_type} (expected 0 PCMU or 8 PCMA)")


def decode(payload: bytes, payload_type: int) -> bytes:
    """G.711 bytes -> 16-bit little-endian PCM (two bytes per input byte)."""
    table, _ = _tables(payload_type)
    return table[np.frombuffer(payload, dtype=np.uint8)].astype("<i2").tobytes()


def encode(pcm16: bytes, payload_type: int) -> bytes:
    """16-bit little-endian PCM -> G.711 bytes; a trailing odd byte is ignored."""
    _, table = _tables(payload_type)
    usable = len(pcm16) - len(pcm16) % 2
    samples = np.frombuffer(pcm16[:usable], dtype="<i2").astype(np.int32) + 32768
    return table[samples].tobytes()


def silence(payload_type: int, samples: int) -> bytes:
    """The G.711 code for digital silence, repeated."""
    return encode(b"\x00\x00", payload_type) * samples
