"""In-dialog requests we send (BYE, ACK, re-INVITE for hold) and our SDP offer.

``ReInvite`` is one re-INVITE client transaction in an established dialog (either side's: the
node's inbound calls and its outbound legs alike): resent at Timer A until a response, a 2xx
ACKed end to end, a non-2xx ACKed in the transaction. Used for hold (``a=sendonly``) and resume
(``a=sendrecv``); a refusal (491, 488) leaves the media as it was and is only logged.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from ivr.sip import message as sipmsg
from ivr.sip.dialog import Dialog, LocalParty
from ivr.sip.message import SipRequest, SipResponse
from ivr.sip.transaction import Retransmit, Send

log = logging.getLogger(__name__)

OFFER_PAYLOAD_TYPES = (0, 8)  # PCMU, PCMA, in that order of preference
EVENT_PAYLOAD_TYPE = 101


def build_offer(session_id: int, address: str, port: int, direction: str = "sendrecv") -> str:
    """Our SDP offer: PCMU, PCMA and telephone-event (RFC 4733), 20 ms packets."""
    formats = " ".join(str(pt) for pt in (*OFFER_PAYLOAD_TYPES, EVENT_PAYLOAD_TYPE))
    lines = [
        "v=0",
        f"o=hotline1567 {session_id} {session_id} IN IP4 {address}",
        "s=hotline1567",
        f"c=IN IP4 {address}",
        "t=0 0",
        f"m=audio {port} RTP/AVP {formats}",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        f"a=rtpmap:{EVENT_PAYLOAD_TYPE} telephone-event/8000",
        f"a=fmtp:{EVENT_PAYLOAD_TYPE} 0-15",
        "a=ptime:20",
        f"a={direction}",
    ]
    return "\r\n".join(lines) + "\r\n"


def build_in_dialog(
    method: str,
    dialog: Dialog,
    cseq: int,
    local: LocalParty,
    branch: str,
    body: str = "",
) -> SipRequest:
    """A request inside ``dialog``: R-URI the remote target, Route the route set."""
    encoded = body.encode()
    headers = [
        ("Via", f"SIP/2.0/UDP {local.address}:{local.port};branch={branch};rport"),
        ("Max-Forwards", "70"),
        *[("Route", route) for route in dialog.route_set],
        ("From", f"{dialog.local_uri};tag={dialog.local_tag}"),
        ("To", dialog.remote),
        ("Call-ID", dialog.call_id),
        ("CSeq", f"{cseq} {method}"),
        *([local.contact] if method == "INVITE" else []),
        ("User-Agent", sipmsg.USER_AGENT),
    ]
    if encoded:
        headers.append(("Content-Type", "application/sdp"))
    headers.append(("Content-Length", str(len(encoded))))
    return SipRequest(method, dialog.remote_target, headers, encoded)


def new_branch() -> str:
    return f"z9hG4bK{uuid.uuid4().hex[:20]}"


@dataclass
class ReInvite:
    dialog: Dialog
    local: LocalParty
    cseq: int
    request: SipRequest
    retransmit: Retransmit
    done: bool = False
    status: int | None = None

    @classmethod
    def start(cls, dialog: Dialog, local: LocalParty, cseq: int, sdp: str, now: float) -> ReInvite:
        request = build_in_dialog("INVITE", dialog, cseq, local, new_branch(), sdp)
        send = Send(bytes(request), dialog.next_hop())
        return cls(dialog, local, cseq, request, Retransmit.start(send, now))

    def on_response(self, response: SipResponse) -> list[Send]:
        status = response.status
        if status < 200:
            self.retransmit.next_at = float("inf")  # Timer A stops at a provisional response
            return []
        first = not self.done
        self.done, self.status = True, status
        destination = self.dialog.next_hop()
        if status < 300:
            ack = build_in_dialog("ACK", self.dialog, self.cseq, self.local, new_branch())
        else:
            if first:
                log.warning("re-INVITE in %s refused: %d", self.dialog.call_id, status)
            ack = SipRequest(
                "ACK",
                self.request.uri,
                [
                    *self.request.lines("via"),
                    *[("Route", route) for route in self.dialog.route_set],
                    ("From", self.request.get("from") or ""),
                    ("To", response.get("to") or self.dialog.remote),
                    ("Call-ID", self.dialog.call_id),
                    ("CSeq", f"{self.cseq} ACK"),
                    ("Content-Length", "0"),
                ],
            )
        return [Send(bytes(ack), destination)]

    def tick(self, now: float) -> list[Send]:
        if self.done:
            return []
        if self.retransmit.expired(now):
            self.done = True
            log.warning("re-INVITE in %s: no answer (Timer B)", self.dialog.call_id)
            return []
        return [self.retransmit.send] if self.retransmit.due(now) else []
