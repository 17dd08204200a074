"""The whole node (SipNode, call threads, channels) over an in-memory transport and a fake media
client: a call from INVITE to BYE with an RTP key, and Timer H, without a socket or a process."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

from config.sections import SipOptions
from config.settings import Settings
from ivr.channel import CallChannel, CallEnded
from ivr.sip import ipc
from ivr.sip import message as m
from ivr.sip.adapter import SipNode
from ivr.sip.ipc import Kind
from ivr.sip.media_client import MediaHandle
from ivr.sip.transaction import TIMER_H
from ivr.sip.transport import MemoryTransport

from .test_uas import SDP, request

NODE = ("127.0.0.1", 5062)
PROXY = ("127.0.0.1", 5060)


class FakeMedia:
    """Stands in for MediaClient at its seam: handles without sockets, IPC frames recorded."""

    def __init__(self) -> None:
        self.lost = threading.Event()
        self.sent: list[tuple[Kind, bytes]] = []
        self.handles: dict[int, MediaHandle] = {}
        self.released: list[int] = []
        self._next = 1

    @property
    def ports_in_use(self) -> int:
        return len(self.handles)

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def allocate(self) -> MediaHandle:
        handle = MediaHandle(self, self._next, 10000 + 2 * self._next)  # type: ignore[arg-type]
        self.handles[self._next] = handle
        self._next += 1
        return handle

    def release(self, handle: MediaHandle) -> None:
        if self.handles.pop(handle.stream_id, None) is not None:
            handle.closed = True
            self.released.append(handle.stream_id)

    def send(self, kind, payload=b"", *, fd=None, under_lock=None):
        if under_lock is not None:
            under_lock()
        self.sent.append((kind, payload))


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


class Phone:
    """The proxy's end of the in-memory pair."""

    def __init__(self, end: MemoryTransport) -> None:
        self.end = end

    def send(self, data: bytes) -> None:
        self.end.send(data, NODE)

    def expect(self, what: Callable[[m.SipMessage], bool], timeout: float = 5.0) -> m.SipMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for data, _ in self.end.receive(0.05):
                message = m.parse(data)
                if what(message):
                    return message
        raise AssertionError("expected message never came")


def status(code: int) -> Callable[[m.SipMessage], bool]:
    return lambda message: isinstance(message, m.SipResponse) and message.status == code


def method(name: str) -> Callable[[m.SipMessage], bool]:
    return lambda message: isinstance(message, m.SipRequest) and message.method == name


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@contextlib.contextmanager
def memory_node(
    on_call: Callable[[CallChannel], None],
) -> Iterator[tuple[SipNode, Phone, FakeMedia, Clock]]:
    phone_end, node_end = MemoryTransport.pair(PROXY, NODE)
    media, clock = FakeMedia(), Clock()
    settings = Settings(sip_port=NODE[1], sip_options=SipOptions(answer_delay=0))
    node = SipNode(settings, on_call, transport=node_end, media=media, clock=clock)  # type: ignore[arg-type]
    stop = threading.Event()
    thread = threading.Thread(target=node.run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield node, Phone(phone_end), media, clock
    finally:
        stop.set()
        thread.join(5)
        assert not thread.is_alive()


def test_a_call_through_the_node_answer_ack_rtp_key_then_the_flow_hangs_up():
    keys: list[str | None] = []

    def on_call(channel: CallChannel) -> None:
        keys.append(channel.next_dtmf(5))
        channel.hangup()

    with memory_node(on_call) as (node, phone, media, _clock):
        phone.send(request("INVITE", body=SDP))
        phone.expect(status(100))
        ok = phone.expect(status(200))
        tag = m.tag_of(ok.get("to") or "")
        phone.send(request("ACK", to_tag=tag))
        start = next(ipc.unpack_start(p) for k, p in media.sent if k is Kind.START)
        assert (start.remote, start.payload_type, start.event_payload_type) == (
            ("10.0.0.9", 6000),
            0,
            101,
        )
        assert wait_for(lambda: node.acks_received == 1)
        media.handles[1].dtmf.append("7")  # what the media process reports for an RFC 2833 key
        bye = phone.expect(method("BYE"))
        assert (
            isinstance(bye, m.SipRequest)
            and bye.get("to") == "<sip:0812345678@10.0.0.9>;tag=caller"
        )
        phone.send(bytes(m.build_response(bye, 200, "OK")))
        assert wait_for(lambda: node.active_calls == 0 and media.released == [1])
    assert keys == ["7"]


def test_the_caller_hangs_up_and_the_flow_sees_bye():
    reasons: list[str | None] = []

    def on_call(channel: CallChannel) -> None:
        try:
            while True:
                channel.read_audio(0.05)
        except CallEnded:
            reasons.append(channel.end_reason)

    with memory_node(on_call) as (node, phone, media, _clock):
        phone.send(request("INVITE", body=SDP))
        tag = m.tag_of(phone.expect(status(200)).get("to") or "")
        phone.send(request("ACK", to_tag=tag))
        phone.send(request("BYE", cseq=2, to_tag=tag))
        phone.expect(status(200))
        assert wait_for(lambda: reasons == ["bye"] and media.released == [1])
        assert node.active_calls == 0


def test_an_invite_never_acked_is_torn_down_at_timer_h_and_its_slot_freed():
    reasons: list[str | None] = []

    def on_call(channel: CallChannel) -> None:
        try:
            while True:
                channel.read_audio(0.05)
        except CallEnded:
            reasons.append(channel.end_reason)

    with memory_node(on_call) as (node, phone, media, clock):
        phone.send(request("INVITE", body=SDP))
        phone.expect(status(200))
        phone.expect(status(200))  # resent: no ACK came
        assert node.active_calls == 1
        clock.offset = TIMER_H  # 32 s later, still no ACK
        bye = phone.expect(method("BYE"))
        assert isinstance(bye, m.SipRequest)
        assert wait_for(lambda: reasons == ["no_ack"] and media.released == [1])
        assert node.active_calls == 0 and media.ports_in_use == 0
