"""The seam between the SIP adapter and the call flow.

The adapter (the only module that imports pyVoIP) turns each answered SIP call into a
``CallChannel``; the call-session runner drives the flow through it in the call's own thread.
Audio on both sides is 16-bit little-endian mono linear PCM at 8 kHz (never pyVoIP's 8-bit).
Tests drive the flow with an in-memory fake channel instead of sockets.
"""

from __future__ import annotations

from typing import Protocol

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2  # bytes: 16-bit linear PCM
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE * FRAME_MS // 1000 * SAMPLE_WIDTH  # 320 bytes per 20 ms frame


class CallEnded(Exception):
    """The caller hung up, the call was cancelled, or RTP went silent past its timeout."""


class CallChannel(Protocol):
    @property
    def call_id(self) -> str:
        """Our id for the call (stored in the call record), unique across nodes."""
        ...

    @property
    def sip_call_id(self) -> str: ...

    @property
    def caller_number(self) -> str | None:
        """From P-Asserted-Identity when present, else the From user part."""
        ...

    @property
    def ended(self) -> bool: ...

    @property
    def end_reason(self) -> str | None:
        """'bye', 'cancel', 'rtp_timeout', 'no_ack' (Timer H), 'hangup' (we hung up), 'error'."""
        ...

    def play(self, pcm16: bytes) -> None:
        """Queue audio to send to the caller; returns at once. Paced at real time by the adapter."""
        ...

    def stop_playback(self) -> None:
        """Drop queued audio (a key press interrupts a prompt)."""
        ...

    def playback_pending(self) -> float:
        """Seconds of queued audio not yet sent."""
        ...

    def read_audio(self, timeout: float) -> bytes:
        """Caller audio received since the last call (may be b''); raises CallEnded."""
        ...

    def next_dtmf(self, timeout: float) -> str | None:
        """The next key pressed ('0'-'9', '*', '#') within timeout, else None; raises CallEnded."""
        ...

    def hangup(self) -> None:
        """End the call from our side (BYE); idempotent."""
        ...
