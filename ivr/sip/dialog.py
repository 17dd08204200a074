"""One inbound call as a state machine: the INVITE server transaction and the dialog after it.

``Call`` moves OFFERED (100 Trying sent, media port being allocated) → RINGING (180) → ANSWERED
(200 OK resent until the ACK) → CONFIRMED → ENDED, only through ``_set_state`` (which logs). Each
method takes the clock and returns what to send and what the media side must do; the node applies
them. An answered call whose ACK never comes is ended at Timer H with a BYE (RFC 3261 §13.3.1.4),
so a caller (or a flood) that never ACKs cannot hold a slot.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass, field
from enum import Enum

from ivr.outbound import DialOutcome
from ivr.sip import message as sipmsg
from ivr.sip.message import SipRequest, SipSyntaxError
from ivr.sip.sdp import SdpOffer, build_sdp
from ivr.sip.transaction import Retransmit, Send

log = logging.getLogger(__name__)

# Why a call ended (CallChannel.end_reason): ours end with a BYE, the caller's without.
OUR_HANGUPS = ("hangup", "rtp_timeout", "error", "no_ack")


@dataclass(frozen=True)
class Dialog:
    """What the UAS needs to send in-dialog requests (BYE) after answering an INVITE."""

    call_id: str
    local_tag: str
    local_uri: str  # the To value of the INVITE, without tag
    remote: str  # the From value of the INVITE, with its tag
    remote_target: str  # Contact URI of the caller
    route_set: list[str] = field(default_factory=list)  # Record-Route values, in order (UAS)

    def next_hop(self) -> tuple[str, int]:
        """The first Route if any (loose routing through the proxy), else the caller's Contact."""
        target = sipmsg.name_addr_uri(self.route_set[0]) if self.route_set else self.remote_target
        return sipmsg.uri_host_port(target)


def dialog_from_invite(invite: SipRequest, local_tag: str) -> Dialog:
    for needed in ("call-id", "from", "to", "contact"):
        if invite.get(needed) is None:
            raise SipSyntaxError(f"INVITE has no {needed} header")
    to_value = re.sub(r";\s*tag=[^;\s]+", "", invite.get("to") or "", flags=re.IGNORECASE)
    return Dialog(
        call_id=invite.call_id,
        local_tag=local_tag,
        local_uri=to_value,
        remote=invite.get("from") or "",
        remote_target=sipmsg.name_addr_uri(invite.values("contact")[0]),
        route_set=invite.values("record-route"),
    )


def build_bye(dialog: Dialog, cseq: int, via_host: str, via_port: int, branch: str) -> SipRequest:
    headers = [
        ("Via", f"SIP/2.0/UDP {via_host}:{via_port};branch={branch};rport"),
        ("Max-Forwards", "70"),
        *[("Route", route) for route in dialog.route_set],
        ("From", f"{dialog.local_uri};tag={dialog.local_tag}"),
        ("To", dialog.remote),
        ("Call-ID", dialog.call_id),
        ("CSeq", f"{cseq} BYE"),
        ("User-Agent", sipmsg.USER_AGENT),
        ("Content-Length", "0"),
    ]
    return SipRequest("BYE", dialog.remote_target, headers)


# ------------------------------------------------------------------ what the media side must do
@dataclass(frozen=True)
class Offered:
    """A new call needs an RTP port: the node allocates one, then ``accept`` or ``refuse``."""

    call_id: str
    caller: str | None


@dataclass(frozen=True)
class StartMedia:
    call_id: str
    remote: tuple[str, int]
    payload_type: int
    event_payload_type: int | None


@dataclass(frozen=True)
class MoveMedia:
    """A re-INVITE moved the caller's media."""

    call_id: str
    remote: tuple[str, int]


@dataclass(frozen=True)
class Dtmf:
    """A key sent as SIP INFO."""

    call_id: str
    key: str


@dataclass(frozen=True)
class CallOver:
    """The call is over: end the channel, free the RTP port."""

    call_id: str
    reason: str


@dataclass(frozen=True)
class Ringing:
    """The first 180/183 of an outbound call (``ivr.sip.uac``)."""

    call_id: str


@dataclass(frozen=True)
class DialDone:
    """An outbound INVITE's outcome: ANSWERED (media started) or why not."""

    call_id: str
    outcome: DialOutcome
    status: int | None


Action = Send | Offered | StartMedia | MoveMedia | Dtmf | CallOver | Ringing | DialDone


@dataclass(frozen=True)
class LocalParty:
    """Who the node is in its answers: Contact user, advertised address, SIP port."""

    user: str
    address: str
    port: int

    @property
    def contact(self) -> tuple[str, str]:
        return ("Contact", f"<sip:{self.user}@{self.address}:{self.port}>")


class CallState(Enum):
    OFFERED = "offered"
    RINGING = "ringing"
    ANSWERED = "answered"
    CONFIRMED = "confirmed"
    ENDED = "ended"


@dataclass
class Call:
    invite: SipRequest
    source: tuple[str, int]
    local: LocalParty
    offer: SdpOffer
    payload_type: int
    caller: str | None
    local_tag: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    state: CallState = CallState.OFFERED
    end_reason: str | None = None
    answer_sdp: str = ""
    last_response: Send | None = None  # repeated for a retransmitted INVITE
    ok: Retransmit | None = None  # our 200 OK until the ACK
    bye: Retransmit | None = None  # our BYE until its answer

    def __post_init__(self) -> None:
        self.call_id = self.invite.call_id
        self.invite_cseq = self.invite.cseq[0]
        self.local_cseq = self.invite_cseq  # our in-dialog requests (re-INVITE, BYE) count on
        self.event_payload_type = self.offer.first_of(("TELEPHONE-EVENT",))
        self.dialog = dialog_from_invite(self.invite, self.local_tag)

    def _set_state(self, state: CallState, why: str) -> None:
        log.debug("SIP call %s: %s -> %s (%s)", self.call_id, self.state.value, state.value, why)
        self.state = state

    def respond(
        self,
        status: int,
        reason: str,
        extra: list[tuple[str, str]] | None = None,
        body: str = "",
    ) -> Send:
        response = sipmsg.build_response(
            self.invite, status, reason, to_tag=self.local_tag, extra=extra, body=body
        )
        self.last_response = Send(bytes(response), self.source)
        return self.last_response

    def trying(self) -> Send:
        response = sipmsg.build_response(self.invite, 100, "Trying")
        self.last_response = Send(bytes(response), self.source)
        return self.last_response

    def ring(self, media_port: int, session_id: int) -> list[Action]:
        self.answer_sdp = build_sdp(
            session_id, self.local.address, media_port, self.payload_type, self.event_payload_type
        )
        self._set_state(CallState.RINGING, f"RTP port {media_port}")
        return [self.respond(180, "Ringing", extra=[self.local.contact])]

    def answer(self, now: float) -> list[Action]:
        if self.state is not CallState.RINGING:
            return []
        ok = self.respond(
            200,
            "OK",
            extra=[self.local.contact, ("Allow", sipmsg.ALLOW)],
            body=self.answer_sdp,
        )
        self.ok = Retransmit.start(ok, now)
        self._set_state(CallState.ANSWERED, "200 OK sent")
        remote = (self.offer.address, self.offer.port)
        return [ok, StartMedia(self.call_id, remote, self.payload_type, self.event_payload_type)]

    def ack(self) -> bool:
        if self.state is not CallState.ANSWERED:
            return False
        self.ok = None
        self._set_state(CallState.CONFIRMED, "ACK")
        return True

    def tick(self, now: float) -> list[Action]:
        """Timer G (resend the 200 OK) and Timer H (no ACK: end the call with a BYE)."""
        if self.state is not CallState.ANSWERED or self.ok is None:
            return []
        if self.ok.expired(now):
            log.warning("SIP call %s: no ACK for 200 OK within Timer H; ending it", self.call_id)
            return self.end("no_ack", now)
        return [self.ok.send] if self.ok.due(now) else []

    def end(self, reason: str, now: float) -> list[Action]:
        """Every way a call ends comes here once: BYE if we end an answered call (kept in
        ``bye`` for retransmission), 480 if we end one not yet answered."""
        if self.state is CallState.ENDED:
            return []
        was = self.state
        self.end_reason = reason
        self.ok = None
        self._set_state(CallState.ENDED, reason)
        actions: list[Action] = []
        if was in (CallState.ANSWERED, CallState.CONFIRMED) and reason in OUR_HANGUPS:
            self.bye = Retransmit.start(self._bye(), now)
            actions.append(self.bye.send)
        elif was in (CallState.OFFERED, CallState.RINGING) and reason in OUR_HANGUPS:
            actions.append(self.respond(480, "Temporarily Unavailable"))
        actions.append(CallOver(self.call_id, reason))
        return actions

    def _bye(self) -> Send:
        branch = f"z9hG4bK{uuid.uuid4().hex[:20]}"
        request = build_bye(
            self.dialog, self.local_cseq + 1, self.local.address, self.local.port, branch
        )
        try:
            destination = self.dialog.next_hop()
        except SipSyntaxError:
            destination = self.source
        return Send(bytes(request), destination)
