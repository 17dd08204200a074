"""A supervisor's listen-in to a bridged conversation (issue 13), on its own thread.

The node dials the supervisor's own phone (``agent:<name>``, registered to Kamailio like any
call-taker's), and on answer the media process taps the conversation into that leg
(:func:`ivr.sip.relay.tap`: both legs mixed, listen only). It ends when the supervisor hangs up
or the conversation ends (the untap and the BYE are sent by this thread); the conversation
itself never waits on it. The listen-in was logged when asked (``ticketing.listens``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Protocol

from ivr.channel import CallChannel, CallEnded

log = logging.getLogger(__name__)

LISTEN_RING_SECONDS = 30.0  # the supervisor's phone rings this long before we give up
POLL_SECONDS = 0.2
LISTEN_CALLER_ID = "1567"


class Tapping(Protocol):
    def tap(self, listener: CallChannel) -> None: ...
    def untap(self, listener: CallChannel) -> None: ...


class ListenIn:
    def __init__(self, dialler: Any, bridge: Any, call_id: str, target: str) -> None:
        self._dialler = dialler
        self._bridge = bridge
        self.call_id = call_id
        self.target = target
        self.done = threading.Event()  # set when the conversation ends
        self.outcome = ""
        self.channel: CallChannel | None = None
        self._thread = threading.Thread(target=self._run, name=f"listen-{call_id[:8]}", daemon=True)

    def start(self) -> ListenIn:
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self.done.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            self._listen()
        except Exception:
            log.exception("call %s: listen-in by %s failed", self.call_id, self.target)

    def _listen(self) -> None:
        if not hasattr(self._bridge, "tap"):
            self.outcome = "unsupported"
            log.warning("call %s: this bridge cannot be listened to", self.call_id)
            return
        result = self._dialler.dial(
            self.target, caller_id=LISTEN_CALLER_ID, ring_timeout=LISTEN_RING_SECONDS,
            cancel=self.done,
        )  # fmt: skip
        self.outcome = str(getattr(result.outcome, "value", result.outcome))
        channel: CallChannel | None = result.channel
        if self.outcome != "answered" or channel is None:
            log.info("call %s: listen-in %s: %s", self.call_id, self.target, self.outcome)
            return
        self.channel = channel
        self._bridge.tap(channel)
        log.info("call %s: %s listening in", self.call_id, self.target)
        try:
            while not self.done.wait(POLL_SECONDS) and not channel.ended:
                try:
                    channel.read_audio(0)  # drained: nothing the supervisor says is kept
                except CallEnded:
                    break
        finally:
            self._bridge.untap(channel)
            if not channel.ended:
                channel.hangup()
            log.info("call %s: listen-in by %s over", self.call_id, self.target)
