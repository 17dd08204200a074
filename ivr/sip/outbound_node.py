"""The node's ``Dialler``: outbound legs through Kamailio and bridges in the media process.

``NodeDialler.dial`` runs in the caller's thread (a call flow, the queue, the citizen loop): it
takes an RTP port, hands a new ``ivr.sip.uac.OutboundCall`` to the node's ``UserAgent`` (under
the node's lock; the node's loop feeds it the answers) and waits for its ``DialDone``. The
answered leg is a ``SipChannel`` like an inbound call's, registered among the node's legs so RTP
timeouts, the media process's loss and shutdown end it the same way.

``NodeBridge`` tells the media process to relay RTP between two legs (``ivr.sip.relay``) and runs
one thread that hands each leg's inbound audio to ``on_audio`` in 20 ms frames and notices the
end of either leg. A leg that ends unbridges; the other leg stays up and belongs to the flow
(hang it up, or play it the survey).

The outbound limit (``HOTLINE_IVR_MAX_OUTBOUND``): legs not yet ended plus legs reserved
(``ivr.outbound.OutboundCapacity``: the queue reserves one before it rings an agent's presence,
so the limit never refuses a dial it has promised an agent). A dial over the limit fails at once
without sending; the node logs the start and the end of such an episode once each, and counts
the refusals (``hotline_ivr_outbound_refused_total{reason="limit"}``, ``ivr.metrics``). A leg
ending or a reservation given back wakes ``wait_for_capacity``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ivr.channel import FRAME_BYTES, CallChannel, CallEnded
from ivr.outbound import BadTarget, DialOutcome, DialResult, parse_target
from ivr.sip import relay
from ivr.sip.call_leg import SipChannel
from ivr.sip.dialog import DialDone, LocalParty, Ringing
from ivr.sip.ipc import Kind
from ivr.sip.media_client import MediaHandle, MediaUnavailable, NoPortsAvailable
from ivr.sip.uac import OutboundCall

if TYPE_CHECKING:
    from ivr.sip.adapter import SipNode

log = logging.getLogger(__name__)

_POLL = 0.05  # a dialling leg looks at ringing / cancel this often (done wakes it at once)
# The bridge's pump hands each leg's audio on this often: the media process batches it every
# 40 ms anyway, and 100 pumps waking every 20 ms stalled the SIP loop on the GIL (300 calls).
_PUMP_POLL = 0.1


@dataclass
class _Dialling:
    done: threading.Event = field(default_factory=threading.Event)
    ringing: threading.Event = field(default_factory=threading.Event)
    outcome: DialOutcome = DialOutcome.FAILED
    status: int | None = None


class _OutboundChannel(SipChannel):
    """An outbound leg: its end frees an outbound slot (wakes ``wait_for_capacity``)."""

    def __init__(
        self,
        sip_call_id: str,
        caller_number: str | None,
        stream: MediaHandle,
        on_hangup: Callable[[SipChannel], None],
        on_end: Callable[[], None],
    ) -> None:
        super().__init__(sip_call_id, caller_number, stream, on_hangup)
        self._on_end = on_end

    def mark_ended(self, reason: str) -> bool:
        first = super().mark_ended(reason)
        if first:
            self._on_end()
        return first


class NodeDialler:
    def __init__(self, node: SipNode) -> None:
        self.node = node
        self._dialling: dict[str, _Dialling] = {}
        self._sessions = random.randrange(1, 1 << 30)
        self.dialled_total = 0
        self.refused_over_limit = 0
        self._reserved = 0  # slots reserved, not yet dialled (under the node's lock)
        self._holder = threading.local()  # .held: this thread holds a reservation
        self._freed = threading.Condition()  # its own lock: never held while taking the node's
        self._generation = 0
        self._limited_since: float | None = None  # the node's clock, while at the limit

    # --- ivr.outbound.OutboundCapacity -------------------------------------------------------
    def _full(self) -> bool:
        """Under the node's lock."""
        return self.node.agent.outbound_active + self._reserved >= self.node.options.max_outbound

    def outbound_free(self) -> bool:
        with self.node._lock:
            return not self._full()

    def reserve_outbound(self, *, count_refusal: bool = True) -> bool:
        with self.node._lock:
            if getattr(self._holder, "held", False):
                return True
            if self._full():
                self._refused(count_refusal)
                return False
            self._reserved += 1
            self._holder.held = True
            self._capacity_back()
            return True

    def release_outbound(self) -> None:
        with self.node._lock:
            if not getattr(self._holder, "held", False):
                return
            self._holder.held = False
            self._reserved -= 1
        self._signal()

    def wait_for_capacity(self, timeout: float) -> bool:
        with self._freed:
            seen = self._generation
        if self.outbound_free():
            return True
        with self._freed:
            if self._generation == seen:
                self._freed.wait(timeout)
        return self.outbound_free()

    def _signal(self) -> None:
        with self._freed:
            self._generation += 1
            self._freed.notify_all()

    def _refused(self, count: bool) -> None:
        """Under the node's lock: one refusal for the limit; the episode's start logged once."""
        if count:
            self.refused_over_limit += 1
        if self._limited_since is None:
            self._limited_since = self.node._clock()
            log.warning(
                "node: %d outbound legs (HOTLINE_IVR_MAX_OUTBOUND), new dials held back",
                self.node.options.max_outbound,
            )

    def _capacity_back(self) -> None:
        if self._limited_since is not None:
            held = self.node._clock() - self._limited_since
            self._limited_since = None
            log.info("node: outbound capacity back after %.1f s at the limit", held)

    def on_action(self, action: Ringing | DialDone) -> None:
        """From the node's loop (under its lock): wake the thread waiting in ``dial``."""
        waiting = self._dialling.get(action.call_id)
        if waiting is None:
            return
        if isinstance(action, Ringing):
            waiting.ringing.set()
        else:
            waiting.outcome, waiting.status = action.outcome, action.status
            waiting.done.set()
            if action.outcome is not DialOutcome.ANSWERED:
                self._signal()  # the leg is over (an answered one: when its channel ends)

    def dial(
        self,
        target: str,
        *,
        caller_id: str,
        ring_timeout: float,
        cancel: threading.Event | None = None,
        on_ringing: Callable[[], None] | None = None,
    ) -> DialResult:
        node = self.node
        try:
            kind, user = parse_target(target)
        except BadTarget as exc:
            log.warning("dial refused: %s", exc)
            return DialResult(DialOutcome.FAILED, None, None)
        proxy = node.options.outbound_proxy or node.settings.sip_registrar
        if proxy is None or not node.ready.is_set():
            log.error("dial %s: no proxy (HOTLINE_SIP_REGISTRAR) or node not running", kind)
            return DialResult(DialOutcome.FAILED, None, None)
        with node._lock:
            if getattr(self._holder, "held", False):  # reserved: the leg takes the slot
                self._holder.held = False
                self._reserved -= 1
            elif self._full():
                self._refused(True)
                return DialResult(DialOutcome.FAILED, None, None)
            else:
                self._capacity_back()
            try:
                handle = node.media.allocate()
            except (NoPortsAvailable, MediaUnavailable) as exc:
                log.error("dial %s: %s", kind, exc)
                self._signal()
                return DialResult(DialOutcome.FAILED, None, None)
            self._sessions += 1
            local = LocalParty(node.settings.sip_user, node.advertise, node.settings.sip_port)
            call = OutboundCall(
                request_uri=f"sip:{user}@{proxy[0]}:{proxy[1]}",
                proxy=proxy,
                local=local,
                caller_id=caller_id if caller_id.lstrip("+").isalnum() else "anonymous",
                media_port=handle.port,
                session_id=self._sessions,
                ring_timeout=ring_timeout,
                credentials=(node.settings.sip_user, node.settings.sip_password),
            )
            number = user if kind == "tel" else None
            channel = _OutboundChannel(
                call.call_id, number, handle, node._on_channel_hangup, self._signal
            )
            node._register_leg(call.call_id, handle, channel)
            waiting = self._dialling[call.call_id] = _Dialling()
            self.dialled_total += 1
            now = node._clock()
            node._apply(node.agent.dial(call, now), now)
        log.info("call %s: dialling %s (%s)", channel.call_id, kind, _shown(kind, user))
        try:
            return self._wait(call, channel, waiting, cancel, on_ringing)
        finally:
            self._dialling.pop(call.call_id, None)

    def _wait(
        self,
        call: OutboundCall,
        channel: SipChannel,
        waiting: _Dialling,
        cancel: threading.Event | None,
        on_ringing: Callable[[], None] | None,
    ) -> DialResult:
        node = self.node
        told_ringing = cancelled = False
        while not waiting.done.wait(_POLL):
            if waiting.ringing.is_set() and not told_ringing:
                told_ringing = True
                if on_ringing is not None:
                    with contextlib.suppress(Exception):
                        on_ringing()
            if cancel is not None and cancel.is_set() and not cancelled:
                cancelled = True
                with node._lock:
                    now = node._clock()
                    node._apply(call.cancel(DialOutcome.CANCELLED, now), now)
        outcome = waiting.outcome
        log.info("call %s: dial %s (%s)", channel.call_id, outcome.value, waiting.status)
        if outcome is DialOutcome.ANSWERED and not channel.ended:
            return DialResult(outcome, waiting.status, channel)
        if outcome is DialOutcome.ANSWERED:
            outcome = DialOutcome.FAILED
        return DialResult(outcome, waiting.status, None)

    def bridge(
        self,
        a: CallChannel,
        b: CallChannel,
        on_audio: Callable[[str, bytes], None] | None = None,
    ) -> NodeBridge:
        return NodeBridge(self.node, self._handle(a), self._handle(b), a, b, on_audio)

    def _handle(self, channel: CallChannel) -> MediaHandle:
        if not isinstance(channel, SipChannel):
            raise TypeError("only this node's SIP channels can be bridged")
        return channel._stream


class NodeBridge:
    """The ``ivr.outbound.Bridge`` of two legs of one node."""

    def __init__(
        self,
        node: SipNode,
        a_handle: MediaHandle,
        b_handle: MediaHandle,
        a: CallChannel,
        b: CallChannel,
        on_audio: Callable[[str, bytes], None] | None,
    ) -> None:
        self.node = node
        self.legs = {"a": (a, a_handle), "b": (b, b_handle)}
        self.on_audio = on_audio
        self._flags = {"a": [False, False], "b": [False, False]}  # muted, held
        self._ended = threading.Event()
        self._stop = threading.Event()
        self.ended_leg: str | None = None
        a.stop_playback()
        b.stop_playback()
        node.media.send(Kind.BRIDGE, relay.pack_bridge(a_handle.stream_id, b_handle.stream_id))
        self._thread = threading.Thread(
            target=self._pump, name=f"bridge-{a.call_id[:8]}", daemon=True
        )
        self._thread.start()

    def _pump(self) -> None:
        pending = {"a": b"", "b": b""}
        while not self._stop.is_set():
            for name, (channel, _) in self.legs.items():
                try:
                    audio = channel.read_audio(0)
                except CallEnded:
                    self._leg_ended(name)
                    return
                if not audio:
                    continue
                buffered = pending[name] + audio
                whole = len(buffered) - len(buffered) % FRAME_BYTES
                pending[name] = buffered[whole:]
                if self.on_audio is not None:
                    for offset in range(0, whole, FRAME_BYTES):
                        try:
                            self.on_audio(name, buffered[offset : offset + FRAME_BYTES])
                        except Exception:
                            log.exception("bridge: on_audio failed (the call carries on)")
            self._stop.wait(_PUMP_POLL)

    def _leg_ended(self, name: str) -> None:
        self.ended_leg = name
        self.unbridge()
        self._ended.set()

    def wait(self, timeout: float | None = None) -> str | None:
        return self.ended_leg if self._ended.wait(timeout) else None

    def _send_flags(self, leg: str) -> None:
        muted, held = self._flags[leg]
        handle = self.legs[leg][1]
        self.node.media.send(Kind.RELAY_FLAGS, relay.pack_flags(handle.stream_id, muted, held))

    def mute(self, leg: str, on: bool) -> None:
        self._flags[_leg(leg)][0] = on
        self._send_flags(leg)

    def hold(self, leg: str, on: bool) -> None:
        self._flags[_leg(leg)][1] = on
        self._send_flags(leg)
        channel = self.legs[leg][0]
        node = self.node
        with node._lock:
            now = node._clock()
            node._apply(node.agent.hold(channel.sip_call_id, on, now), now)

    def tap(self, listener: CallChannel) -> None:
        """A listen-in: ``listener`` (another leg of this node) hears both legs mixed."""
        handle = self.node.dialler._handle(listener)
        a, b = self.legs["a"][1], self.legs["b"][1]
        listener.stop_playback()
        self.node.media.send(Kind.TAP, relay.pack_tap(handle.stream_id, a.stream_id, b.stream_id))

    def untap(self, listener: CallChannel) -> None:
        handle = self.node.dialler._handle(listener)
        self.node.media.send(Kind.UNBRIDGE, relay.pack_bridge(handle.stream_id, 0))

    def unbridge(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        handle = self.legs["a"][1]
        self.node.media.send(Kind.UNBRIDGE, relay.pack_bridge(handle.stream_id, 0))


def _leg(leg: str) -> str:
    if leg not in ("a", "b"):
        raise ValueError(f"bridge leg must be 'a' or 'b', got {leg!r}")
    return leg


def _shown(kind: str, user: str) -> str:
    """An agent's name as is; a number masked like callers' in the log."""
    if kind == "agent":
        return user
    return user[:3] + "*" * max(len(user) - 5, 0) + user[-2:]
