"""The node's SIP user agent as a pure object: datagrams and the clock in, actions out.

``UserAgent.receive(data, source, now)`` parses a datagram once and routes it: requests to the
call they belong to (``ivr.sip.dialog.Call``), REGISTER answers to the ``Registration``, answers
to our BYEs to their retransmission. ``tick(now)`` runs the timers. Every method returns a list
of actions (datagrams to send, media to start or move, keys, calls over) that the node applies;
nothing here owns a socket, a thread or a clock, so a whole call can be driven in a unit test.

New INVITEs are admitted only from the configured proxy addresses, only for the service numbers
the node serves, with a usable G.711 offer and below the node's call limit.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from ivr.sip import message as sipmsg
from ivr.sip.dialog import Action, Call, CallState, Dtmf, LocalParty, MoveMedia, Offered
from ivr.sip.message import SipRequest, SipResponse, SipSyntaxError
from ivr.sip.registration import Registration
from ivr.sip.reinvite import ReInvite
from ivr.sip.sdp import parse_sdp
from ivr.sip.transaction import RECENT_SECONDS, Retransmit, Send
from ivr.sip.uac import OutboundCall, OutState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admission:
    """Which INVITEs the node takes."""

    max_calls: int
    service_numbers: frozenset[str]  # Request-URI users served (e.g. {"1567"})
    proxies: frozenset[str]  # source addresses an INVITE may come from


class UserAgent:
    def __init__(
        self,
        local: LocalParty,
        admission: Admission,
        registration: Registration | None = None,
    ) -> None:
        self.local = local
        self.admission = admission
        self.registration = registration
        self.calls: dict[str, Call] = {}
        self._recent: dict[str, tuple[float, Send | None]] = {}  # ended: expiry, last answer
        self._byes: dict[str, Retransmit] = {}  # our BYEs awaiting their answer, by Call-ID
        self.outbound: dict[str, OutboundCall] = {}  # our INVITEs (agents, trunk), by Call-ID
        self._outbound_expiry: dict[str, float] = {}  # ended: kept for retransmitted finals
        self._holds: dict[str, ReInvite] = {}  # re-INVITEs to inbound callers (hold/resume)
        self._session_ids = random.randrange(1, 1 << 30)
        self.answered_total = 0
        self.rejected_busy = 0
        self.rejected_forbidden = 0
        self.acks_received = 0

    # ------------------------------------------------------------------ input
    def receive(self, data: bytes, source: tuple[str, int], now: float) -> list[Action]:
        if not data.strip(b"\r\n\x00 "):
            return []  # keep-alive (CRLF / zero bytes)
        request: SipRequest | None = None
        try:
            message = sipmsg.parse(data)
            if isinstance(message, SipResponse):
                return self._on_response(message, now)
            request = message
            return self._on_request(message, source, now)
        except Exception as exc:  # one bad packet never stops the node (RFC 4475 torture)
            log.warning(
                "dropped SIP datagram from %s:%s (%d bytes): %s: %s",
                source[0],
                source[1],
                len(data),
                type(exc).__name__,
                exc,
            )
            if request is None and isinstance(exc, SipSyntaxError):
                partial = exc.partial
                request = partial if isinstance(partial, SipRequest) else None
            return self._bad_request(request, source, exc)

    def _bad_request(
        self, request: SipRequest | None, source: tuple[str, int], exc: Exception
    ) -> list[Action]:
        if request is None or request.method == "ACK":
            return []
        reason = str(exc).replace("\r", " ").replace("\n", " ")[:80]
        try:
            return [_answer(request, source, 400, f"Bad Request ({reason})")]
        except SipSyntaxError:
            return []  # not even the headers a response needs

    def _on_request(self, request: SipRequest, source: tuple[str, int], now: float) -> list[Action]:
        call_id = request.call_id
        cseq, _ = request.cseq
        call = self.calls.get(call_id)
        method = request.method
        outbound = self.outbound.get(call_id)
        if outbound is not None and method != "CANCEL":
            return outbound.on_request(request, source, now)
        if method == "INVITE":
            return self._on_invite(request, call, cseq, source)
        if method == "ACK":
            if call is not None and call.ack():
                self.acks_received += 1
            return []
        if method == "BYE":
            if call is not None:
                log.info("SIP call %s: caller hung up (BYE)", call_id)
                return [_answer(request, source, 200, "OK"), *self._end(call, "bye", now)]
            if call_id in self._recent:
                return [_answer(request, source, 200, "OK")]
            return [_answer(request, source, 481, "Call/Transaction Does Not Exist")]
        if method == "CANCEL":
            return self._on_cancel(request, call, source, now)
        if method == "OPTIONS":
            extra = [("Allow", sipmsg.ALLOW), ("Accept", "application/sdp")]
            return [_answer(request, source, 200, "OK", to_tag=_tag(), extra=extra)]
        if method == "INFO" and call is not None:
            return [_answer(request, source, 200, "OK"), *_info_keys(call_id, request.body)]
        allow = [("Allow", sipmsg.ALLOW)]
        return [_answer(request, source, 405, "Method Not Allowed", to_tag=_tag(), extra=allow)]

    def _on_invite(
        self, request: SipRequest, call: Call | None, cseq: int, source: tuple[str, int]
    ) -> list[Action]:
        call_id = request.call_id
        to_tag = sipmsg.tag_of(request.get("to") or "")
        if call is not None:
            if to_tag is None and cseq == call.invite_cseq:
                return [call.last_response] if call.last_response else []  # retransmission
            if to_tag == call.local_tag:
                return self._on_reinvite(request, call, source)
            return [_answer(request, source, 482, "Loop Detected")]
        if call_id in self._recent:
            last = self._recent[call_id][1]
            return [last] if to_tag is None and last is not None else []
        if to_tag is not None:
            return [_answer(request, source, 481, "Call/Transaction Does Not Exist")]
        refusal = self._admit(request, source)
        if refusal is not None:
            return [refusal]
        offer = parse_sdp(request.body)  # already checked by _admit
        payload_type = offer.first_of(("PCMU", "PCMA"))
        assert payload_type is not None
        caller = sipmsg.caller_number(request.values("p-asserted-identity"), request.get("from"))
        call = Call(request, source, self.local, offer, payload_type, caller)
        self.calls[call_id] = call
        return [call.trying(), Offered(call_id, caller)]

    def _admit(self, request: SipRequest, source: tuple[str, int]) -> Send | None:
        """None if the INVITE may become a call, else the answer that refuses it."""
        call_id = request.call_id
        if source[0] not in self.admission.proxies:
            self.rejected_forbidden += 1
            log.warning("INVITE %s from %s: not a configured proxy, 403", call_id, source[0])
            return _answer(request, source, 403, "Forbidden", to_tag=_tag())
        try:
            number = sipmsg.uri_user(request.uri)
        except SipSyntaxError:
            number = None
        if number not in self.admission.service_numbers:
            log.warning("INVITE %s: not a service number of this node, 404", call_id)
            return _answer(request, source, 404, "Not Found", to_tag=_tag())
        try:
            offer = parse_sdp(request.body)
        except SipSyntaxError as exc:
            log.warning("INVITE %s from %s: unusable SDP: %s", call_id, source[0], exc)
            return _answer(request, source, 488, "Not Acceptable Here", to_tag=_tag())
        if offer.first_of(("PCMU", "PCMA")) is None:
            log.warning("INVITE %s: no G.711 codec offered (%s)", call_id, offer.payload_types)
            return _answer(request, source, 488, "Not Acceptable Here", to_tag=_tag())
        if len(self.calls) >= self.admission.max_calls:
            self.rejected_busy += 1
            log.warning("INVITE %s: over %d calls, 503", call_id, self.admission.max_calls)
            extra = [("Retry-After", "5")]
            return _answer(request, source, 503, "Service Unavailable", to_tag=_tag(), extra=extra)
        return None

    def _on_reinvite(
        self, request: SipRequest, call: Call, source: tuple[str, int]
    ) -> list[Action]:
        actions: list[Action] = []
        try:
            offer = parse_sdp(request.body)
        except SipSyntaxError:
            pass  # no new SDP: the media stays where it is
        else:
            call.offer = offer
            actions.append(MoveMedia(call.call_id, (offer.address, offer.port)))
        ok = sipmsg.build_response(
            request, 200, "OK", extra=[self.local.contact], body=call.answer_sdp
        )
        return [Send(bytes(ok), source), *actions]

    def _on_cancel(
        self, request: SipRequest, call: Call | None, source: tuple[str, int], now: float
    ) -> list[Action]:
        if call is None:
            return [_answer(request, source, 481, "Call/Transaction Does Not Exist")]
        actions: list[Action] = [_answer(request, source, 200, "OK", to_tag=call.local_tag)]
        if call.state in (CallState.OFFERED, CallState.RINGING):
            actions.append(call.respond(487, "Request Terminated"))
            log.info("SIP call %s: cancelled before answer", call.call_id)
            actions += self._end(call, "cancel", now)
        return actions

    def _on_response(self, response: SipResponse, now: float) -> list[Action]:
        _, method = response.cseq
        call_id = response.call_id
        registration = self.registration
        if method == "REGISTER" and registration is not None and registration.expects(call_id):
            return list(registration.on_response(response, now))
        outbound = self.outbound.get(call_id)
        if outbound is not None:
            return outbound.on_response(response, now)
        hold = self._holds.get(call_id)
        if method == "INVITE" and hold is not None and response.cseq[0] == hold.cseq:
            return list(hold.on_response(response))
        if method == "BYE" and response.status >= 200:
            self._byes.pop(call_id, None)
        return []

    # ------------------------------------------------------------------ the node's decisions
    def accept(self, call_id: str, media_port: int) -> list[Action]:
        """The node has an RTP port for an offered call: ring."""
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.OFFERED:
            return []
        self._session_ids += 1
        return call.ring(media_port, self._session_ids)

    def refuse(self, call_id: str, now: float) -> list[Action]:
        """No media for an offered call: 503, so the proxy tries another node."""
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.OFFERED:
            return []
        busy = call.respond(503, "Service Unavailable")
        return [busy, *self._end(call, "no_media", now)]

    def answer(self, call_id: str, now: float) -> list[Action]:
        call = self.calls.get(call_id)
        actions = call.answer(now) if call is not None else []
        if actions:
            self.answered_total += 1
        return actions

    def dial(self, call: OutboundCall, now: float) -> list[Action]:
        """Send a new outbound INVITE; its answers and requests are routed to it from now on."""
        self.outbound[call.call_id] = call
        return call.start(now)

    @property
    def outbound_active(self) -> int:
        return sum(1 for call in self.outbound.values() if call.state is not OutState.ENDED)

    def hold(self, call_id: str, on: bool, now: float) -> list[Action]:
        """re-INVITE ``a=sendonly`` (on) / ``a=sendrecv`` (off) to a confirmed call's far end."""
        outbound = self.outbound.get(call_id)
        if outbound is not None:
            return outbound.hold(on, now)
        call = self.calls.get(call_id)
        if call is None or call.state is not CallState.CONFIRMED:
            return []
        call.local_cseq += 1
        self._session_ids += 1
        sdp = _with_direction(call.answer_sdp, "sendonly" if on else "sendrecv", self._session_ids)
        hold = ReInvite.start(call.dialog, self.local, call.local_cseq, sdp, now)
        self._holds[call_id] = hold
        return [hold.retransmit.send]

    def hangup(self, call_id: str, reason: str, now: float) -> list[Action]:
        """We end the call ('hangup', 'rtp_timeout', 'error'): BYE, or 480 before the answer."""
        outbound = self.outbound.get(call_id)
        if outbound is not None:
            return outbound.hangup(reason, now)
        call = self.calls.get(call_id)
        return self._end(call, reason, now) if call is not None else []

    def _end(self, call: Call, reason: str, now: float) -> list[Action]:
        actions = call.end(reason, now)
        self._forget(call, now)
        return actions

    def _forget(self, call: Call, now: float) -> None:
        self.calls.pop(call.call_id, None)
        self._recent[call.call_id] = (now + RECENT_SECONDS, call.last_response)
        if call.bye is not None:
            self._byes[call.call_id] = call.bye

    # ------------------------------------------------------------------ timers
    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self.registration is not None:
            actions += self.registration.tick(now)
        for call in list(self.calls.values()):
            actions += call.tick(now)
            if call.state is CallState.ENDED:
                self._forget(call, now)
        for call_id, bye in list(self._byes.items()):
            if bye.expired(now):
                del self._byes[call_id]
            elif bye.due(now):
                actions.append(bye.send)
        for call_id in [k for k, (expiry, _) in self._recent.items() if expiry < now]:
            del self._recent[call_id]
        for hold in list(self._holds.values()):
            actions += hold.tick(now)
            if hold.done:
                self._holds.pop(hold.dialog.call_id, None)
        for outbound in list(self.outbound.values()):
            actions += outbound.tick(now)
            if outbound.state is OutState.ENDED and outbound.bye is None:
                expiry = self._outbound_expiry.setdefault(outbound.call_id, now + RECENT_SECONDS)
                if expiry < now:
                    del self.outbound[outbound.call_id], self._outbound_expiry[outbound.call_id]
        return actions

    def shutdown(self, now: float) -> list[Action]:
        """End every call (BYE / 480) and unregister."""
        actions: list[Action] = []
        for call in list(self.calls.values()):
            actions += self._end(call, "hangup", now)
        for outbound in list(self.outbound.values()):
            actions += outbound.shutdown(now)
        if self.registration is not None:
            actions += self.registration.deregister()
        return actions


def _answer(
    request: SipRequest,
    source: tuple[str, int],
    status: int,
    reason: str,
    *,
    to_tag: str | None = None,
    extra: list[tuple[str, str]] | None = None,
) -> Send:
    response = sipmsg.build_response(request, status, reason, to_tag=to_tag, extra=extra)
    return Send(bytes(response), source)


def _info_keys(call_id: str, body: bytes) -> list[Action]:
    """SIP INFO DTMF (application/dtmf-relay ``Signal=5``), sent by some PBXs instead of RTP."""
    keys: list[Action] = []
    for line in body.decode("utf-8", "replace").splitlines():
        name, _, value = line.partition("=")
        key = value.strip()
        if name.strip().lower() == "signal" and len(key) == 1 and key in "0123456789*#":
            keys.append(Dtmf(call_id, key))
    return keys


def _with_direction(sdp: str, direction: str, version: int) -> str:
    """Our answer SDP again with a new direction attribute and a higher o= version."""
    lines = []
    for line in sdp.split("\r\n"):
        if line.startswith("o="):
            parts = line.split()
            if len(parts) >= 3:
                parts[2] = str(version)
            line = " ".join(parts)
        elif line in ("a=sendrecv", "a=sendonly", "a=recvonly", "a=inactive"):
            line = f"a={direction}"
        lines.append(line)
    return "\r\n".join(lines)


def _tag() -> str:
    return f"{random.getrandbits(64):016x}"
