"""Adapter tunables read from ``Settings.extra`` (HOTLINE_* variables not in Settings proper)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from config.settings import SettingsError


@dataclass(frozen=True)
class AdapterOptions:
    max_calls: int = 150  # HOTLINE_IVR_MAX_CALLS: above it new INVITEs get 503 (proxy fails over)
    rtp_timeout: float = 30.0  # HOTLINE_IVR_RTP_TIMEOUT: seconds without caller RTP -> BYE
    answer_delay: float = 0.2  # HOTLINE_IVR_ANSWER_DELAY: ringing before 200 OK
    rtp_low: int = 10000  # HOTLINE_RTP_PORTS=low-high
    rtp_high: int = 20000
    advertise: str | None = None  # HOTLINE_SIP_ADVERTISE: address put in Contact/SDP
    register_expires: int = 120  # HOTLINE_SIP_REGISTER_EXPIRES

    @classmethod
    def from_extra(cls, extra: Mapping[str, str]) -> AdapterOptions:
        low, high = cls.rtp_low, cls.rtp_high
        ports = extra.get("HOTLINE_RTP_PORTS", "").strip()
        if ports:
            first, dash, last = ports.partition("-")
            if not (dash and first.isdigit() and last.isdigit()) or not (
                1024 <= int(first) < int(last) < 65536
            ):
                raise SettingsError(
                    f"HOTLINE_RTP_PORTS={ports!r}: expected low-high, e.g. 10000-20000"
                )
            low, high = int(first), int(last)
        return cls(
            max_calls=int(_number(extra, "HOTLINE_IVR_MAX_CALLS", cls.max_calls, 1)),
            rtp_timeout=_number(extra, "HOTLINE_IVR_RTP_TIMEOUT", cls.rtp_timeout, 1),
            answer_delay=_number(extra, "HOTLINE_IVR_ANSWER_DELAY", cls.answer_delay, 0),
            rtp_low=low,
            rtp_high=high,
            advertise=extra.get("HOTLINE_SIP_ADVERTISE", "").strip() or None,
            register_expires=int(
                _number(extra, "HOTLINE_SIP_REGISTER_EXPIRES", cls.register_expires, 30)
            ),
        )


def _number(extra: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    text = extra.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r}: expected a number") from None
    if value < minimum:
        raise SettingsError(f"{name}={text!r}: must be at least {minimum:g}")
    return value
