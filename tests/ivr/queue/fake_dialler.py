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
    on_end: Callable[[], None] | None = None  # the dialler's: an outbound leg is free again

    def end(self, reason: str) -> None:
        if not self.ended:
            self.ended, self.end_reason = True, reason
            if self.on_end is not None:
                self.on_end()

    def hangup(self) -> None:
        self.end("hangup")


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
                self._b.end("rtp_timeout" if self._b.lost else "bye")
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


_CAPACITY = frozenset(
    {"outbound_free", "reserve_outbound", "release_outbound", "wait_for_capacity"}
)


@dataclass
class FakeDialler:
    """``script``: agent -> outcomes, one per dial ("answered", "no_answer", "busy", "ring":
    rings until cancelled); ``legs``: agent -> the leg an answer returns. ``max_outbound``: the
    node's outbound limit like ``NodeDialler``'s (legs not ended + reserved; a dial over it is
    "failed" at once, counted in ``refused``); None: no limit and no capacity to look at."""

    script: dict[str, list[str]]
    legs: dict[str, AgentLeg] = field(default_factory=dict)
    dialled: list[str] = field(default_factory=list)
    bridges: list[FakeBridge] = field(default_factory=list)
    max_outbound: int | None = None
    refused: int = 0
    capacity_waits: int = 0
    _active: list[AgentLeg] = field(default_factory=list)
    _reserved: int = 0
    _holder: threading.local = field(default_factory=threading.local)
    _freed: threading.Condition = field(default_factory=threading.Condition)

    def __getattr__(self, name: str) -> object:
        # the capacity methods exist only with a limit (``ivr.outbound.capacity_of`` looks)
        if self.__dict__.get("max_outbound") is not None and name in _CAPACITY:
            return getattr(self, "_" + name)
        raise AttributeError(name)

    def _full(self) -> bool:
        active = sum(1 for leg in self._active if not leg.ended)
        return self.max_outbound is not None and active + self._reserved >= self.max_outbound

    def _outbound_free(self) -> bool:
        with self._freed:
            return not self._full()

    def _reserve_outbound(self, *, count_refusal: bool = True) -> bool:
        with self._freed:
            if getattr(self._holder, "held", False):
                return True
            if self._full():
                self.refused += count_refusal
                return False
            self._reserved += 1
            self._holder.held = True
            return True

    def _release_outbound(self) -> None:
        with self._freed:
            if getattr(self._holder, "held", False):
                self._holder.held = False
                self._reserved -= 1
                self._freed.notify_all()

    def _wait_for_capacity(self, timeout: float) -> bool:
        with self._freed:
            self.capacity_waits += 1
            if self._full():
                self._freed.wait(timeout)
            return not self._full()

    def _leg_ended(self) -> None:
        with self._freed:
            self._freed.notify_all()

    def dial(
        self,
        target: str,
        *,
        caller_id: str,
        ring_timeout: float,
        cancel: threading.Event | None = None,
        on_ringing: Callable[[], None] | None = None,
    ) -> Result:
        with self._freed:
            if getattr(self._holder, "held", False):
                self._holder.held = False
                self._reserved -= 1
            elif self._full():
                self.refused += 1
                return Result("failed", None, None)  # like NodeDialler: not sent
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
            leg.on_end = self._leg_ended
            with self._freed:
                self._active.append(leg)
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
