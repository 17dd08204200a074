"""Bad input on the SIP port: the node answers what it can, drops the rest, keeps serving calls."""

from __future__ import annotations

import socket
import time

import pytest

from ivr.channel import CallChannel, CallEnded

from .sipkit import running_node, sipp

pytestmark = pytest.mark.slow


def request(
    method: str, port: int, *, call_id: str = "c1", body: str = "", extra: str = ""
) -> bytes:
    return (
        f"{method} sip:1567@127.0.0.1:{port} SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKtest\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:0811111111@127.0.0.1>;tag=a\r\n"
        f"To: <sip:1567@127.0.0.1:{port}>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: 1 {method}\r\n"
        "Contact: <sip:0811111111@127.0.0.1:9>\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    ).encode()


SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 RTP/AVP 0\r\n"
)


def exchange(port: int, data: bytes, wait: float = 0.5, source: str = "127.0.0.1") -> list[bytes]:
    """Send one datagram (from ``source``); every reply within ``wait`` seconds."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.sendto(data, ("127.0.0.1", port))
        sock.settimeout(wait)
        replies = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                replies.append(sock.recv(65535))
            except TimeoutError:
                break
        return replies


def status_lines(replies: list[bytes]) -> list[str]:
    return [r.split(b"\r\n", 1)[0].decode() for r in replies]


def wait_until_call_flow(channel: CallChannel) -> None:
    try:
        while True:
            channel.read_audio(0.1)
    except CallEnded:
        pass


def test_options_is_answered_200_with_allow():
    with running_node(wait_until_call_flow) as node:
        (reply,) = exchange(node.node.settings.sip_port, request("OPTIONS", 1, call_id="o1"))
    assert reply.startswith(b"SIP/2.0 200 OK\r\n")
    assert b"Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n" in reply
    assert b"Call-ID: o1\r\n" in reply


TORTURE = {
    # RFC 4475-style: each must be dropped or refused without hurting the node.
    "garbage bytes": (b"\x00\xff\xfe garbage \x80\x81" * 20, []),
    "keepalive": (b"\r\n\r\n", []),
    "no Call-ID": (
        request("INVITE", 1, body=SDP).replace(b"Call-ID: c1\r\n", b""),
        [],
    ),
    "bad CSeq": (
        request("INVITE", 1, call_id="t2", body=SDP).replace(b"CSeq: 1 INVITE", b"CSeq: x INVITE"),
        ["SIP/2.0 400"],
    ),
    "header without colon": (request("INVITE", 1, call_id="t3", extra="Broken header\r\n"), []),
    "huge Content-Length": (
        request("INVITE", 1, call_id="t4", body=SDP).replace(
            f"Content-Length: {len(SDP)}".encode(), b"Content-Length: 99999999999"
        ),
        ["SIP/2.0 400"],
    ),
    "Content-Length past the body": (
        request("INVITE", 1, call_id="t4b", body=SDP).replace(
            f"Content-Length: {len(SDP)}".encode(), f"Content-Length: {len(SDP) + 1}".encode()
        ),
        ["SIP/2.0 400"],
    ),
    "Content-Length not a number": (
        request("INVITE", 1, call_id="t4c", body=SDP).replace(
            f"Content-Length: {len(SDP)}".encode(), b"Content-Length: -5"
        ),
        ["SIP/2.0 400"],
    ),
    "bad SDP": (
        request("INVITE", 1, call_id="t5", body="v=0\r\nm=audio nope RTP/AVP 0\r\n"),
        ["SIP/2.0 488"],
    ),
    "no codec we speak": (
        request("INVITE", 1, call_id="t6", body=SDP.replace("AVP 0", "AVP 18")),
        ["SIP/2.0 488"],
    ),
    "bad request line": (b"INVITE\r\nVia: x\r\n\r\n", []),
    "wrong version": (
        request("INVITE", 1, call_id="t7").replace(b"SIP/2.0\r\n", b"SIP/7.0\r\n", 1),
        [],
    ),
    "unknown method": (request("NOTIFY", 1, call_id="t8"), ["SIP/2.0 405"]),
    "BYE for no call": (request("BYE", 1, call_id="t9", extra=""), ["SIP/2.0 481"]),
    "stray response": (b"SIP/2.0 200 OK\r\nCall-ID: zz\r\nCSeq: 1 INVITE\r\n\r\n", []),
    "non-UTF-8 header": (
        request("INVITE", 1, call_id="t10").replace(b"tag=a", b"tag=\xff\xfe"),
        [],
    ),
}


def test_torture_messages_leave_the_node_answering_the_next_call():
    answered: list[str | None] = []

    def on_call(channel: CallChannel) -> None:
        answered.append(channel.caller_number)
        wait_until_call_flow(channel)

    with running_node(on_call, extra={"HOTLINE_IVR_RTP_TIMEOUT": "1"}) as node:
        port = node.node.settings.sip_port
        for name, (data, expected) in TORTURE.items():
            replies = status_lines(exchange(port, data, wait=0.3))
            assert [r[:11] for r in replies][: len(expected)] == expected, name
        result = sipp("uac.xml", ("127.0.0.1", port), hold_ms=500)
        assert result.returncode == 0, result.output + result.errors
        node.wait_idle()
    # A nonsense Content-Length is a broken message (400), never a call: only SIPp's call ran.
    assert answered == ["+66812345678"]


def test_over_max_calls_new_invites_get_503_and_the_node_keeps_serving():
    with running_node(wait_until_call_flow, extra={"HOTLINE_IVR_MAX_CALLS": "1"}) as node:
        port = node.node.settings.sip_port
        first = sipp("uac.xml", ("127.0.0.1", port), hold_ms=3000, background=True)
        deadline = time.monotonic() + 5
        while node.node.active_calls < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        replies = status_lines(exchange(port, request("INVITE", port, call_id="x", body=SDP)))
        assert replies == ["SIP/2.0 503 Service Unavailable"]
        first.communicate(timeout=30)  # type: ignore[union-attr]
        assert first.returncode == 0  # type: ignore[union-attr]
        node.wait_idle()
        assert node.node.rejected_busy == 1
        again = sipp("uac.xml", ("127.0.0.1", port), hold_ms=300)
        assert again.returncode == 0, again.output + again.errors
        node.wait_idle()


def test_invites_only_for_the_service_numbers_and_only_from_the_proxies():
    answered: list[str | None] = []

    def on_call(channel: CallChannel) -> None:
        answered.append(channel.caller_number)
        wait_until_call_flow(channel)

    with running_node(on_call) as node:  # no registrar: the proxy is 127.0.0.1 only
        port = node.node.settings.sip_port
        other_number = request("INVITE", port, call_id="n1", body=SDP).replace(
            f"INVITE sip:1567@127.0.0.1:{port}".encode(),
            f"INVITE sip:1111@127.0.0.1:{port}".encode(),
        )
        assert status_lines(exchange(port, other_number)) == ["SIP/2.0 404 Not Found"]
        # The whole 127/8 range is local: 127.0.0.2 stands for a host that is not the proxy.
        stranger = request("INVITE", port, call_id="n2", body=SDP)
        assert status_lines(exchange(port, stranger, source="127.0.0.2")) == [
            "SIP/2.0 403 Forbidden"
        ]
        assert node.node.agent.rejected_forbidden == 1
        # OPTIONS (the dispatcher's probe) is still answered, and a proper call still works.
        options = exchange(port, request("OPTIONS", port, call_id="n3"), source="127.0.0.2")
        assert status_lines(options) == ["SIP/2.0 200 OK"]
        result = sipp("uac.xml", ("127.0.0.1", port), hold_ms=300)
        assert result.returncode == 0, result.output + result.errors
        node.wait_idle()
    assert answered == ["+66812345678"]


def test_other_service_numbers_and_proxies_are_configurable():
    with running_node(
        wait_until_call_flow,
        settings_overrides={"ivr_service_numbers": ("1111",), "sip_proxies": ("127.0.0.2",)},
    ) as node:
        port = node.node.settings.sip_port
        ours = request("INVITE", port, call_id="c1", body=SDP).replace(
            b"INVITE sip:1567@", b"INVITE sip:1111@"
        )
        from_loopback = status_lines(exchange(port, ours))
        assert from_loopback == ["SIP/2.0 403 Forbidden"]
        from_proxy = status_lines(
            exchange(port, ours.replace(b"Call-ID: c1", b"Call-ID: c2"), source="127.0.0.2")
        )
        assert from_proxy[:2] == ["SIP/2.0 100 Trying", "SIP/2.0 180 Ringing"]


def test_an_answered_call_never_acked_is_torn_down_at_timer_h_and_its_slot_freed():
    """A caller (or a flood) that never ACKs the 200 OK holds no slot past 64·T1 = 32 s."""
    reasons: list[str | None] = []

    def on_call(channel: CallChannel) -> None:
        wait_until_call_flow(channel)
        reasons.append(channel.end_reason)

    # RTP timeout far away: only Timer H can end this call within the test.
    with running_node(on_call, extra={"HOTLINE_IVR_RTP_TIMEOUT": "300"}) as node:
        port = node.node.settings.sip_port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            mine = sock.getsockname()[1]
            invite = request("INVITE", port, call_id="noack", body=SDP).replace(
                b"127.0.0.1:9", f"127.0.0.1:{mine}".encode()
            )
            sock.sendto(invite, ("127.0.0.1", port))
            started = time.monotonic()
            sock.settimeout(1)
            oks, bye_at, bye = 0, None, b""
            while time.monotonic() - started < 45:
                try:
                    data = sock.recv(65535)
                except TimeoutError:
                    continue
                if data.startswith(b"SIP/2.0 200"):
                    oks += 1
                elif data.startswith(b"BYE "):
                    bye_at, bye = time.monotonic() - started, data
                    break
            assert bye_at is not None, f"no BYE within 45 s ({oks} x 200 OK)"
            assert 30 <= bye_at <= 40, bye_at
            assert oks >= 5  # the 200 OK was resent meanwhile (Timer G)
            assert b"Call-ID: noack\r\n" in bye
        node.wait_idle()
    assert reasons == ["no_ack"]
