"""The outbound SIP core without a socket: whole dials driven through ``UserAgent`` by hand."""

from __future__ import annotations

import pytest

from ivr.outbound import BadTarget, DialOutcome, outcome_for_status, parse_target
from ivr.sip import digest
from ivr.sip import message as m
from ivr.sip.dialog import CallOver, DialDone, LocalParty, MoveMedia, Ringing, StartMedia
from ivr.sip.transaction import T1, TIMER_H, Send
from ivr.sip.uac import OutboundCall, OutState
from ivr.sip.uas import Admission, UserAgent

PROXY = ("127.0.0.1", 5060)
LOCAL = LocalParty("ivr1", "127.0.0.1", 5062)
ANSWER_SDP = (
    "v=0\r\no=- 1 1 IN IP4 10.0.0.7\r\ns=-\r\nc=IN IP4 10.0.0.7\r\nt=0 0\r\n"
    "m=audio 7000 RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def agent() -> UserAgent:
    return UserAgent(LOCAL, Admission(10, frozenset({"1567"}), frozenset({"127.0.0.1"})))


def outbound(ring_timeout: float = 20.0, credentials: tuple[str, str] | None = None):
    return OutboundCall(
        request_uri="sip:alice@127.0.0.1:5060",
        proxy=PROXY,
        local=LOCAL,
        caller_id="1567",
        media_port=12000,
        session_id=5,
        ring_timeout=ring_timeout,
        credentials=credentials,
    )


def sent(actions: list) -> list[m.SipMessage]:
    return [m.parse(a.data) for a in actions if isinstance(a, Send)]


def datagrams(actions: list) -> list[bytes]:
    return [a.data for a in actions if isinstance(a, Send)]


def requests(actions: list) -> list[m.SipRequest]:
    return [msg for msg in sent(actions) if isinstance(msg, m.SipRequest)]


def response(
    invite: m.SipRequest,
    status: int,
    reason: str = "X",
    *,
    to_tag: str | None = "phone",
    body: str = "",
    record_route: bool = True,
    extra: list[tuple[str, str]] | None = None,
) -> bytes:
    headers = [
        *invite.lines("via"),
        *invite.lines("from"),
        ("To", (invite.get("to") or "") + (f";tag={to_tag}" if to_tag else "")),
        *invite.lines("call-id"),
        *invite.lines("cseq"),
        *(
            [("Record-Route", "<sip:127.0.0.1:5060;lr>")]
            if record_route and 100 < status < 300
            else []
        ),
        ("Contact", "<sip:alice@10.0.0.7:5070>"),
        *(extra or []),
        ("Content-Length", str(len(body.encode()))),
    ]
    return bytes(m.SipResponse(status, reason, headers, body.encode()))


def start(ua: UserAgent, call: OutboundCall, now: float = 0.0) -> m.SipRequest:
    (invite,) = requests(ua.dial(call, now))
    return invite


def test_invite_offers_g711_and_events_and_answer_is_acked_along_the_record_route():
    ua, call = agent(), outbound()
    invite = start(ua, call)
    assert invite.method == "INVITE" and invite.uri == "sip:alice@127.0.0.1:5060"
    assert m.tag_of(invite.get("from") or "") == call.local_tag
    assert m.uri_user(m.name_addr_uri(invite.get("from") or "")) == "1567"
    assert invite.get("contact") == "<sip:ivr1@127.0.0.1:5062>"
    assert b"m=audio 12000 RTP/AVP 0 8 101\r\n" in invite.body
    assert b"a=rtpmap:101 telephone-event/8000" in invite.body
    assert ua.receive(response(invite, 100, to_tag=None), PROXY, 0.05) == []
    assert call.state is OutState.PROCEEDING
    assert ua.receive(response(invite, 180), PROXY, 0.1) == [Ringing(call.call_id)]
    assert ua.receive(response(invite, 183), PROXY, 0.15) == []  # told once
    actions = ua.receive(response(invite, 200, body=ANSWER_SDP), PROXY, 1.0)
    (ack,) = requests(actions)
    assert ack.method == "ACK" and ack.uri == "sip:alice@10.0.0.7:5070"
    assert ack.get("route") == "<sip:127.0.0.1:5060;lr>"
    assert ack.cseq == (1, "ACK") and m.tag_of(ack.get("to") or "") == "phone"
    assert actions[0].destination == ("127.0.0.1", 5060)  # the loose route, not the Contact
    assert StartMedia(call.call_id, ("10.0.0.7", 7000), 8, 101) in actions
    assert DialDone(call.call_id, DialOutcome.ANSWERED, 200) in actions
    assert call.state is OutState.CONFIRMED
    # A retransmitted 200 gets the same ACK again, and nothing else.
    again = ua.receive(response(invite, 200, body=ANSWER_SDP), PROXY, 1.5)
    assert [bytes(a.data) for a in again] == [actions[0].data]


def test_bye_from_the_phone_and_bye_from_us():
    ua, call = agent(), outbound()
    invite = start(ua, call)
    ua.receive(response(invite, 200, body=ANSWER_SDP), PROXY, 0.5)
    bye = (
        "BYE sip:ivr1@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKb\r\n"
        f"From: {invite.get('to')};tag=phone\r\nTo: {invite.get('from')}\r\n"
        f"Call-ID: {call.call_id}\r\nCSeq: 7 BYE\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    actions = ua.receive(bye, PROXY, 2.0)
    assert [r.status for r in sent(actions)] == [200]  # type: ignore[attr-defined]
    assert CallOver(call.call_id, "bye") in actions
    assert ua.hangup(call.call_id, "hangup", 2.1) == []  # already over

    ua, call = agent(), outbound()
    invite = start(ua, call)
    ua.receive(response(invite, 200, body=ANSWER_SDP), PROXY, 0.5)
    actions = ua.hangup(call.call_id, "hangup", 3.0)
    (our_bye,) = requests(actions)
    assert our_bye.method == "BYE" and our_bye.get("route") == "<sip:127.0.0.1:5060;lr>"
    assert our_bye.cseq == (2, "BYE") and CallOver(call.call_id, "hangup") in actions
    assert datagrams(ua.tick(3.0 + T1)) == [bytes(our_bye)]
    bye_ok = response(our_bye, 200)
    ua.receive(bye_ok, PROXY, 3.6)
    assert requests(ua.tick(10.0)) == []  # answered: no more retransmissions


@pytest.mark.parametrize(
    "status,ringing,outcome",
    [
        (486, True, DialOutcome.BUSY),
        (603, True, DialOutcome.REJECTED),
        (404, False, DialOutcome.UNREACHABLE),
        (480, False, DialOutcome.UNREACHABLE),
        (480, True, DialOutcome.NO_ANSWER),
        (503, False, DialOutcome.UNREACHABLE),
    ],
)
def test_a_refusal_is_acked_in_the_transaction(status, ringing, outcome):
    ua, call = agent(), outbound()
    invite = start(ua, call)
    if ringing:
        ua.receive(response(invite, 180), PROXY, 0.1)
    actions = ua.receive(response(invite, status), PROXY, 0.5)
    (ack,) = requests(actions)
    assert ack.method == "ACK" and ack.get("via") == invite.get("via")  # same branch
    assert ack.uri == invite.uri and m.tag_of(ack.get("to") or "") == "phone"
    assert DialDone(call.call_id, outcome, status) in actions
    assert CallOver(call.call_id, "rejected") in actions
    # The retransmitted final response is ACKed again; the dial is not reported twice.
    again = ua.receive(response(invite, status), PROXY, 0.6)
    assert [r.method for r in requests(again)] == ["ACK"] and len(again) == 1


def test_timer_a_resends_until_a_provisional_and_timer_b_gives_up():
    ua, call = agent(), outbound(ring_timeout=100)
    invite = start(ua, call)
    assert datagrams(ua.tick(T1)) == [bytes(invite)]  # Timer A
    assert requests(ua.tick(T1 + 0.1)) == []
    assert datagrams(ua.tick(3 * T1)) == [bytes(invite)]  # doubled
    actions = ua.tick(TIMER_H)
    assert DialDone(call.call_id, DialOutcome.UNREACHABLE, None) in actions  # Timer B

    ua, call = agent(), outbound(ring_timeout=100)
    invite = start(ua, call)
    ua.receive(response(invite, 100, to_tag=None), PROXY, 0.1)
    assert requests(ua.tick(T1)) == [] and requests(ua.tick(5.0)) == []


def test_ring_timeout_cancels_and_the_487_ends_it_as_no_answer():
    ua, call = agent(), outbound(ring_timeout=5)
    invite = start(ua, call)
    ua.receive(response(invite, 180), PROXY, 0.1)
    assert ua.tick(4.9) == []
    (cancel,) = requests(ua.tick(5.0))
    assert cancel.method == "CANCEL" and cancel.uri == invite.uri
    assert cancel.get("via") == invite.get("via") and cancel.cseq == (1, "CANCEL")
    assert m.tag_of(cancel.get("to") or "") is None
    assert datagrams(ua.tick(5.0 + T1)) == [bytes(cancel)]  # resent until its 200
    assert ua.receive(response(cancel, 200), PROXY, 5.6) == []
    assert requests(ua.tick(7.0)) == []
    actions = ua.receive(response(invite, 487), PROXY, 5.7)
    assert [r.method for r in requests(actions)] == ["ACK"]
    assert DialDone(call.call_id, DialOutcome.NO_ANSWER, 487) in actions


def test_cancel_before_any_provisional_waits_for_one():
    ua, call = agent(), outbound()
    invite = start(ua, call)
    assert call.cancel(DialOutcome.CANCELLED, 0.1) == []  # no CANCEL before a 1xx (§9.1)
    actions = ua.receive(response(invite, 100, to_tag=None), PROXY, 0.2)
    assert [r.method for r in requests(actions)] == ["CANCEL"]
    actions = ua.receive(response(invite, 487), PROXY, 0.3)
    assert DialDone(call.call_id, DialOutcome.CANCELLED, 487) in actions


def test_a_200_that_crosses_the_cancel_is_acked_and_ended_with_a_bye():
    ua, call = agent(), outbound()
    invite = start(ua, call)
    ua.receive(response(invite, 180), PROXY, 0.1)
    requests(call.cancel(DialOutcome.CANCELLED, 0.2))
    actions = ua.receive(response(invite, 200, body=ANSWER_SDP), PROXY, 0.3)
    assert [r.method for r in requests(actions)] == ["ACK", "BYE"]
    assert DialDone(call.call_id, DialOutcome.CANCELLED, 200) in actions
    assert not any(isinstance(a, StartMedia) for a in actions)


def test_a_407_is_answered_once_with_digest():
    ua, call = agent(), outbound(credentials=("ivr1", "secret-pw"))
    invite = start(ua, call)
    challenge = 'Digest realm="hotline1567", nonce="abc123", qop="auth"'
    actions = ua.receive(
        response(invite, 407, extra=[("Proxy-Authenticate", challenge)]), PROXY, 0.1
    )
    ack, second = requests(actions)
    assert ack.method == "ACK" and second.method == "INVITE"
    assert second.cseq == (2, "INVITE") and second.get("via") != invite.get("via")
    value = second.get("proxy-authorization") or ""
    params = digest.parse_challenge(value.replace("Digest", "Digest", 1))
    assert params["username"] == "ivr1" and params["uri"] == invite.uri
    expected = digest.authorization(
        digest.parse_challenge(challenge),
        "INVITE",
        invite.uri,
        "ivr1",
        "secret-pw",
        cnonce=params["cnonce"],
    )
    assert value == expected
    again = ua.receive(response(second, 407, extra=[("Proxy-Authenticate", challenge)]), PROXY, 0.2)
    assert DialDone(call.call_id, DialOutcome.REJECTED, 407) in again  # not a second time


def test_hold_reinvites_sendonly_then_sendrecv_and_acks_the_200():
    ua, call = agent(), outbound()
    invite = start(ua, call)
    ua.receive(response(invite, 200, body=ANSWER_SDP), PROXY, 0.5)
    (hold,) = requests(ua.hold(call.call_id, True, 1.0))
    assert hold.method == "INVITE" and hold.cseq == (2, "INVITE")
    assert m.tag_of(hold.get("to") or "") == "phone" and b"a=sendonly" in hold.body
    assert datagrams(ua.tick(1.0 + T1)) == [bytes(hold)]
    (ack,) = requests(ua.receive(response(hold, 200, body=ANSWER_SDP), PROXY, 1.6))
    assert ack.method == "ACK" and ack.cseq == (2, "ACK")
    assert requests(ua.tick(5.0)) == []
    (resume,) = requests(ua.hold(call.call_id, False, 6.0))
    assert resume.cseq == (3, "INVITE") and b"a=sendrecv" in resume.body
    (bye,) = requests(ua.hangup(call.call_id, "hangup", 7.0))
    assert bye.cseq == (4, "BYE")


def test_a_reinvite_from_the_phone_moves_the_media():
    ua, call = agent(), outbound()
    invite = start(ua, call)
    ua.receive(response(invite, 200, body=ANSWER_SDP), PROXY, 0.5)
    moved = ANSWER_SDP.replace("7000", "7002")
    reinvite = (
        "INVITE sip:ivr1@127.0.0.1:5062 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKr\r\n"
        f"From: {invite.get('to')};tag=phone\r\nTo: {invite.get('from')}\r\n"
        f"Call-ID: {call.call_id}\r\nCSeq: 8 INVITE\r\nContent-Type: application/sdp\r\n"
        f"Content-Length: {len(moved)}\r\n\r\n{moved}"
    ).encode()
    actions = ua.receive(reinvite, PROXY, 2.0)
    assert [r.status for r in sent(actions)] == [200]  # type: ignore[attr-defined]
    assert MoveMedia(call.call_id, ("10.0.0.7", 7002)) in actions


def test_shutdown_ends_a_ringing_dial_at_once():
    ua, call = agent(), outbound()
    invite = start(ua, call)
    ua.receive(response(invite, 180), PROXY, 0.1)
    actions = ua.shutdown(0.5)
    assert [r.method for r in requests(actions)] == ["CANCEL"]
    assert DialDone(call.call_id, DialOutcome.FAILED, None) in actions
    assert ua.outbound_active == 0
    # The phone answers anyway: ACKed and ended with a BYE, and no second outcome.
    late = ua.receive(response(invite, 200, body=ANSWER_SDP), PROXY, 0.6)
    assert [r.method for r in requests(late)] == ["ACK", "BYE"] and len(late) == 2


def test_targets_and_statuses():
    assert parse_target("agent:alice") == ("agent", "alice")
    assert parse_target("tel:+66812345678") == ("tel", "+66812345678")
    for bad in ("alice", "agent:", "tel:08-12", "agent:a b", "tel:"):
        with pytest.raises(BadTarget):
            parse_target(bad)
    assert outcome_for_status(600, ringing=False) is DialOutcome.BUSY
    assert outcome_for_status(408, ringing=True) is DialOutcome.NO_ANSWER


def test_hold_of_an_inbound_caller_reinvites_within_the_callers_dialog():
    from .test_uas import SDP, request, ringing

    ua = agent()
    tag = ringing(ua)
    ua.answer("call-1", 0.2)
    ua.receive(request("ACK", to_tag=tag), PROXY, 0.3)
    (hold,) = requests(ua.hold("call-1", True, 1.0))
    assert hold.method == "INVITE" and hold.uri == "sip:0812345678@10.0.0.9:5070"
    assert hold.get("route") == "<sip:127.0.0.1:5060;lr>"
    assert m.tag_of(hold.get("from") or "") == tag and m.tag_of(hold.get("to") or "") == "caller"
    assert b"a=sendonly" in hold.body and b"m=audio 10000 RTP/AVP 0 101" in hold.body
    (ack,) = requests(ua.receive(response(hold, 200, to_tag=None, body=SDP), PROXY, 1.1))
    assert ack.method == "ACK" and ack.cseq == (hold.cseq[0], "ACK")
    (bye,) = requests(ua.hangup("call-1", "hangup", 2.0))
    assert bye.cseq[0] > hold.cseq[0]


def test_a_second_fork_that_answers_is_acked_then_byed_and_the_call_stays_with_the_first():
    """Two phones of one agent answer the forked INVITE (RFC 3261 §13.2.2.4): the first 200 is
    the dialog; the second, another To-tag, is ACKed in its own dialog and ended with a BYE at
    once; nothing of it reaches the media, and its BYE exchange does not touch the first."""
    ua, call = agent(), outbound()
    invite = start(ua, call)
    first = ua.receive(response(invite, 200, to_tag="desk", body=ANSWER_SDP), PROXY, 0.5)
    assert DialDone(call.call_id, DialOutcome.ANSWERED, 200) in first
    other_sdp = ANSWER_SDP.replace("10.0.0.7", "10.0.0.9").replace("7000", "7002")
    second = response(invite, 200, to_tag="soft", body=other_sdp,
                      extra=[("Contact", "<sip:alice@10.0.0.9:5080>")])  # fmt: skip
    second = second.replace(b"Contact: <sip:alice@10.0.0.7:5070>\r\n", b"", 1)
    actions = ua.receive(second, PROXY, 0.6)
    ack, bye = requests(actions)
    assert (ack.method, bye.method) == ("ACK", "BYE")
    for request in (ack, bye):  # in the second fork's dialog, along its Record-Route
        assert m.tag_of(request.get("to") or "") == "soft"
        assert request.uri == "sip:alice@10.0.0.9:5080"
        assert request.get("route") == "<sip:127.0.0.1:5060;lr>"
    assert ack.cseq == (1, "ACK") and bye.cseq[1] == "BYE" and bye.cseq[0] > 1
    assert not any(isinstance(a, (StartMedia, DialDone, CallOver, MoveMedia)) for a in actions)
    assert call.state is OutState.CONFIRMED and m.tag_of(call.dialog.remote) == "desk"
    # the second 200 again (our ACK lost): ACKed again, no second BYE
    again = requests(ua.receive(second, PROXY, 0.7))
    assert [r.method for r in again] == ["ACK"] and bytes(again[0]) == bytes(ack)
    # its BYE is resent until answered; the answer does not stop the first dialog's BYE
    assert datagrams(ua.tick(0.6 + T1)) == [bytes(bye)]
    ua.receive(response(bye, 200, to_tag=None), PROXY, 1.2)
    assert requests(ua.tick(5.0)) == []
    # the second phone's own BYE is answered, and the call goes on with the first
    fork_bye = (
        "BYE sip:ivr1@127.0.0.1:5062 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKf\r\n"
        f"From: {invite.get('to')};tag=soft\r\nTo: {invite.get('from')}\r\n"
        f"Call-ID: {call.call_id}\r\nCSeq: 9 BYE\r\nContent-Length: 0\r\n\r\n"
    ).encode()
    answered = ua.receive(fork_bye, PROXY, 5.1)
    assert [r.status for r in sent(answered)] == [200]  # type: ignore[attr-defined]
    assert not any(isinstance(a, CallOver) for a in answered)
    assert call.state is OutState.CONFIRMED
    (our_bye,) = requests(ua.hangup(call.call_id, "hangup", 6.0))  # the first: ours to end
    assert m.tag_of(our_bye.get("to") or "") == "desk"
    assert datagrams(ua.tick(6.0 + T1)) == [bytes(our_bye)]  # still resent: not confused
