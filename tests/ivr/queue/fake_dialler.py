"""A fake Dialler (the COMMON.md seam) for the queue's unit tests: scripted outcomes per agent,
agent legs that end when told, and a bridge that feeds both legs' audio in real time."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ivr.channel import FRAME_BYTES
from tests.ivr.fakes import FakeChannel


@dataclass
class AgentLeg:
    username: str
    talk_seconds: float | None = None  # the agent hangs up after this long (None: never)
    lost: bool = False  # the leg dies (RTP timeout) instead of a BYE
    call_id: str = "agent-leg"
    sip_call_id: str = "agent-leg@test"
    caller_number: str | None = None
    ended: bool = False
    end_reason: str | None = None

    def hangup(self) -> None:
        if not self.ended:
            self.ended, self.end_reason = True, "hangup"


@dataclass(frozen=True)
class Result:
    outcome: str
    status: int | None
    channel: AgentLeg | None


class FakeBridge:
    def __init__(
        self, a: FakeChannel, b: AgentLeg, on_audio: Callable[[str, bytes], None] | None
    ) -> None:
        self._a, self._b, self._on_audio = a, b, on_audio
        self._ended: str | None = None
        self._done = threading.Event()
        self.unbridged = False
        self.calls: list[tuple[str, str, bool]] = []
        self._thread = threading.Thread(target=self._relay, daemon=True)
        self._thread.start()

    def _relay(self) -> None:
        started = time.monotonic()
        loud = (1000).to_bytes(2, "little", signed=True) * (FRAME_BYTES // 2)
        while True:
            if self._on_audio is not None:
                self._on_audio("a", loud)
                self._on_audio("b", bytes(FRAME_BYTES))
            hangup = self._a.caller.hangup_at
            if hangup is not None and self._a.now() >= hangup:
                self._a._ended, self._a._end_reason = True, "bye"
                self._ended = "a"
                break
            talk = self._b.talk_seconds
            if talk is not None and time.monotonic() - started >= talk:
                self._b.ended = True
                self._b.end_reason = "rtp_timeout" if self._b.lost else "bye"
                self._ended = "b"
                break
            time.sleep(0.02)
        self._done.set()

    def wait(self, timeout: float | None = None) -> str | None:
        return self._ended if self._done.wait(timeout) else None

    def hold(self, leg: str, on: bool) -> None:
        self.calls.append(("hold", leg, on))

    def mute(self, leg: str, on: bool) -> None:
        self.calls.append(("mute", leg, on))

    def unbridge(self) -> None:
        self.unbridged = True


@dataclass
class FakeDialler:
    """``script``: agent -> outcomes, one per dial ("answered", "no_answer", "busy", "ring":
    rings until cancelled); ``legs``: agent -> the leg an answer returns."""

    script: dict[str, list[str]]
    legs: dict[str, AgentLeg] = field(default_factory=dict)
    dialled: list[str] = field(default_factory=list)
    bridges: list[FakeBridge] = field(default_factory=list)

    def dial(
        self,
        target: str,
        *,
        caller_id: str,
        ring_timeout: float,
        cancel: threading.Event | None = None,
        on_ringing: Callable[[], None] | None = None,
    ) -> Result:
        self.dialled.append(target)
        agent = target.removeprefix("agent:")
        outcomes = self.script.get(agent) or ["unreachable"]
        outcome = outcomes.pop(0) if len(outcomes) > 1 else outcomes[0]
        if outcome == "ring":
            assert cancel is not None
            cancel.wait(30)
            return Result("cancelled", 487, None)
        if outcome == "answered":
            leg = self.legs.get(agent) or AgentLeg(agent, talk_seconds=None)
            return Result("answered", 200, leg)
        return Result(outcome, {"no_answer": 408, "busy": 486}.get(outcome), None)

    def bridge(
        self,
        a: FakeChannel,
        b: AgentLeg,
        on_audio: Callable[[str, bytes], None] | None = None,
    ) -> FakeBridge:
        bridge = FakeBridge(a, b, on_audio)
        self.bridges.append(bridge)
        return bridge
