"""The outbound-call seam: dial a leg, bridge two legs (B2BUA).

Pure: no sockets, no pyVoIP. The SIP node implements ``Dialler``; the call flow, the queue
and the citizen loop program against it (with a fake in unit tests).

- ``dial`` blocks until the INVITE's final outcome. ``target`` is ``"agent:<username>"``
  (INVITE to ``<username>@<kamailio>``; Kamailio looks the phone up in its registrations) or
  ``"tel:<digits>"`` (Kamailio sends it to the trunk, ``HOTLINE_SIP_TRUNK``). Setting ``cancel``
  while it rings sends CANCEL and the outcome is ``CANCELLED``; ``on_ringing`` is called once on
  the first 180/183.
- ``bridge`` relays RTP between two answered legs inside the media process; ``on_audio`` gets
  each leg's inbound audio ("a"|"b", 16-bit 8 kHz mono, 20 ms frames) for recording and ASR.
  Playback on either channel stops at once when bridged.
- ``OutboundCapacity`` (optional, found by :func:`capacity_of`): the node's outbound-leg limit
  (``HOTLINE_IVR_MAX_OUTBOUND``) seen before dialling, so the queue never rings an agent's
  presence for a dial the limit would refuse. ``reserve_outbound`` holds one leg for the calling
  thread (its next ``dial`` uses it; ``release_outbound`` gives it back unused);
  ``wait_for_capacity`` returns when a leg ends or is released, or after ``timeout``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from ivr.channel import CallChannel

AGENT_PREFIX = "agent:"
TEL_PREFIX = "tel:"


class DialOutcome(StrEnum):
    """What became of an outbound INVITE."""

    ANSWERED = "answered"
    BUSY = "busy"  # 486, 600
    NO_ANSWER = "no_answer"  # ring timeout (we sent CANCEL), 408, 480 after ringing
    REJECTED = "rejected"  # 403, 603 and other 4xx/6xx
    UNREACHABLE = "unreachable"  # 404, 480/410 (not registered), 503, no response (Timer B)
    FAILED = "failed"  # local: limit reached, bad target, node stopping
    CANCELLED = "cancelled"  # our ``cancel`` event was set while ringing


@dataclass(frozen=True)
class DialResult:
    outcome: DialOutcome
    status: int | None  # final SIP status (200, 486, 503, 408...) or None
    channel: CallChannel | None  # the answered leg, only when outcome is ANSWERED


class Bridge(Protocol):
    def wait(self, timeout: float | None = None) -> str | None:
        """Block until a leg ends; return "a" or "b" (the leg that ended), None on timeout."""
        ...

    def hold(self, leg: str, on: bool) -> None:
        """Re-INVITE that leg sendonly (on) / sendrecv (off); held audio is not relayed."""
        ...

    def mute(self, leg: str, on: bool) -> None:
        """That leg's audio is not sent to the other (still delivered to ``on_audio``)."""
        ...

    def unbridge(self) -> None:
        """Back to separate legs (transfer, requeue); idempotent."""
        ...


class Dialler(Protocol):
    def dial(
        self,
        target: str,
        *,
        caller_id: str,
        ring_timeout: float,
        cancel: threading.Event | None = None,
        on_ringing: Callable[[], None] | None = None,
    ) -> DialResult: ...

    def bridge(
        self,
        a: CallChannel,
        b: CallChannel,
        on_audio: Callable[[str, bytes], None] | None = None,
    ) -> Bridge: ...


@runtime_checkable
class OutboundCapacity(Protocol):
    def outbound_free(self) -> bool: ...

    def reserve_outbound(self, *, count_refusal: bool = True) -> bool: ...

    def release_outbound(self) -> None: ...

    def wait_for_capacity(self, timeout: float) -> bool: ...


def capacity_of(dialler: object) -> OutboundCapacity | None:
    """The dialler's outbound capacity, if it keeps one (the SIP node keeps it on its
    ``NodeDialler``, ``node.dialler``); None: dial and take the outcome as it comes."""
    for candidate in (dialler, getattr(dialler, "dialler", None)):
        if isinstance(candidate, OutboundCapacity):
            return candidate
    return None


class BadTarget(ValueError):
    """A dial target that is neither ``agent:<username>`` nor ``tel:<digits>``."""


def parse_target(target: str) -> tuple[str, str]:
    """Return ("agent", username) or ("tel", digits); raise BadTarget otherwise."""
    if target.startswith(AGENT_PREFIX):
        user = target[len(AGENT_PREFIX) :]
        if user and all(c.isalnum() or c in "._-" for c in user):
            return "agent", user
    elif target.startswith(TEL_PREFIX):
        number = target[len(TEL_PREFIX) :]
        digits = number[1:] if number.startswith("+") else number
        if digits.isdigit() and len(digits) <= 20:
            return "tel", number  # E.164 keeps its "+"
    raise BadTarget(f"dial target must be agent:<username> or tel:<digits>, got {target!r}")


def outcome_for_status(status: int, *, ringing: bool) -> DialOutcome:
    """Map a final non-2xx status to an outcome (a real contact centre's reading of it)."""
    if status in (486, 600):
        return DialOutcome.BUSY
    if status == 487:
        return DialOutcome.CANCELLED
    if status == 408:
        return DialOutcome.NO_ANSWER
    if status == 480:
        return DialOutcome.NO_ANSWER if ringing else DialOutcome.UNREACHABLE
    if status in (404, 410, 484, 502, 503, 504):
        return DialOutcome.UNREACHABLE
    if 400 <= status < 700:
        return DialOutcome.REJECTED
    return DialOutcome.FAILED
