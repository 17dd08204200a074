"""One outbound call (the node as UAC) as a state machine: INVITE client transaction + dialog.

``OutboundCall`` moves CALLING (INVITE sent, Timer A resends it) → PROCEEDING (100) → RINGING
(180/183) → CONFIRMED (2xx ACKed; dialog from the 2xx, Record-Route honoured) → ENDED, only
through ``_set_state`` (which logs). On the way it may be CANCELLING (ring timeout or the
caller's cancel: CANCEL sent, the 487 awaited; a 200 that crosses the CANCEL is ACKed and ended
with a BYE). A 2xx of a second fork (another To-tag: two phones answered) is ACKed and ended
with a BYE in its own dialog; the call stays with the first. Non-2xx finals are ACKed inside the
transaction; one 401/407 is answered with digest. Each method takes the clock and returns
actions (``Send``, ``StartMedia``, ``Dtmf``, ``CallOver`` of ``ivr.sip.dialog`` plus
``Ringing`` and ``DialDone``); nothing here owns a socket.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from enum import Enum

from ivr.outbound import DialOutcome, outcome_for_status
from ivr.sip import digest
from ivr.sip import message as sipmsg
from ivr.sip.dialog import (
    Action,
    CallOver,
    DialDone,
    Dialog,
    LocalParty,
    MoveMedia,
    Ringing,
    StartMedia,
)
from ivr.sip.message import SipRequest, SipResponse, SipSyntaxError
from ivr.sip.reinvite import ReInvite, build_in_dialog, build_offer
from ivr.sip.sdp import parse_sdp
from ivr.sip.transaction import TIMER_H, Retransmit, Send

log = logging.getLogger(__name__)


class OutState(Enum):
    CALLING = "calling"
    PROCEEDING = "proceeding"
    RINGING = "ringing"
    CANCELLING = "cancelling"
    CONFIRMED = "confirmed"
    ENDED = "ended"


_EARLY = (OutState.CALLING, OutState.PROCEEDING, OutState.RINGING)


@dataclass
class OutboundCall:
    """INVITE ``request_uri`` via ``proxy``, offering G.711 + telephone-event on ``media_port``."""

    request_uri: str
    proxy: tuple[str, int]
    local: LocalParty
    caller_id: str
    media_port: int
    session_id: int
    ring_timeout: float
    credentials: tuple[str, str] | None = None  # (user, password) for a 401/407
    call_id: str = field(default_factory=lambda: f"{uuid.uuid4().hex}@hotline1567")
    local_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    state: OutState = OutState.CALLING
    end_reason: str | None = None
    outcome: DialOutcome | None = None
    status: int | None = None
    dialog: Dialog | None = None
    offer_sdp: str = ""

    def __post_init__(self) -> None:
        self.cseq = 1  # the INVITE's (a second INVITE after a digest challenge: 2)
        self._dialog_cseq = 1  # BYE and re-INVITEs count on from the INVITE's
        self.started = 0.0
        self.ringing = False
        self.cancel_outcome: DialOutcome | None = None  # set once we decide to CANCEL
        self.invite: SipRequest | None = None
        self.retransmit: Retransmit | None = None  # INVITE (Timer A/B), then the CANCEL (E/F)
        self.cancel_started: float | None = None
        self.ack: Send | None = None  # repeated for a retransmitted final response
        self.bye: Retransmit | None = None
        self.reinvite: ReInvite | None = None
        self._others: dict[str, Send] = {}  # To-tag -> ACK of a 2xx we do not keep (§13.2.2.4)
        self._other_byes: dict[int, Retransmit] = {}  # CSeq -> the BYE ending that dialog
        self._authenticated = False
        self.from_value = f"<sip:{self.caller_id}@{self.local.address}>;tag={self.local_tag}"
        self.to_value = f"<{self.request_uri}>"
        self.offer_sdp = build_offer(self.session_id, self.local.address, self.media_port)

    def _set_state(self, state: OutState, why: str) -> None:
        log.debug("SIP out %s: %s -> %s (%s)", self.call_id, self.state.value, state.value, why)
        self.state = state

    # ------------------------------------------------------------------ requests we send
    def _branch(self) -> str:
        return f"z9hG4bK{uuid.uuid4().hex[:20]}"

    def _request(
        self, method: str, branch: str, cseq: int, extra: list[tuple[str, str]], body: str = ""
    ) -> SipRequest:
        encoded = body.encode()
        headers = [
            ("Via", f"SIP/2.0/UDP {self.local.address}:{self.local.port};branch={branch};rport"),
            ("Max-Forwards", "70"),
            ("From", self.from_value),
            ("To", self.to_value),
            ("Call-ID", self.call_id),
            ("CSeq", f"{cseq} {method}"),
            *extra,
            ("User-Agent", sipmsg.USER_AGENT),
        ]
        if encoded:
            headers.append(("Content-Type", "application/sdp"))
        headers.append(("Content-Length", str(len(encoded))))
        return SipRequest(method, self.request_uri, headers, encoded)

    def start(self, now: float, auth: tuple[str, str] | None = None) -> list[Action]:
        """Send (or, after a challenge, resend with ``auth`` header) the INVITE."""
        if self.invite is None:
            self.started = now
        extra = [self.local.contact, ("Allow", sipmsg.ALLOW)] + ([auth] if auth else [])
        self.invite = self._request("INVITE", self._branch(), self.cseq, extra, self.offer_sdp)
        self.retransmit = Retransmit.start(Send(bytes(self.invite), self.proxy), now)
        return [self.retransmit.send]

    def _cancel_request(self) -> Send:
        assert self.invite is not None
        via = self.invite.get("via") or ""
        request = SipRequest(
            "CANCEL",
            self.request_uri,
            [
                ("Via", via),
                ("Max-Forwards", "70"),
                ("From", self.from_value),
                ("To", self.to_value),
                ("Call-ID", self.call_id),
                ("CSeq", f"{self.cseq} CANCEL"),
                ("User-Agent", sipmsg.USER_AGENT),
                ("Content-Length", "0"),
            ],
        )
        return Send(bytes(request), self.proxy)

    def _ack_non_2xx(self, response: SipResponse) -> Send:
        """ACK in the INVITE transaction: same branch, the response's To (RFC 3261 §17.1.1.3)."""
        assert self.invite is not None
        request = SipRequest(
            "ACK",
            self.request_uri,
            [
                ("Via", self.invite.get("via") or ""),
                ("Max-Forwards", "70"),
                ("From", self.from_value),
                ("To", response.get("to") or self.to_value),
                ("Call-ID", self.call_id),
                ("CSeq", f"{self.cseq} ACK"),
                ("Content-Length", "0"),
            ],
        )
        return Send(bytes(request), self.proxy)

    # ------------------------------------------------------------------ responses
    def on_response(self, response: SipResponse, now: float) -> list[Action]:
        number, method = response.cseq
        if method == "CANCEL":
            if response.status >= 200 and self.state is OutState.CANCELLING:
                self.retransmit = None  # the CANCEL is answered; the 487 is still due
            return []
        if method == "BYE":
            if response.status >= 200 and self._other_byes.pop(number, None) is None:
                self.bye = None
            return []
        if method == "INVITE" and self.reinvite is not None and number == self.reinvite.cseq:
            return list(self.reinvite.on_response(response))
        if method != "INVITE" or number != self.cseq:
            return []
        status = response.status
        if status < 200:
            return self._provisional(status, now)
        if status < 300:
            return self._success(response, now)
        return self._failure(response, now)

    def _provisional(self, status: int, now: float) -> list[Action]:
        if self.state is OutState.CALLING:
            self.retransmit = None  # Timer A stops at a provisional response
            self._set_state(OutState.PROCEEDING, str(status))
        actions: list[Action] = []
        if status in (180, 183) and not self.ringing:
            self.ringing = True
            if self.state is OutState.PROCEEDING:
                self._set_state(OutState.RINGING, str(status))
            actions.append(Ringing(self.call_id))
        if self.cancel_outcome is not None and self.state is not OutState.CANCELLING:
            actions += self._send_cancel(now)  # decided before any provisional (§9.1)
        return actions

    def _success(self, response: SipResponse, now: float) -> list[Action]:
        tag = sipmsg.tag_of(response.get("to") or "")
        if self.dialog is not None and tag != sipmsg.tag_of(self.dialog.remote):
            return self._other_2xx(response, now, "a second fork answered")
        if self.ack is not None and self.dialog is not None:
            return [self.ack]  # a retransmitted 2xx: ACK again
        if self.state is OutState.ENDED:
            return self._other_2xx(response, now, "answered after it ended")
        try:
            self.dialog = dialog_from_2xx(response, self.local_uri, self.local_tag)
            answer = parse_sdp(response.body)
        except SipSyntaxError as exc:
            log.warning("SIP out %s: unusable 2xx (%s); BYE", self.call_id, exc)
            answer = None
            if self.dialog is None:
                return self._finish(DialOutcome.FAILED, response.status, "error")
        self.ack = Send(bytes(self._ack_2xx()), self.dialog.next_hop())
        self.retransmit = None
        actions: list[Action] = [self.ack]
        payload_type = answer.first_of(("PCMU", "PCMA")) if answer is not None else None
        if self.cancel_outcome is not None or answer is None or payload_type is None:
            # The 200 crossed our CANCEL (or brought no usable codec): ACK it, then BYE.
            outcome = self.cancel_outcome or DialOutcome.FAILED
            self._set_state(OutState.CONFIRMED, "2xx after CANCEL / unusable")
            actions += self.hangup("hangup", now)
            self.outcome, self.status = outcome, response.status
            return [*actions, DialDone(self.call_id, outcome, response.status)]
        assert answer is not None
        self._set_state(OutState.CONFIRMED, f"{response.status} ACKed")
        self.outcome, self.status = DialOutcome.ANSWERED, response.status
        event = answer.first_of(("TELEPHONE-EVENT",))
        remote = (answer.address, answer.port)
        return [
            *actions,
            StartMedia(self.call_id, remote, payload_type, event),
            DialDone(self.call_id, DialOutcome.ANSWERED, response.status),
        ]

    def _other_2xx(self, response: SipResponse, now: float, why: str) -> list[Action]:
        """A 2xx that is not our call's dialog: a second fork of the INVITE (another phone of
        the agent, another To-tag), or one after we gave up (Timer B, shutdown). Its dialog is
        ACKed and ended with a BYE at once (RFC 3261 §13.2.2.4); never bridged. Its 2xx again
        (our ACK lost) is ACKed again."""
        tag = sipmsg.tag_of(response.get("to") or "") or ""
        if tag in self._others:
            return [self._others[tag]]
        try:
            dialog = dialog_from_2xx(response, self.local_uri, self.local_tag)
        except SipSyntaxError:
            return []
        ack = build_in_dialog("ACK", dialog, self.cseq, self.local, self._branch())
        cseq = self._next_cseq()
        bye = build_in_dialog("BYE", dialog, cseq, self.local, self._branch())
        self._others[tag] = Send(bytes(ack), dialog.next_hop())
        self._other_byes[cseq] = Retransmit.start(Send(bytes(bye), dialog.next_hop()), now)
        log.info("SIP out %s: %s; ACK and BYE", self.call_id, why)
        return [self._others[tag], self._other_byes[cseq].send]

    def _failure(self, response: SipResponse, now: float) -> list[Action]:
        status = response.status
        ack = self._ack_non_2xx(response)
        if self.state is OutState.ENDED:
            return [ack]  # a retransmitted final response
        if status in (401, 407) and self.credentials and not self._authenticated:
            header = "www-authenticate" if status == 401 else "proxy-authenticate"
            try:
                challenge = digest.parse_challenge(response.get(header) or "")
            except SipSyntaxError as exc:
                log.warning("SIP out %s: unusable %d challenge: %s", self.call_id, status, exc)
            else:
                self._authenticated = True
                self.cseq += 1
                user, password = self.credentials
                value = digest.authorization(challenge, "INVITE", self.request_uri, user, password)
                name = "Authorization" if status == 401 else "Proxy-Authorization"
                return [ack, *self.start(now, (name, value))]
        self.ack = ack
        if self.cancel_outcome is not None and status == 487:
            return [ack, *self._finish(self.cancel_outcome, status, "cancel")]
        outcome = outcome_for_status(status, ringing=self.ringing)
        if outcome is DialOutcome.CANCELLED and self.cancel_outcome is None:
            outcome = DialOutcome.REJECTED  # a 487 we did not ask for
        return [ack, *self._finish(outcome, status, "rejected")]

    def _finish(self, outcome: DialOutcome, status: int | None, reason: str) -> list[Action]:
        self.outcome, self.status, self.end_reason = outcome, status, reason
        self.retransmit = None
        self._set_state(OutState.ENDED, f"{outcome.value} ({status})")
        return [DialDone(self.call_id, outcome, status), CallOver(self.call_id, reason)]

    @property
    def local_uri(self) -> str:
        return re.sub(r";\s*tag=[^;\s]+", "", self.from_value)

    def _ack_2xx(self) -> SipRequest:
        assert self.dialog is not None
        return build_in_dialog("ACK", self.dialog, self.cseq, self.local, self._branch())

    # ------------------------------------------------------------------ our decisions
    def cancel(self, outcome: DialOutcome, now: float) -> list[Action]:
        """Stop ringing: CANCEL now, or as soon as a provisional response allows it."""
        if self.state not in _EARLY or self.cancel_outcome is not None:
            return []
        self.cancel_outcome = outcome
        if self.state is OutState.CALLING:
            return []
        return self._send_cancel(now)

    def _send_cancel(self, now: float) -> list[Action]:
        self._set_state(OutState.CANCELLING, (self.cancel_outcome or DialOutcome.FAILED).value)
        self.cancel_started = now
        self.retransmit = Retransmit.start(self._cancel_request(), now)
        return [self.retransmit.send]

    def hangup(self, reason: str, now: float) -> list[Action]:
        """End the call from our side: BYE if confirmed, CANCEL while it rings."""
        if self.state in _EARLY:
            return self.cancel(DialOutcome.CANCELLED, now)
        if self.state is not OutState.CONFIRMED or self.dialog is None:
            return []
        self.end_reason = reason
        self._set_state(OutState.ENDED, reason)
        request = build_in_dialog("BYE", self.dialog, self._next_cseq(), self.local, self._branch())
        self.bye = Retransmit.start(Send(bytes(request), self.dialog.next_hop()), now)
        return [self.bye.send, CallOver(self.call_id, reason)]

    def shutdown(self, now: float) -> list[Action]:
        """The node stops: BYE, or CANCEL and the dial's end at once (nobody waits for a 487)."""
        if self.state not in _EARLY and self.state is not OutState.CANCELLING:
            return self.hangup("hangup", now)
        actions = self.cancel(self.cancel_outcome or DialOutcome.FAILED, now)
        return [*actions, *self._finish(self.cancel_outcome or DialOutcome.FAILED, None, "hangup")]

    def hold(self, on: bool, now: float) -> list[Action]:
        """re-INVITE sendonly (hold) or sendrecv (resume) to the far end."""
        if self.state is not OutState.CONFIRMED or self.dialog is None:
            return []
        direction = "sendonly" if on else "sendrecv"
        self.session_id += 1
        sdp = build_offer(self.session_id, self.local.address, self.media_port, direction)
        self.reinvite = ReInvite.start(self.dialog, self.local, self._next_cseq(), sdp, now)
        return [self.reinvite.retransmit.send]

    def _next_cseq(self) -> int:
        self._dialog_cseq = max(self._dialog_cseq, self.cseq) + 1
        return self._dialog_cseq

    # ------------------------------------------------------------------ requests from the far end
    def on_request(self, request: SipRequest, source: tuple[str, int], now: float) -> list[Action]:
        method = request.method
        if method == "ACK":
            return []
        if method == "BYE":
            ok = _reply(request, source, 200, "OK")
            other = sipmsg.tag_of(request.get("from") or "") in self._others
            if self.state is OutState.ENDED or other:  # over, or the other fork's dialog
                return [ok]
            self.end_reason = "bye"
            self._set_state(OutState.ENDED, "BYE")
            return [ok, CallOver(self.call_id, "bye")]
        if method == "INVITE" and self.dialog is not None:  # re-INVITE from the far end
            actions: list[Action] = []
            try:
                offer = parse_sdp(request.body)
                actions.append(MoveMedia(self.call_id, (offer.address, offer.port)))
            except SipSyntaxError:
                pass
            extra = [self.local.contact]
            answer = sipmsg.build_response(request, 200, "OK", extra=extra, body=self.offer_sdp)
            return [Send(bytes(answer), source), *actions]
        if method in ("OPTIONS", "INFO", "UPDATE"):
            return [_reply(request, source, 200, "OK")]
        return [_reply(request, source, 405, "Method Not Allowed")]

    # ------------------------------------------------------------------ timers
    def tick(self, now: float) -> list[Action]:
        actions: list[Action] = []
        if self.reinvite is not None:
            actions += self.reinvite.tick(now)
        if self.bye is not None:
            if self.bye.expired(now):
                self.bye = None
            elif self.bye.due(now):
                actions.append(self.bye.send)
        for cseq, bye in list(self._other_byes.items()):
            if bye.expired(now):
                del self._other_byes[cseq]
            elif bye.due(now):
                actions.append(bye.send)
        if self.state in _EARLY and now - self.started >= self.ring_timeout:
            actions += self.cancel(DialOutcome.NO_ANSWER, now)
        cancelled_at = self.cancel_started
        late = cancelled_at is not None and now - cancelled_at >= TIMER_H  # no 487 ever came
        if self.state is OutState.CANCELLING and late:
            outcome = self.cancel_outcome or DialOutcome.NO_ANSWER
            return [*actions, *self._finish(outcome, None, "cancel")]
        retransmit = self.retransmit
        if retransmit is not None and self.state in (OutState.CALLING, OutState.CANCELLING):
            if retransmit.expired(now):
                if self.state is OutState.CALLING:  # Timer B: nobody answered the INVITE
                    return [*actions, *self._finish(DialOutcome.UNREACHABLE, None, "timeout")]
                self.retransmit = None
            elif retransmit.due(now):
                actions.append(retransmit.send)
        return actions


def dialog_from_2xx(response: SipResponse, local_uri: str, local_tag: str) -> Dialog:
    """The UAC's dialog: remote target from the Contact, route set = Record-Route reversed."""
    contacts = response.values("contact")
    if not contacts or not response.get("to"):
        raise SipSyntaxError("2xx without Contact or To")
    return Dialog(
        call_id=response.call_id,
        local_tag=local_tag,
        local_uri=local_uri,
        remote=response.get("to") or "",
        remote_target=sipmsg.name_addr_uri(contacts[0]),
        route_set=list(reversed(response.values("record-route"))),
    )


def _reply(request: SipRequest, source: tuple[str, int], status: int, reason: str) -> Send:
    return Send(bytes(sipmsg.build_response(request, status, reason)), source)
