"""The pyVoIP adapter: registers the node, answers calls, runs ``on_call`` on a CallChannel each.

pyVoIP 1.6.8 is a phone, and its gaps are fatal for a hotline: its re-REGISTER reads the next
datagram of the shared socket (under load an INVITE) and then stops the phone; replies go to the
registrar instead of the Via; 200 OK drops Record-Route; no 100 Trying, no OPTIONS, 8-bit audio,
two threads per RTP stream and a 1 s delay. So this adapter keeps pyVoIP's ``SIPClient`` for what it
does well (building REGISTER requests and their digest answers, parsing the challenge) and runs its
own transaction layer over one socket: every request is answered to its source, 200 OK carries the
Record-Route set and is retransmitted until ACK, registration is a non-blocking state machine that
retries with backoff forever, and media goes to the node's media process (``MediaClient``).
"""

from __future__ import annotations

import contextlib
import logging
import random
import select
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

from config.settings import Settings
from ivr.channel import CallChannel
from ivr.sip import message as sipmsg
from ivr.sip.channel import SipChannel
from ivr.sip.media_client import MediaClient, MediaHandle, MediaUnavailable, NoPortsAvailable
from ivr.sip.options import AdapterOptions

with warnings.catch_warnings():
    # pyVoIP imports the deprecated ``audioop`` at import time; we never call the code that uses it.
    warnings.simplefilter("ignore", DeprecationWarning)
    import pyVoIP.VoIP  # noqa: F401  (must load before pyVoIP.SIP: their imports are circular)
    from pyVoIP import SIP as pyvoip_sip

log = logging.getLogger(__name__)

T1 = 0.5  # RFC 3261 timer T1
T2 = 4.0
TRANSACTION_TIMEOUT = 64 * T1
_MAX_DATAGRAM = 65535


class _PhoneStub:
    """pyVoIP's SIPClient writes its phone's status while registering; we keep our own state."""

    _status: object = None


class _RegisterBuilder(pyvoip_sip.SIPClient):
    """pyVoIP's SIPClient used only to build REGISTER requests and answer digest challenges.

    Its own ``register()`` blocks on the shared socket and stops the phone after three failures;
    the node sends these requests and reads the answers in its receive loop instead.
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
class _Call:
    sip_call_id: str
    invite: bytes
    invite_cseq: int
    source: tuple[str, int]
    to_tag: str
    stream: MediaHandle
    channel: SipChannel
    dialog: sipmsg.Dialog
    remote: tuple[str, int]
    payload_type: int
    event_payload_type: int | None
    answer_sdp: str
    state: str = "ringing"  # ringing -> answered -> ended
    last_response: bytes = b""
    acked: bool = False
    ok_next: float = 0.0
    ok_interval: float = T1
    ok_deadline: float = 0.0
    bye_cseq: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    thread: threading.Thread | None = None


@dataclass
class _PendingRequest:
    data: bytes
    destination: tuple[str, int]
    next_at: float
    interval: float
    deadline: float


class SipNode:
    """One IVR node: a SIP UA on ``settings.sip_bind:sip_port`` serving many calls at once."""

    def __init__(
        self,
        settings: Settings,
        on_call: Callable[[CallChannel], None],
        options: AdapterOptions | None = None,
    ) -> None:
        self.settings = settings
        self.on_call = on_call
        self.options = options or AdapterOptions.from_extra(settings.extra)
        self.advertise = self.options.advertise or _advertise_address(settings)
        self.media = MediaClient(
            settings.sip_bind,
            self.options.rtp_low,
            self.options.rtp_high,
            name=settings.sip_user,
            rtp_timeout=self.options.rtp_timeout,
        )
        self._media_retry_at = 0.0
        self._media_failures = 0
        self.registered = threading.Event()
        self.ready = threading.Event()  # set once the SIP socket is bound
        self.rejected_busy = 0
        self.answered_total = 0
        self.acks_received = 0
        self._calls: dict[str, _Call] = {}
        self._recent: dict[str, float] = {}  # ended Call-IDs -> expiry (late BYE gets 200, not 481)
        self._pending: dict[str, _PendingRequest] = {}  # our BYEs awaiting 200, by Call-ID
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._builder: _RegisterBuilder | None = None
        self._reg_call_id: str | None = None
        self._reg_sent_at = 0.0
        self._reg_due = 0.0
        self._reg_authed = False
        self._reg_failures = 0
        self._session_ids = random.randrange(1, 1 << 30)

    # ------------------------------------------------------------------ lifecycle
    @property
    def active_calls(self) -> int:
        with self._lock:
            return len(self._calls)

    def call_threads(self) -> list[threading.Thread]:
        with self._lock:
            return [c.thread for c in self._calls.values() if c.thread is not None]

    def run(self, stop: threading.Event) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind((self.settings.sip_bind, self.settings.sip_port))
        sock.setblocking(False)
        self._sock = sock
        if self.settings.sip_registrar is not None:
            self._builder = _RegisterBuilder(
                self.settings,
                self.settings.sip_registrar,
                self.advertise,
                self.options.register_expires,
            )
        self.media.start()
        self.ready.set()
        log.info(
            "SIP node %s listening on %s:%d (registrar %s, max %d calls)",
            self.settings.sip_user,
            self.settings.sip_bind,
            self.settings.sip_port,
            self.settings.sip_registrar,
            self.options.max_calls,
        )
        try:
            self._loop(stop)
        finally:
            self._shutdown()

    def _loop(self, stop: threading.Event) -> None:
        assert self._sock is not None
        next_housekeeping = 0.0
        while not stop.is_set():
            readable, _, _ = select.select([self._sock], [], [], 0.05)
            for _ in range(256 if readable else 0):  # drain a burst, keep timers ticking
                try:
                    data, source = self._sock.recvfrom(_MAX_DATAGRAM)
                except BlockingIOError:
                    break
                except OSError as exc:
                    # e.g. ICMP port unreachable reported on the next recvfrom: not fatal.
                    log.debug("SIP socket error (ignored): %s", exc)
                    break
                self._on_datagram(data, source)
            now = time.monotonic()
            if now >= next_housekeeping:
                next_housekeeping = now + 0.05
                self._housekeeping(now)

    def _shutdown(self) -> None:
        with self._lock:
            calls = list(self._calls.values())
        for call in calls:
            self._end_call(call, "hangup")
        if self._builder is not None and self.registered.is_set():
            self._send_to_registrar(self._builder.first_request(deregister=True))
        for call in calls:
            if call.thread is not None and call.thread is not threading.current_thread():
                call.thread.join(timeout=2)
        self.media.stop()
        if self._sock is not None:
            self._sock.close()
        log.info("SIP node %s stopped", self.settings.sip_user)

    # ------------------------------------------------------------------ transport
    def _send(self, data: bytes, destination: tuple[str, int]) -> None:
        if self._sock is None:
            return
        try:
            self._sock.sendto(data, destination)
        except OSError as exc:
            log.warning("SIP send to %s:%s failed: %s", destination[0], destination[1], exc)

    def _on_datagram(self, data: bytes, source: tuple[str, int]) -> None:
        if not data.strip(b"\r\n\x00 "):
            return  # keep-alive (CRLF / zero bytes)
        try:
            start, headers, body = sipmsg.split_message(data)
            first = _first_values(headers)
            if start.startswith("SIP/2.0 "):
                self._on_response(start, first, data)
                return
            parts = start.split(" ")
            if len(parts) != 3 or parts[2] != "SIP/2.0" or not parts[0].isalpha():
                raise sipmsg.SipSyntaxError(f"bad request line {start[:80]!r}")
            self._on_request(parts[0].upper(), first, data, body, source)
        except Exception as exc:  # one bad packet never stops the node (RFC 4475 torture)
            log.warning(
                "dropped SIP datagram from %s:%s (%d bytes): %s: %s",
                source[0],
                source[1],
                len(data),
                type(exc).__name__,
                exc,
            )
            self._reply_bad_request(data, source, exc)

    def _reply_bad_request(self, data: bytes, source: tuple[str, int], exc: Exception) -> None:
        if data.startswith(b"SIP/") or data.startswith(b"ACK "):
            return
        with contextlib.suppress(Exception):
            reason = str(exc).replace("\r", " ").replace("\n", " ")[:80]
            self._send(sipmsg.build_response(data, 400, f"Bad Request ({reason})"), source)

    # ------------------------------------------------------------------ requests
    def _on_request(
        self, method: str, first: dict[str, str], raw: bytes, body: bytes, source: tuple[str, int]
    ) -> None:
        call_id = first.get("call-id")
        if not call_id:
            raise sipmsg.SipSyntaxError("request has no Call-ID")
        cseq_text = first.get("cseq", "").split()
        if len(cseq_text) != 2 or not cseq_text[0].isdigit():
            raise sipmsg.SipSyntaxError(f"bad CSeq {first.get('cseq')!r}")
        cseq = int(cseq_text[0])
        with self._lock:
            call = self._calls.get(call_id)
        if method == "INVITE":
            self._on_invite(call, call_id, cseq, first, raw, body, source)
        elif method == "ACK":
            if call is not None and not call.acked:
                call.acked = True
                self.acks_received += 1
                log.debug("call %s: ACK received", call.channel.call_id)
        elif method == "BYE":
            if call is not None:
                self._send(sipmsg.build_response(raw, 200, "OK"), source)
                log.info("call %s: caller hung up (BYE)", call.channel.call_id)
                self._end_call(call, "bye")
            elif call_id in self._recent:
                self._send(sipmsg.build_response(raw, 200, "OK"), source)
            else:
                self._send(
                    sipmsg.build_response(raw, 481, "Call/Transaction Does Not Exist"), source
                )
        elif method == "CANCEL":
            self._on_cancel(call, raw, source)
        elif method == "OPTIONS":
            extra = [f"Allow: {sipmsg.ALLOW}", "Accept: application/sdp"]
            self._send(sipmsg.build_response(raw, 200, "OK", to_tag=_tag(), extra=extra), source)
        elif method == "INFO" and call is not None:
            self._on_info(call, body)
            self._send(sipmsg.build_response(raw, 200, "OK"), source)
        else:
            self._send(
                sipmsg.build_response(
                    raw, 405, "Method Not Allowed", to_tag=_tag(), extra=[f"Allow: {sipmsg.ALLOW}"]
                ),
                source,
            )

    def _on_invite(
        self,
        call: _Call | None,
        call_id: str,
        cseq: int,
        first: dict[str, str],
        raw: bytes,
        body: bytes,
        source: tuple[str, int],
    ) -> None:
        to_tag = sipmsg.tag_of(first.get("to", ""))
        if call is not None:
            if to_tag is None and cseq == call.invite_cseq:
                self._send(call.last_response, source)  # retransmission: repeat our last answer
            elif to_tag == call.to_tag:
                self._on_reinvite(call, raw, body, source)
            else:
                self._send(sipmsg.build_response(raw, 482, "Loop Detected"), source)
            return
        if to_tag is not None:
            if call_id not in self._recent:
                self._send(
                    sipmsg.build_response(raw, 481, "Call/Transaction Does Not Exist"), source
                )
            return
        try:
            offer = sipmsg.parse_sdp(body)
        except sipmsg.SipSyntaxError as exc:
            log.warning("INVITE %s from %s: unusable SDP: %s", call_id, source[0], exc)
            self._send(
                sipmsg.build_response(raw, 488, "Not Acceptable Here", to_tag=_tag()), source
            )
            return
        payload_type = offer.first_of(("PCMU", "PCMA"))
        if payload_type is None:
            log.warning("INVITE %s: no G.711 codec offered (%s)", call_id, offer.payload_types)
            self._send(
                sipmsg.build_response(raw, 488, "Not Acceptable Here", to_tag=_tag()), source
            )
            return
        if self.active_calls >= self.options.max_calls:
            self.rejected_busy += 1
            log.warning("INVITE %s: over %d calls, 503", call_id, self.options.max_calls)
            self._send(
                sipmsg.build_response(
                    raw, 503, "Service Unavailable", to_tag=_tag(), extra=["Retry-After: 5"]
                ),
                source,
            )
            return
        self._send(sipmsg.build_response(raw, 100, "Trying"), source)  # stops proxy retransmits
        try:
            stream = self.media.allocate()
        except (NoPortsAvailable, MediaUnavailable) as exc:
            log.error("INVITE %s: %s, 503", call_id, exc)
            self._send(
                sipmsg.build_response(raw, 503, "Service Unavailable", to_tag=_tag()), source
            )
            return
        local_tag = _tag()
        try:
            dialog = sipmsg.dialog_from_invite(raw, local_tag)
        except sipmsg.SipSyntaxError:
            self.media.release(stream)
            raise
        caller = sipmsg.caller_number(
            sipmsg.header_values(raw, "p-asserted-identity"), first.get("from")
        )
        channel = SipChannel(call_id, caller, stream, self._on_channel_hangup)
        event_pt = offer.first_of(("TELEPHONE-EVENT",))
        self._session_ids += 1
        call = _Call(
            sip_call_id=call_id,
            invite=raw,
            invite_cseq=cseq,
            source=source,
            to_tag=local_tag,
            stream=stream,
            channel=channel,
            dialog=dialog,
            remote=(offer.address, offer.port),
            payload_type=payload_type,
            event_payload_type=event_pt,
            answer_sdp=sipmsg.build_sdp(
                self._session_ids, self.advertise, stream.port, payload_type, event_pt
            ),
        )
        call.last_response = sipmsg.build_response(
            raw, 180, "Ringing", to_tag=local_tag, extra=[self._contact()]
        )
        with self._lock:
            self._calls[call_id] = call
        self._send(call.last_response, source)
        log.info(
            "call %s: INVITE %s from %s (caller %s, codec %d)",
            channel.call_id,
            call_id,
            source[0],
            caller,
            payload_type,
        )
        call.thread = threading.Thread(
            target=self._call_main, args=(call,), name=f"call-{channel.call_id[:8]}", daemon=True
        )
        call.thread.start()

    def _on_reinvite(self, call: _Call, raw: bytes, body: bytes, source: tuple[str, int]) -> None:
        with contextlib.suppress(sipmsg.SipSyntaxError):
            offer = sipmsg.parse_sdp(body)
            call.remote = (offer.address, offer.port)
            call.stream.set_remote(call.remote)
        ok = sipmsg.build_response(raw, 200, "OK", extra=[self._contact()], body=call.answer_sdp)
        self._send(ok, source)

    def _on_cancel(self, call: _Call | None, raw: bytes, source: tuple[str, int]) -> None:
        if call is None:
            self._send(sipmsg.build_response(raw, 481, "Call/Transaction Does Not Exist"), source)
            return
        self._send(sipmsg.build_response(raw, 200, "OK", to_tag=call.to_tag), source)
        with call.lock:
            ringing = call.state == "ringing"
        if ringing:
            terminated = sipmsg.build_response(
                call.invite, 487, "Request Terminated", to_tag=call.to_tag
            )
            call.last_response = terminated
            self._send(terminated, call.source)
            log.info("call %s: cancelled before answer", call.channel.call_id)
            self._end_call(call, "cancel")

    def _on_info(self, call: _Call, body: bytes) -> None:
        """SIP INFO DTMF (application/dtmf-relay ``Signal=5``), sent by some PBXs instead of RTP."""
        for line in body.decode("utf-8", "replace").splitlines():
            name, _, value = line.partition("=")
            key = value.strip()
            if name.strip().lower() == "signal" and len(key) == 1 and key in "0123456789*#":
                call.stream.dtmf.append(key)

    # ------------------------------------------------------------------ responses
    def _on_response(self, start: str, first: dict[str, str], raw: bytes) -> None:
        status_text = start.split(" ", 2)[1] if start.count(" ") >= 1 else ""
        if not status_text.isdigit():
            raise sipmsg.SipSyntaxError(f"bad status line {start[:80]!r}")
        status = int(status_text)
        method = first.get("cseq", " ").split()[-1].upper()
        call_id = first.get("call-id", "")
        if method == "REGISTER" and call_id == self._reg_call_id:
            self._on_register_response(status, raw)
        elif method == "BYE" and status >= 200:
            self._pending.pop(call_id, None)

    # ------------------------------------------------------------------ calls
    def _contact(self) -> str:
        return f"Contact: <sip:{self.settings.sip_user}@{self.advertise}:{self.settings.sip_port}>"

    def _call_main(self, call: _Call) -> None:
        channel = call.channel
        try:
            if call.cancelled.wait(self.options.answer_delay):
                return
            ok = sipmsg.build_response(
                call.invite,
                200,
                "OK",
                to_tag=call.to_tag,
                extra=[self._contact(), f"Allow: {sipmsg.ALLOW}"],
                body=call.answer_sdp,
            )
            with call.lock:
                if call.state != "ringing":
                    return
                call.stream.start(call.remote, call.payload_type, call.event_payload_type)
                call.last_response = ok
                now = time.monotonic()
                call.ok_next, call.ok_interval = now + T1, T1
                call.ok_deadline = now + TRANSACTION_TIMEOUT
                call.state = "answered"  # last: housekeeping reads the timers without the lock
            self._send(ok, call.source)
            self.answered_total += 1
            log.info("call %s: answered", channel.call_id)
            self.on_call(channel)
        except Exception:
            log.exception("call %s: call flow failed", channel.call_id)
            self._end_call(call, "error")
        finally:
            self._end_call(call, "hangup")

    def _on_channel_hangup(self, channel: SipChannel) -> None:
        with self._lock:
            call = self._calls.get(channel.sip_call_id)
        if call is not None and call.channel is channel:
            self._end_call(call, "hangup")

    def _end_call(self, call: _Call, reason: str) -> None:
        """Every way a call ends comes here once: BYE if we end it, free the RTP port, forget it."""
        with call.lock:
            if call.state == "ended":
                return
            was = call.state
            call.state = "ended"
        call.cancelled.set()
        call.channel.mark_ended(reason)
        if was == "answered" and reason in ("hangup", "rtp_timeout", "error"):
            self._send_bye(call)
        elif was == "ringing" and reason != "cancel":
            self._send(
                sipmsg.build_response(
                    call.invite, 480, "Temporarily Unavailable", to_tag=call.to_tag
                ),
                call.source,
            )
        self.media.release(call.stream)
        with self._lock:
            self._calls.pop(call.sip_call_id, None)
            self._recent[call.sip_call_id] = time.monotonic() + TRANSACTION_TIMEOUT
        log.info(
            "call %s: ended (%s), %d active",
            call.channel.call_id,
            call.channel.end_reason,
            len(self._calls),
        )

    def _send_bye(self, call: _Call) -> None:
        call.bye_cseq = call.invite_cseq + 1
        branch = f"z9hG4bK{uuid.uuid4().hex[:20]}"
        bye = sipmsg.build_bye(
            call.dialog, call.bye_cseq, self.advertise, self.settings.sip_port, branch
        )
        try:
            destination = call.dialog.next_hop()
        except sipmsg.SipSyntaxError:
            destination = call.source
        now = time.monotonic()
        self._pending[call.sip_call_id] = _PendingRequest(
            bye, destination, now + T1, T1, now + TRANSACTION_TIMEOUT
        )
        self._send(bye, destination)

    # ------------------------------------------------------------------ timers
    def _housekeeping(self, now: float) -> None:
        self._registration_tick(now)
        if self.media.lost.is_set():
            self._media_lost(now)
        with self._lock:
            calls = list(self._calls.values())
        for call in calls:
            if call.state != "answered":
                continue
            if not call.acked and now >= call.ok_next:
                if now > call.ok_deadline:
                    # RFC 3261 would end the dialog; a hotline keeps a caller whose media flows.
                    log.warning(
                        "call %s: no ACK for 200 OK after %.0f s; keeping the call",
                        call.channel.call_id,
                        TRANSACTION_TIMEOUT,
                    )
                    call.acked = True
                else:
                    self._send(call.last_response, call.source)
                    call.ok_interval = min(call.ok_interval * 2, T2)
                    call.ok_next = now + call.ok_interval
            if call.stream.timed_out:
                log.warning(
                    "call %s: no RTP for %.0f s, hanging up",
                    call.channel.call_id,
                    self.options.rtp_timeout,
                )
                self._end_call(call, "rtp_timeout")
        for call_id, pending in list(self._pending.items()):
            if now > pending.deadline:
                self._pending.pop(call_id, None)
            elif now >= pending.next_at:
                self._send(pending.data, pending.destination)
                pending.interval = min(pending.interval * 2, T2)
                pending.next_at = now + pending.interval
        if self._recent:
            with self._lock:
                for call_id in [k for k, expiry in self._recent.items() if expiry < now]:
                    del self._recent[call_id]

    def _media_lost(self, now: float) -> None:
        """The media process died: every call ends ('error', BYE sent), then a new one starts."""
        with self._lock:
            calls = list(self._calls.values())
        for call in calls:
            self._end_call(call, "error")
        if now < self._media_retry_at:
            return  # INVITEs get 503 meanwhile, so the dispatcher sends callers to other nodes
        try:
            self.media.restart()
        except Exception:
            self._media_failures += 1
            backoff = min(2.0**self._media_failures, 30.0)
            self._media_retry_at = now + backoff
            log.exception(
                "node %s: media process restart failed; retry in %.0f s (503 until then)",
                self.settings.sip_user,
                backoff,
            )
            return
        self._media_failures = 0
        log.warning("node %s: media process restarted after a failure", self.settings.sip_user)

    # ------------------------------------------------------------------ registration
    def _send_to_registrar(self, data: bytes) -> None:
        assert self.settings.sip_registrar is not None
        self._send(data, self.settings.sip_registrar)

    def _registration_tick(self, now: float) -> None:
        if self._builder is None:
            return
        if self._reg_call_id is not None and now - self._reg_sent_at > 4.0:
            self._registration_failed(now, "no answer from registrar")
        if self._reg_call_id is None and now >= self._reg_due:
            request = self._builder.first_request()
            self._reg_call_id = _first_values(sipmsg.split_message(request)[1])["call-id"]
            self._reg_sent_at, self._reg_authed = now, False
            self._send_to_registrar(request)

    def _on_register_response(self, status: int, raw: bytes) -> None:
        assert self._builder is not None
        now = time.monotonic()
        if status < 200:
            self._reg_sent_at = now  # provisional: the registrar is alive, keep waiting
        elif status == 401 and not self._reg_authed:
            try:
                request = self._builder.answer_challenge(raw)
            except Exception as exc:  # a challenge pyVoIP cannot parse: retry later, never stop
                self._registration_failed(now, f"unusable challenge: {exc}")
                return
            self._reg_call_id = _first_values(sipmsg.split_message(request)[1])["call-id"]
            self._reg_sent_at, self._reg_authed = now, True
            self._send_to_registrar(request)
        elif 200 <= status < 300:
            if not self.registered.is_set() or self._reg_failures:
                log.info(
                    "registered as %s at %s", self.settings.sip_user, self.settings.sip_registrar
                )
            self.registered.set()
            self._reg_failures = 0
            self._reg_call_id = None
            self._reg_due = now + self.options.register_expires / 2
        else:
            self._registration_failed(now, f"registrar answered {status}")

    def _registration_failed(self, now: float, why: str) -> None:
        self._reg_failures += 1
        backoff = min(2.0 ** min(self._reg_failures, 6), 60.0) * random.uniform(0.8, 1.2)
        log.warning(
            "registration as %s failed (%s); retry %d in %.1f s (calls carry on)",
            self.settings.sip_user,
            why,
            self._reg_failures,
            backoff,
        )
        self._reg_call_id = None
        self._reg_due = now + backoff


def _first_values(headers: list[tuple[str, str]]) -> dict[str, str]:
    first: dict[str, str] = {}
    for key, value in headers:
        first.setdefault(key, value)
    return first


def _tag() -> str:
    return uuid.uuid4().hex[:16]


def _advertise_address(settings: Settings) -> str:
    """The address to put in Contact/SDP: the bind address, or the route towards the registrar."""
    if settings.sip_bind not in ("0.0.0.0", ""):
        return settings.sip_bind
    target = settings.sip_registrar or ("192.0.2.1", 5060)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(target)
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def serve(
    settings: Settings, on_call: Callable[[CallChannel], None], stop: threading.Event
) -> None:
    """Register and answer calls, each ``on_call(channel)`` in its own thread, until ``stop``."""
    SipNode(settings, on_call).run(stop)
