import pytest

from ivr.sip import dialog as d
from ivr.sip import message as m
from ivr.sip import sdp

INVITE = (
    b"INVITE sip:1567@127.0.0.1:5062 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy;rport=5060\r\n"
    b"v: SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKcaller\r\n"
    b"Record-Route: <sip:127.0.0.1:5060;lr>, <sip:10.0.0.1;lr>\r\n"
    b'From: "Somchai" <sip:081-234-5678@10.0.0.9>;tag=abc\r\n'
    b"To: <sip:1567@127.0.0.1>\r\n"
    b"i: call-1@10.0.0.9\r\n"
    b"CSeq: 7 INVITE\r\n"
    b"Contact: <sip:0812345678@10.0.0.9:5070;transport=udp>\r\n"
    b"Subject: folded\r\n  continuation\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 5\r\n\r\n"
    b"v=0\r\n"
)


def test_header_values_split_lists_and_expand_compact_names():
    assert m.parse(INVITE).values("via") == [
        "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy;rport=5060",
        "SIP/2.0/UDP 10.0.0.9:5070;branch=z9hG4bKcaller",
    ]
    assert m.parse(INVITE).values("record-route") == [
        "<sip:127.0.0.1:5060;lr>",
        "<sip:10.0.0.1;lr>",
    ]
    assert m.parse(INVITE).values("call-id") == ["call-1@10.0.0.9"]
    assert m.parse(INVITE).values("subject") == ["folded continuation"]


def test_response_echoes_via_record_route_and_adds_to_tag():
    ok = m.build_response(
        m.parse(INVITE), 200, "OK", to_tag="t1", extra=[("Contact", "<sip:ivr@x>")], body="v=0\r\n"
    )
    text = bytes(ok).decode()
    assert text.startswith("SIP/2.0 200 OK\r\n")
    assert "rport=5060\r\nVia: SIP/2.0/UDP 10.0.0.9" in text
    assert "Record-Route: <sip:127.0.0.1:5060;lr>, <sip:10.0.0.1;lr>\r\n" in text
    assert "To: <sip:1567@127.0.0.1>;tag=t1\r\n" in text
    assert "Call-ID: call-1@10.0.0.9\r\n" in text and "CSeq: 7 INVITE\r\n" in text
    assert text.endswith("Content-Length: 5\r\n\r\nv=0\r\n")
    busy = bytes(
        m.build_response(m.parse(INVITE), 503, "Service Unavailable", to_tag="t2")
    ).decode()
    assert "Record-Route" not in busy


def test_response_to_request_without_call_id_is_refused():
    broken = INVITE.replace(b"i: call-1@10.0.0.9\r\n", b"")
    with pytest.raises(m.SipSyntaxError, match="no Call-ID header"):
        m.build_response(m.parse(broken), 400, "Bad Request")


def test_dialog_routes_bye_through_the_record_route():
    dialog = d.dialog_from_invite(m.parse(INVITE), "ourtag")
    assert dialog.route_set == ["<sip:127.0.0.1:5060;lr>", "<sip:10.0.0.1;lr>"]
    assert dialog.next_hop() == ("127.0.0.1", 5060)
    bye = bytes(d.build_bye(dialog, 8, "127.0.0.1", 5062, "z9hG4bKx")).decode()
    assert bye.startswith("BYE sip:0812345678@10.0.0.9:5070;transport=udp SIP/2.0\r\n")
    assert "Route: <sip:127.0.0.1:5060;lr>\r\nRoute: <sip:10.0.0.1;lr>\r\n" in bye
    assert "From: <sip:1567@127.0.0.1>;tag=ourtag\r\n" in bye
    assert 'To: "Somchai" <sip:081-234-5678@10.0.0.9>;tag=abc\r\n' in bye
    direct = d.dialog_from_invite(m.parse(INVITE.replace(b"Record-Route", b"X-Old-Route")), "t")
    assert direct.next_hop() == ("10.0.0.9", 5070)


@pytest.mark.parametrize(
    ("pai", "from_value", "expected"),
    [
        ([], '"Somchai" <sip:081-234-5678@10.0.0.9>;tag=abc', "0812345678"),
        (["<tel:+66812345678>"], "<sip:anonymous@anonymous.invalid>;tag=1", "+66812345678"),
        (['"X" <sip:0899999999@trunk;user=phone>', "<tel:1111>"], "<sip:1@x>", "0899999999"),
        (["<sip:anonymous@anonymous.invalid>"], "<sip:0812345678@pbx>", "0812345678"),
        ([], "<sip:anonymous@anonymous.invalid>;tag=1", None),
        (["garbage"], "sip:nohost", None),
        (["<sip:0812"], None, None),  # unterminated <
        ([], None, None),
        ([], "<sip:02%20123%204567@pbx>", "021234567"),
        ([], "<mailto:someone@example.com>", None),
    ],
)
def test_caller_number_prefers_pai_then_from(pai, from_value, expected):
    assert m.caller_number(pai, from_value) == expected


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("sip:127.0.0.1:5060;lr", ("127.0.0.1", 5060)),
        ("sip:ivr1@10.0.0.5", ("10.0.0.5", 5060)),
        ("sip:user@[::1]:5070;transport=udp", ("::1", 5070)),
    ],
)
def test_uri_host_port(uri, expected):
    assert m.uri_host_port(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [("tel:+661", "not a sip: URI"), ("sip:u@h:99999", "bad port"), ("sip:u@", "no host")],
)
def test_uri_host_port_errors(uri, message):
    with pytest.raises(m.SipSyntaxError, match=message):
        m.uri_host_port(uri)


SDP = (
    b"v=0\r\no=- 1 1 IN IP4 10.0.0.9\r\ns=-\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
    b"m=audio 6000 RTP/AVP 18 8 0 101\r\nc=IN IP4 10.0.0.10\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\nm=video 7000 RTP/AVP 96\r\n"
)


def test_parse_sdp_takes_media_level_address_and_caller_codec_order():
    offer = sdp.parse_sdp(SDP)
    assert (offer.address, offer.port) == ("10.0.0.10", 6000)
    assert offer.payload_types == {18: "G729", 8: "PCMA", 0: "PCMU", 101: "TELEPHONE-EVENT"}
    assert offer.first_of(("PCMU", "PCMA")) == 8
    assert offer.first_of(("TELEPHONE-EVENT",)) == 101


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "no audio stream"),
        (b"v=0\r\nm=video 5 RTP/AVP 96\r\n", "no audio stream"),
        (b"v=0\r\nm=audio 6000 RTP/AVP 0\r\n", "no connection address"),
        (b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0\r\n", "bad SDP media port"),
        (b"v=0\r\nc=garbage\r\nm=audio 6000 RTP/AVP 0\r\n", "bad SDP connection line"),
        (b"\xff\xfe", "SDP is not UTF-8"),
    ],
)
def test_parse_sdp_errors(body, message):
    with pytest.raises(m.SipSyntaxError, match=message):
        sdp.parse_sdp(body)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\r\n\r\n", "empty start line"),
        (b"INVITE sip:x SIP/2.0\r\nNo colon here\r\n\r\n", "malformed header line"),
        (b"INVITE sip:x SIP/2.0\r\nVia: \xff\xfe\r\n\r\n", "not UTF-8"),
    ],
)
def test_parse_errors(raw, message):
    with pytest.raises(m.SipSyntaxError, match=message):
        m.parse(raw)


def test_build_sdp_answers_the_chosen_codec_and_event_type():
    answer = sdp.build_sdp(42, "127.0.0.1", 10002, 8, 101)
    offer = sdp.parse_sdp(answer.encode())
    assert (offer.address, offer.port) == ("127.0.0.1", 10002)
    assert offer.payload_types == {8: "PCMA", 101: "TELEPHONE-EVENT"}


# What Kamailio forwards to a node for a SIPp caller (tests/ivr/sip/scenarios/uac.xml).
FORWARDED = (
    b"INVITE sip:1567@127.0.0.1:5060 SIP/2.0\r\n"
    b"Record-Route: <sip:127.0.0.1:5060;lr=on;ftag=31337T1>\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKc3a1.6f7e0f12.0\r\n"
    b"Via: SIP/2.0/UDP 127.0.0.1:5090;rport=5090;branch=z9hG4bK-31337-1-0\r\n"
    b'From: "caller" <sip:0812345678@127.0.0.1:5090>;tag=31337T1\r\n'
    b"To: <sip:1567@127.0.0.1:5060>\r\n"
    b"Call-ID: 1-31337@127.0.0.1\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"Contact: <sip:0812345678@127.0.0.1:5090>\r\n"
    b"P-Asserted-Identity: <tel:+66812345678>\r\n"
    b"Max-Forwards: 69\r\n"
    b"Content-Type: application/sdp\r\n"
    b"Content-Length: 135\r\n"
    b"\r\n"
    b"v=0\r\no=caller 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
    b"t=0 0\r\nm=audio 16000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
)


def test_a_forwarded_invite_parses_field_by_field_and_round_trips():
    invite = m.parse(FORWARDED)
    assert isinstance(invite, m.SipRequest)
    assert (invite.method, invite.uri) == ("INVITE", "sip:1567@127.0.0.1:5060")
    assert invite.call_id == "1-31337@127.0.0.1"
    assert invite.cseq == (1, "INVITE")
    assert invite.values("via") == [
        "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKc3a1.6f7e0f12.0",
        "SIP/2.0/UDP 127.0.0.1:5090;rport=5090;branch=z9hG4bK-31337-1-0",
    ]
    assert invite.get("record-route") == "<sip:127.0.0.1:5060;lr=on;ftag=31337T1>"
    assert m.tag_of(invite.get("from") or "") == "31337T1"
    assert m.tag_of(invite.get("to") or "") is None
    assert m.caller_number(invite.values("p-asserted-identity"), invite.get("from")) == (
        "+66812345678"
    )
    assert len(invite.body) == 135 and invite.body.endswith(b"a=rtpmap:0 PCMU/8000\r\n")
    offer = sdp.parse_sdp(invite.body)
    assert (offer.address, offer.port, offer.first_of(("PCMU",))) == ("127.0.0.1", 16000, 0)
    assert bytes(invite) == FORWARDED


def test_responses_parse_and_round_trip():
    ok = m.build_response(m.parse(FORWARDED), 200, "OK", to_tag="t9", body="v=0\r\n")
    data = bytes(ok)
    again = m.parse(data)
    assert isinstance(again, m.SipResponse)
    assert (again.status, again.reason, again.body) == (200, "OK", b"v=0\r\n")
    assert again.cseq == (1, "INVITE") and again.get("to") == "<sip:1567@127.0.0.1:5060>;tag=t9"
    assert bytes(again) == data


def test_compact_and_folded_headers_serialise_to_an_equivalent_message():
    again = m.parse(bytes(m.parse(INVITE)))
    assert again.values("via") == m.parse(INVITE).values("via")
    assert again.get("subject") == "folded continuation"
    assert again.call_id == "call-1@10.0.0.9"


@pytest.mark.parametrize(
    ("length", "message"),
    [
        (b"99999999999", "bad Content-Length '99999999999'"),
        (b"-1", "bad Content-Length '-1'"),
        (b"12x", "bad Content-Length '12x'"),
        (b"136", r"Content-Length 136 exceeds the body \(135 bytes\)"),
    ],
)
def test_a_nonsense_content_length_is_refused_with_the_request_kept_for_a_400(length, message):
    broken = FORWARDED.replace(b"Content-Length: 135", b"Content-Length: " + length)
    with pytest.raises(m.SipSyntaxError, match=message) as caught:
        m.parse(broken)
    partial = caught.value.partial
    assert isinstance(partial, m.SipRequest) and partial.call_id == "1-31337@127.0.0.1"


def test_a_shorter_content_length_cuts_the_body():
    shorter = m.parse(FORWARDED.replace(b"Content-Length: 135", b"Content-Length: 4"))
    assert shorter.body == b"v=0\r"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"SIP/2.0 2OO OK\r\n\r\n", "bad status line"),
        (b"INVITE sip:x SIP/3.0\r\nVia: x\r\n\r\n", "bad request line"),
        (b"INVITE\r\nVia: x\r\n\r\n", "bad request line"),
    ],
)
def test_start_line_errors(raw, message):
    with pytest.raises(m.SipSyntaxError, match=message):
        m.parse(raw)
