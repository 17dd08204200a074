"""``SipChannel``: the CallChannel the adapter hands to the call flow, over a MediaHandle."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from ivr.channel import CallEnded
from ivr.sip.media_client import FRAME_SECONDS, MediaHandle

# Readers poll at the frame rate: audio arrives every 20 ms anyway, and sleeping is far cheaper
# than a Condition per call (bench: 35% vs 85% of a core for 150 call threads).
POLL_SECONDS = FRAME_SECONDS
# Keys are looked for less often (queued, so none is lost: seen up to 0.1 s later; a session not
# recording asks for up to 0.1 s: one sleep): waiting callers' wake-ups were 1/6 of the CPU.
DTMF_POLL_SECONDS = 0.1


class SipChannel:
    def __init__(
        self,
        sip_call_id: str,
        caller_number: str | None,
        stream: MediaHandle,
        on_hangup: Callable[[SipChannel], None],
    ) -> None:
        self._call_id = uuid.uuid4().hex
        self._sip_call_id = sip_call_id
        self._caller_number = caller_number
        self._stream = stream
        self._on_hangup = on_hangup
        self._end_reason: str | None = None
        self._lock = threading.Lock()

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def sip_call_id(self) -> str:
        return self._sip_call_id

    @property
    def caller_number(self) -> str | None:
        return self._caller_number

    @property
    def ended(self) -> bool:
        return self._end_reason is not None

    @property
    def end_reason(self) -> str | None:
        return self._end_reason

    def mark_ended(self, reason: str) -> bool:
        """Record why the call ended (first reason wins) and wake any waiting reader."""
        with self._lock:
            if self._end_reason is not None:
                return False
            self._end_reason = reason
        return True

    def play(self, pcm16: bytes) -> None:
        self._stream.queue_pcm(pcm16)

    def stop_playback(self) -> None:
        self._stream.stop_playback()

    def playback_pending(self) -> float:
        return self._stream.playback_pending()

    def read_audio(self, timeout: float) -> bytes:
        stream = self._stream
        deadline = time.monotonic() + timeout
        while True:
            if stream.inbound:
                # Audio that arrived before the end is handed over first (the recorder keeps it).
                return stream.take_inbound()
            if self._end_reason is not None:
                raise CallEnded(self._end_reason)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return b""
            time.sleep(min(remaining, POLL_SECONDS))

    def next_dtmf(self, timeout: float) -> str | None:
        stream = self._stream
        deadline = time.monotonic() + timeout
        while True:
            if stream.dtmf:
                return stream.dtmf.popleft()
            if self._end_reason is not None:
                raise CallEnded(self._end_reason)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(remaining, DTMF_POLL_SECONDS))

    def hangup(self) -> None:
        self._on_hangup(self)
