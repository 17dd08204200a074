"""The SIP core without a socket: whole calls driven through ``UserAgent`` with a hand-set clock."""

from __future__ import annotations

import pytest

from ivr.sip import message as m
from ivr.sip.dialog import CallOver, CallState, Dtmf, LocalParty, MoveMedia, Offered, StartMedia
from ivr.sip.transaction import T1, TIMER_H, Send
from ivr.sip.uas import Admission, UserAgent

PROXY = ("127.0.0.1", 5060)
SDP = (
    "v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
    "m=audio 6000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n"
)


def request(
    method: str,
    *,
    call_id: str = "call-1",
    cseq: int = 1,
    to_tag: str | None = None,
    body: str = "",
    uri: str = "sip:1567@127.0.0.1:5062",
    extra: str = "",
) -> bytes:
    to = "<sip:1567@127.0.0.1>" + (f";tag={to_tag}" if to_tag else "")
    return (
        f"{method} {uri} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy\r\n"
        "Record-Route: <sip:127.0.0.1:5060;lr>\r\n"
        "From: <sip:0812345678@10.0.0.9>;tag=caller\r\n"
        f"To: {to}\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Contact: <sip:0812345678@10.0.0.9:5070>\r\n"
        f"{extra}"
        f"Content-Length: {len(body.encode())}\r\n\r\n{body}"
    ).encode()


def agent(max_calls: int = 10) -> UserAgent:
    return UserAgent(
        LocalParty("ivr", "127.0.0.1", 5062),
        Admission(max_calls, frozenset({"1567"}), frozenset({"127.0.0.1"})),
    )


def sent(actions: list) -> list[m.SipMessage]:
    return [m.parse(a.data) for a in actions if isinstance(a, Send)]


def statuses(actions: list) -> list[int]:
    return [msg.status for msg in sent(actions) if isinstance(msg, m.SipResponse)]


def ringing(ua: UserAgent, call_id: str = "call-1", now: float = 0.0) -> str:
    """INVITE in, port given: returns the node's To tag."""
    offered = ua.receive(request("INVITE", call_id=call_id, body=SDP), PROXY, now)
    assert statuses(offered) == [100]
    assert offered[1] == Offered(call_id, "0812345678")
    (ring,) = sent(ua.accept(call_id, 10000))
    tag = m.tag_of(ring.get("to") or "")
    assert tag
    return tag


def test_a_whole_call_invite_200_ack_dtmf_bye():
    ua = agent()
    tag = ringing(ua)
    answered = ua.answer("call-1", 0.2)
    (ok,) = sent(answered)
    assert isinstance(ok, m.SipResponse) and ok.status == 200
    assert ok.get("record-route") == "<sip:127.0.0.1:5060;lr>"
    assert ok.get("contact") == "<sip:ivr@127.0.0.1:5062>"
    assert b"m=audio 10000 RTP/AVP 0 101\r\n" in ok.body
    assert answered[1] == StartMedia("call-1", ("10.0.0.9", 6000), 0, 101)
    assert ua.calls["call-1"].state is CallState.ANSWERED
    assert ua.receive(request("ACK", to_tag=tag), PROXY, 0.3) == []
    assert ua.calls["call-1"].state is CallState.CONFIRMED
    assert ua.tick(5.0) == []  # ACKed: the 200 OK is not resent
    info = ua.receive(
        request("INFO", cseq=2, to_tag=tag, body="Signal=5\r\nDuration=160\r\n"), PROXY, 1.0
    )
    assert statuses(info) == [200] and info[1] == Dtmf("call-1", "5")
    bye = ua.receive(request("BYE", cseq=3, to_tag=tag), PROXY, 2.0)
    assert statuses(bye) == [200]
    assert bye[1] == CallOver("call-1", "bye")
    assert ua.calls == {} and ua.answered_total == 1 and ua.acks_received == 1
    late = ua.receive(request("BYE", cseq=3, to_tag=tag), PROXY, 2.5)
    assert statuses(late) == [200]  # a retransmitted BYE is still answered, not 481


def test_cancel_before_the_answer_ends_the_call_with_487():
    ua = agent()
    ringing(ua)
    cancelled = ua.receive(request("CANCEL"), PROXY, 1.0)
    assert statuses(cancelled) == [200, 487]
    assert cancelled[-1] == CallOver("call-1", "cancel")
    assert ua.answer("call-1", 1.1) == []  # the flow's answer comes too late: nothing is sent
    assert statuses(ua.receive(request("INVITE", body=SDP), PROXY, 1.2)) == [487]  # resent
    assert statuses(ua.receive(request("CANCEL", call_id="nope"), PROXY, 1.3)) == [481]


def test_retransmitted_invite_gets_the_last_answer_and_the_200_is_resent_until_ack():
    ua = agent()
    assert statuses(ua.receive(request("INVITE", body=SDP), PROXY, 0.0)) == [100]
    assert statuses(ua.receive(request("INVITE", body=SDP), PROXY, 0.1)) == [100]
    tag = m.tag_of(sent(ua.accept("call-1", 10000))[0].get("to") or "")
    assert statuses(ua.receive(request("INVITE", body=SDP), PROXY, 0.2)) == [180]
    ua.answer("call-1", 1.0)
    assert statuses(ua.receive(request("INVITE", body=SDP), PROXY, 1.1)) == [200]
    resent = [t for t in (1.0 + i * 0.05 for i in range(400)) if statuses(ua.tick(t)) == [200]]
    # Timer G: T1, then doubling up to T2 (0.5, 1, 2, 4, 4 s after each other)
    gaps = [round(b - a, 2) for a, b in zip([1.0, *resent], resent, strict=False)]
    assert gaps[:5] == pytest.approx([T1, 2 * T1, 4 * T1, 8 * T1, 8 * T1], abs=0.06)
    ua.receive(request("ACK", to_tag=tag), PROXY, 21.0)
    assert all(ua.tick(21.0 + i) == [] for i in range(10))


def test_an_answered_call_never_acked_is_ended_at_timer_h_and_its_slot_freed():
    ua = agent(max_calls=1)
    ringing(ua)
    ua.answer("call-1", 0.0)
    assert statuses(ua.receive(request("INVITE", call_id="call-2", body=SDP), PROXY, 1)) == [503]
    actions: list = []
    t = 0.0
    while t < TIMER_H - 0.05:
        t += 0.05
        actions = ua.tick(t)
        assert not any(isinstance(a, CallOver) for a in actions), t
    actions = ua.tick(TIMER_H + 0.01)
    (bye,) = sent(actions)
    assert isinstance(bye, m.SipRequest) and bye.method == "BYE"
    assert bye.uri == "sip:0812345678@10.0.0.9:5070"
    assert bye.get("route") == "<sip:127.0.0.1:5060;lr>"
    assert actions[-1] == CallOver("call-1", "no_ack")
    assert [a.destination for a in actions if isinstance(a, Send)] == [("127.0.0.1", 5060)]
    assert ua.calls == {}
    # The BYE is resent until answered; the slot is free for the next caller at once.
    assert [msg.method for msg in sent(ua.tick(TIMER_H + 0.6))] == ["BYE"]  # type: ignore[attr-defined]
    answer = m.build_response(bye, 200, "OK")
    ua.receive(bytes(answer), PROXY, TIMER_H + 0.7)
    assert all(ua.tick(TIMER_H + 1 + i) == [] for i in range(10))
    assert statuses(ua.receive(request("INVITE", call_id="call-3", body=SDP), PROXY, 40)) == [100]


def test_our_hangup_before_the_answer_is_480_and_after_it_a_bye():
    ua = agent()
    ringing(ua)
    early = ua.hangup("call-1", "error", 0.5)
    assert statuses(early) == [480] and early[-1] == CallOver("call-1", "error")
    tag = ringing(ua, "call-2", 1.0)
    ua.answer("call-2", 1.1)
    ua.receive(request("ACK", call_id="call-2", to_tag=tag), PROXY, 1.2)
    (bye,) = sent(ua.hangup("call-2", "rtp_timeout", 2.0))
    assert isinstance(bye, m.SipRequest) and bye.cseq == (2, "BYE")
    assert bye.get("from") == f"<sip:1567@127.0.0.1>;tag={tag}"
    assert ua.hangup("call-2", "hangup", 2.1) == []  # once


def test_reinvite_moves_the_media_and_answers_with_the_same_sdp():
    ua = agent()
    tag = ringing(ua)
    ok = sent(ua.answer("call-1", 0.0))[0]
    moved = SDP.replace("10.0.0.9", "10.0.0.77")
    again = ua.receive(request("INVITE", cseq=2, to_tag=tag, body=moved), PROXY, 1.0)
    assert statuses(again) == [200] and sent(again)[0].body == ok.body
    assert again[1] == MoveMedia("call-1", ("10.0.0.77", 6000))


@pytest.mark.parametrize(
    ("data", "source", "status"),
    [
        (request("INVITE", body=SDP), ("127.0.0.2", 5060), 403),  # not a configured proxy
        (request("INVITE", body=SDP, uri="sip:1111@127.0.0.1:5062"), PROXY, 404),
        (request("INVITE", body=SDP, uri="sip:127.0.0.1:5062"), PROXY, 404),
        (request("INVITE", body=SDP.replace("AVP 0 101", "AVP 18")), PROXY, 488),
        (request("INVITE", body="v=0\r\n"), PROXY, 488),
        (
            request("INVITE", body=SDP).replace(b"Content-Length: ", b"Content-Length: 9"),
            PROXY,
            400,
        ),
        (request("INVITE", body=SDP).replace(b"CSeq: 1", b"CSeq: x"), PROXY, 400),
        (request("NOTIFY"), PROXY, 405),
        (request("BYE", to_tag="x"), PROXY, 481),
        (request("INVITE", body=SDP, to_tag="x"), PROXY, 481),
        (request("OPTIONS"), ("127.0.0.2", 5060), 200),
    ],
)
def test_what_is_refused_and_how(data, source, status):
    ua = agent()
    actions = ua.receive(data, source, 0.0)
    assert statuses(actions) == [status]
    assert ua.calls == {}


def test_garbage_and_responses_nobody_waits_for_are_dropped_silently():
    ua = agent()
    assert ua.receive(b"\r\n\r\n", PROXY, 0) == []
    assert ua.receive(b"\x00\xff garbage", PROXY, 0) == []
    assert ua.receive(b"SIP/2.0 200 OK\r\nCall-ID: z\r\nCSeq: 1 BYE\r\n\r\n", PROXY, 0) == []
    assert ua.receive(request("ACK"), PROXY, 0) == []
    assert (
        ua.receive(request("ACK").replace(b"Content-Length: 0", b"Content-Length: 7"), PROXY, 0)
        == []
    )
