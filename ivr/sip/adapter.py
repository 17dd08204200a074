"""The IVR node's SIP adapter: the socket loop, one thread per call, the media process's restarts.

pyVoIP 1.6.8 is a phone, and its gaps are fatal for a hotline (its re-REGISTER reads the next
datagram of the shared socket and then stops the phone; replies go to the registrar instead of
the Via; 200 OK drops Record-Route; no 100 Trying, no OPTIONS, 8-bit audio). So pyVoIP is kept
only for what it does well — building REGISTER requests and their digest answers — and this is
the only module that imports it. The SIP logic itself is the pure ``ivr.sip.uas.UserAgent``; the
node feeds it datagrams from a ``Transport`` and the clock, and applies what it returns: datagrams
to send, calls to start on the ``MediaClient``, channels to end.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from config.sections import SipOptions
from config.settings import Settings
from ivr.channel import CallChannel
from ivr.outbound import DialResult
from ivr.sip.addresses import advertise_address, mask_number, proxy_addresses
from ivr.sip.call_leg import SipChannel
from ivr.sip.dialog import (
    Action,
    CallOver,
    DialDone,
    Dtmf,
    LocalParty,
    MoveMedia,
    Offered,
    Ringing,
    StartMedia,
)
from ivr.sip.loop_watch import LOOP_NICE, LoopWatch, raise_thread_priority
from ivr.sip.media_client import MediaClient, MediaHandle, MediaUnavailable, NoPortsAvailable
from ivr.sip.outbound_node import NodeBridge, NodeDialler
from ivr.sip.registration import Registration
from ivr.sip.transaction import Send, retry_delay
from ivr.sip.transport import Transport, UdpTransport
from ivr.sip.uas import Admission, UserAgent

with warnings.catch_warnings():
    # pyVoIP imports ``audioop`` at import time (deprecated in 3.11-3.12, from audioop-lts on
    # 3.13+); we never call the code that uses it.
    warnings.simplefilter("ignore", DeprecationWarning)
    import pyVoIP.VoIP  # noqa: F401  (must load before pyVoIP.SIP: their imports are circular)
    from pyVoIP import SIP as pyvoip_sip

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 0.05
MAX_MEDIA_BACKOFF = 30.0


class _PhoneStub:
    """pyVoIP's SIPClient writes its phone's status while registering; we keep our own state."""

    _status: object = None


class PyVoipRegisterBuilder(pyvoip_sip.SIPClient):
    """pyVoIP's SIPClient used only to build REGISTER requests and answer digest challenges.

    Its own ``register()`` blocks on the shared socket and stops the phone after three failures;
    ``ivr.sip.registration.Registration`` sends these requests and reads the answers instead.
    """

    def __init__(
        self, settings: Settings, registrar: tuple[str, int], advertise: str, expires: int
    ) -> None:
        super().__init__(
            registrar[0],
            registrar[1],
            settings.sip_user,
            settings.sip_password,
            phone=_PhoneStub(),  # type: ignore[arg-type]
            myIP=advertise,
            myPort=settings.sip_port,
        )
        self.default_expires = expires

    def first_request(self, deregister: bool = False) -> bytes:
        return self.gen_first_response(deregister=deregister).encode()

    def answer_challenge(self, challenge: bytes, deregister: bool = False) -> bytes:
        return self.gen_register(pyvoip_sip.SIPMessage(challenge), deregister=deregister).encode()


@dataclass
class _Leg:
    """The node's side of one call: its media, its channel, the thread running the flow."""

    handle: MediaHandle
    channel: SipChannel
    cancelled: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class SipNode:
    """One IVR node: a SIP UA on ``settings.sip_bind:sip_port`` serving many calls at once, and
    the ``ivr.outbound.Dialler`` of its flows (outbound legs via the registrar, bridges).

    ``transport`` (default: a UDP socket bound at ``run``), ``media`` (default: the node's media
    process) and ``clock`` are injected so tests can run the node without a socket.
    """

    def __init__(
        self,
        settings: Settings,
        on_call: Callable[[CallChannel], None],
        options: SipOptions | None = None,
        *,
        transport: Transport | None = None,
        media: MediaClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.on_call = on_call
        self.options = options or settings.sip_options
        self.advertise = self.options.advertise or advertise_address(settings)
        self.media = media or MediaClient(
            settings.sip_bind,
            self.options.rtp_low,
            self.options.rtp_high,
            name=settings.sip_user,
            rtp_timeout=self.options.rtp_timeout,
            realtime=self.options.media_realtime,
        )
        self._transport = transport
        self._clock = clock
        registration = None
        if settings.sip_registrar is not None:
            builder = PyVoipRegisterBuilder(
                settings, settings.sip_registrar, self.advertise, self.options.register_expires
            )
            registration = Registration(
                builder, settings.sip_registrar, settings.sip_user, self.options.register_expires
            )
        self.agent = UserAgent(
            LocalParty(settings.sip_user, self.advertise, settings.sip_port),
            Admission(
                max_calls=self.options.max_calls,
                service_numbers=frozenset(settings.ivr_service_numbers),
                proxies=frozenset(proxy_addresses(settings)),
            ),
            registration,
        )
        self.registered = threading.Event()
        self.ready = threading.Event()  # set once the SIP socket is bound
        self._legs: dict[str, _Leg] = {}
        self._lock = threading.RLock()  # the agent and the legs: receive loop and call threads
        # Call threads are started here, off the SIP loop: Thread.start waits until the new thread
        # runs, which on a busy CPU took the loop up to a second (and a thread inherits its
        # creator's priority: the loop's raised one stays the loop's).
        self._starts: queue.SimpleQueue[_Leg | None] = queue.SimpleQueue()
        self._starter: threading.Thread | None = None
        self._media_retry_at = 0.0
        self._media_failures = 0
        self.dialler = NodeDialler(self)
        self.loop_watch = LoopWatch(f"node {settings.sip_user}", lock=self._lock)

    # ------------------------------------------------------------------ ivr.outbound.Dialler
    def dial(
        self,
        target: str,
        *,
        caller_id: str,
        ring_timeout: float,
        cancel: threading.Event | None = None,
        on_ringing: Callable[[], None] | None = None,
    ) -> DialResult:
        return self.dialler.dial(
            target,
            caller_id=caller_id,
            ring_timeout=ring_timeout,
            cancel=cancel,
            on_ringing=on_ringing,
        )

    def bridge(
        self,
        a: CallChannel,
        b: CallChannel,
        on_audio: Callable[[str, bytes], None] | None = None,
    ) -> NodeBridge:
        return self.dialler.bridge(a, b, on_audio)

    def _register_leg(self, call_id: str, handle: MediaHandle, channel: SipChannel) -> None:
        self._legs[call_id] = _Leg(handle, channel)

    # ------------------------------------------------------------------ figures
    @property
    def active_calls(self) -> int:
        with self._lock:
            return len(self.agent.calls)

    @property
    def answered_total(self) -> int:
        return self.agent.answered_total

    @property
    def rejected_busy(self) -> int:
        return self.agent.rejected_busy

    @property
    def acks_received(self) -> int:
        return self.agent.acks_received

    def call_threads(self) -> list[threading.Thread]:
        with self._lock:
            return [leg.thread for leg in self._legs.values() if leg.thread is not None]

    # ------------------------------------------------------------------ lifecycle
    def run(self, stop: threading.Event) -> None:
        if self._transport is None:
            self._transport = UdpTransport((self.settings.sip_bind, self.settings.sip_port))
        self.media.start()
        self.ready.set()
        log.info(
            "SIP node %s listening on %s:%d (registrar %s, max %d calls, proxies %s)",
            self.settings.sip_user,
            self.settings.sip_bind,
            self.settings.sip_port,
            self.settings.sip_registrar,
            self.options.max_calls,
            ", ".join(sorted(self.agent.admission.proxies)),
        )
        self._starter = threading.Thread(
            target=self._start_calls, name=f"sip-starter[{self.settings.sip_user}]", daemon=True
        )
        self._starter.start()
        self.loop_watch.start()
        raise_thread_priority(LOOP_NICE, f"node {self.settings.sip_user}: SIP loop")
        try:
            self._loop(stop, self._transport)
        finally:
            self.loop_watch.stop()
            self._starts.put(None)
            self._starter.join(timeout=2)
            self._shutdown(self._transport)

    def _loop(self, stop: threading.Event, transport: Transport) -> None:
        next_housekeeping = 0.0
        while not stop.is_set():
            received = transport.receive(HOUSEKEEPING_SECONDS)
            now = self._clock()
            with self._lock:
                for data, source in received:
                    self._apply(self.agent.receive(data, source, now), now)
                if now >= next_housekeeping:
                    next_housekeeping = now + HOUSEKEEPING_SECONDS
                    self._housekeeping(now)
            self.loop_watch.beat()

    def _shutdown(self, transport: Transport) -> None:
        with self._lock:
            legs = list(self._legs.values())
            self._apply(self.agent.shutdown(self._clock()), self._clock())
        for leg in legs:
            if leg.thread is not None and leg.thread is not threading.current_thread():
                leg.thread.join(timeout=2)
        self.media.stop()
        transport.close()
        log.info("SIP node %s stopped", self.settings.sip_user)

    # ------------------------------------------------------------------ the agent's actions
    def _apply(self, actions: list[Action], now: float) -> None:
        for action in actions:
            if isinstance(action, Send):
                if self._transport is not None:
                    self._transport.send(action.data, action.destination)
            elif isinstance(action, Offered):
                self._offer(action, now)
            elif isinstance(action, CallOver):
                self._call_over(action)
            elif isinstance(action, Ringing | DialDone):
                self.dialler.on_action(action)
            else:
                leg = self._legs.get(action.call_id)
                if leg is None:
                    continue
                if isinstance(action, StartMedia):
                    leg.handle.start(action.remote, action.payload_type, action.event_payload_type)
                elif isinstance(action, MoveMedia):
                    leg.handle.set_remote(action.remote)
                elif isinstance(action, Dtmf):
                    leg.handle.dtmf.append(action.key)

    def _offer(self, offer: Offered, now: float) -> None:
        try:
            handle = self.media.allocate()
        except (NoPortsAvailable, MediaUnavailable) as exc:
            log.error("INVITE %s: %s, 503", offer.call_id, exc)
            self._apply(self.agent.refuse(offer.call_id, now), now)
            return
        channel = SipChannel(offer.call_id, offer.caller, handle, self._on_channel_hangup)
        leg = _Leg(handle, channel)
        self._legs[offer.call_id] = leg
        self._apply(self.agent.accept(offer.call_id, handle.port), now)
        caller = mask_number(offer.caller)
        log.info("call %s: INVITE %s (caller %s)", channel.call_id, offer.call_id, caller)
        if self._starter is None:  # not running (tests driving the node by hand)
            self._start_call(offer.call_id, leg)
        else:
            self._starts.put(leg)

    def _start_calls(self) -> None:
        while (leg := self._starts.get()) is not None:
            if not leg.cancelled.is_set():  # else over before it began: its media is released
                self._start_call(leg.channel.sip_call_id, leg)

    def _start_call(self, call_id: str, leg: _Leg) -> None:
        thread = threading.Thread(
            target=self._call_main,
            args=(call_id, leg),
            name=f"call-{leg.channel.call_id[:8]}",
            daemon=True,
        )
        try:
            thread.start()
        except RuntimeError:  # no more threads: the call ends as a failed flow would
            log.exception("call %s: no thread for the call flow", leg.channel.call_id)
            self._hangup(call_id, leg, "error")
            return
        leg.thread = thread

    def _call_over(self, over: CallOver) -> None:
        leg = self._legs.pop(over.call_id, None)
        if leg is None:
            return
        leg.cancelled.set()
        leg.channel.mark_ended(over.reason)
        self.media.release(leg.handle)
        log.info(
            "call %s: ended (%s), %d active",
            leg.channel.call_id,
            leg.channel.end_reason,
            len(self._legs),
        )

    # ------------------------------------------------------------------ calls
    def _call_main(self, call_id: str, leg: _Leg) -> None:
        channel = leg.channel
        try:
            if leg.cancelled.wait(self.options.answer_delay):
                return
            with self._lock:
                actions = self.agent.answer(call_id, self._clock())
                self._apply(actions, self._clock())
            if not actions:
                return
            log.info("call %s: answered", channel.call_id)
            self.on_call(channel)
        except Exception:
            log.exception("call %s: call flow failed", channel.call_id)
            self._hangup(call_id, leg, "error")
        finally:
            self._hangup(call_id, leg, "hangup")

    def _hangup(self, call_id: str, leg: _Leg, reason: str) -> None:
        with self._lock:
            if self._legs.get(call_id) is leg:
                now = self._clock()
                self._apply(self.agent.hangup(call_id, reason, now), now)

    def _on_channel_hangup(self, channel: SipChannel) -> None:
        leg = self._legs.get(channel.sip_call_id)
        if leg is not None and leg.channel is channel:
            self._hangup(channel.sip_call_id, leg, "hangup")

    # ------------------------------------------------------------------ timers
    def _housekeeping(self, now: float) -> None:
        self._apply(self.agent.tick(now), now)
        registration = self.agent.registration
        if registration is not None and registration.registered:
            self.registered.set()
        if self.media.lost.is_set():
            self._media_lost(now)
        for call_id, leg in list(self._legs.items()):
            if leg.handle.timed_out:
                log.warning(
                    "call %s: no RTP for %.0f s, hanging up",
                    leg.channel.call_id,
                    self.options.rtp_timeout,
                )
                self._apply(self.agent.hangup(call_id, "rtp_timeout", now), now)

    def _media_lost(self, now: float) -> None:
        """The media process died: every call ends ('error', BYE sent), then a new one starts."""
        for call_id in list(self._legs):
            self._apply(self.agent.hangup(call_id, "error", now), now)
        if now < self._media_retry_at:
            return  # INVITEs get 503 meanwhile, so the dispatcher sends callers to other nodes
        try:
            self.media.restart()
        except Exception:
            self._media_failures += 1
            backoff = retry_delay(self._media_failures, MAX_MEDIA_BACKOFF)
            self._media_retry_at = now + backoff
            log.exception(
                "node %s: media process restart failed; retry in %.0f s (503 until then)",
                self.settings.sip_user,
                backoff,
            )
            return
        self._media_failures = 0
        log.warning("node %s: media process restarted after a failure", self.settings.sip_user)


def serve(
    settings: Settings,
    on_call: Callable[[CallChannel], None],
    stop: threading.Event,
    on_started: Callable[[SipNode], None] | None = None,
) -> None:
    """Register and answer calls, each ``on_call(channel)`` in its own thread, until ``stop``;
    ``on_started`` gets the node (a ``Dialler``) before it runs (the result dialler's)."""
    node = SipNode(settings, on_call)
    if on_started is not None:
        on_started(node)
    node.run(stop)
