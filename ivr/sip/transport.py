"""Where SIP datagrams come and go: a UDP socket in production, an in-memory pair in tests.

The node only calls ``receive(timeout)`` (every datagram that arrived, waiting at most
``timeout`` for the first) and ``send(data, destination)``; a failed send is logged, never
raised, because one unreachable caller must not stop the others.
"""

from __future__ import annotations

import logging
import queue
import select
import socket
from typing import Protocol

log = logging.getLogger(__name__)

Address = tuple[str, int]
MAX_DATAGRAM = 65535
_BURST = 256  # datagrams drained per wake-up before the timers get their turn


class Transport(Protocol):
    def send(self, data: bytes, destination: Address) -> None: ...

    def receive(self, timeout: float) -> list[tuple[bytes, Address]]: ...

    def close(self) -> None: ...


class UdpTransport:
    def __init__(self, bind: Address) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.bind(bind)
        sock.setblocking(False)
        self._sock = sock

    @property
    def address(self) -> Address:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def send(self, data: bytes, destination: Address) -> None:
        try:
            self._sock.sendto(data, destination)
        except OSError as exc:
            log.warning("SIP send to %s:%s failed: %s", destination[0], destination[1], exc)

    def receive(self, timeout: float) -> list[tuple[bytes, Address]]:
        readable, _, _ = select.select([self._sock], [], [], timeout)
        received: list[tuple[bytes, Address]] = []
        for _ in range(_BURST if readable else 0):
            try:
                data, source = self._sock.recvfrom(MAX_DATAGRAM)
            except BlockingIOError:
                break
            except OSError as exc:
                # e.g. ICMP port unreachable reported on the next recvfrom: not fatal.
                log.debug("SIP socket error (ignored): %s", exc)
                break
            received.append((data, (str(source[0]), int(source[1]))))
        return received

    def close(self) -> None:
        self._sock.close()


class MemoryTransport:
    """One end of an in-memory pair: what one end sends, the other receives (from ``address``)."""

    def __init__(self, address: Address) -> None:
        self.address = address
        self.peer: MemoryTransport | None = None
        self.inbox: queue.Queue[tuple[bytes, Address]] = queue.Queue()
        self.sent: list[tuple[bytes, Address]] = []
        self.closed = False

    @classmethod
    def pair(cls, a: Address, b: Address) -> tuple[MemoryTransport, MemoryTransport]:
        first, second = cls(a), cls(b)
        first.peer, second.peer = second, first
        return first, second

    def send(self, data: bytes, destination: Address) -> None:
        self.sent.append((data, destination))
        if self.peer is not None and not self.peer.closed:
            self.peer.inbox.put((data, self.address))

    def receive(self, timeout: float) -> list[tuple[bytes, Address]]:
        try:
            received = [self.inbox.get(timeout=timeout)]
        except queue.Empty:
            return []
        while len(received) < _BURST:
            try:
                received.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return received

    def close(self) -> None:
        self.closed = True
