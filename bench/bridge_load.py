"""Bridge benchmark: N bridged pairs in the real media process, side by side with N unbridged calls.

The media process is the node's own (``MediaClient``: spawned, ports handed over with OPEN). This
bench plays both phones of every pair itself, so each packet can be timestamped where it enters
and leaves the media process: a sender socket per leg streams 20 ms PCMU packets (a counter in
the payload) at leg a's port, a receiver socket per leg b (its SDP address) timestamps what the
relay sends on. Both legs PCMU, so payloads pass unchanged and the counter identifies each packet.

- relay one-way delay: the kernel's receive time at b's socket (SO_TIMESTAMPNS) − the time just
  before the send to a's port (loopback included),
  after a 3 s warm-up (packets sent while the new media process starts wait in its socket);
- packet interval deviation p99 at the receivers: |interval − 20 ms|, bridged pairs (relayed
  audio) vs unbridged calls (the media process paces a prompt to each: the IVR's normal load);
- CPU of the media process per call, bridged vs unbridged (/proc, user + system).

    .venv/bin/python bench/bridge_load.py --pairs 20 --seconds 20

SIPp callers and agents' phones via Kamailio (the brief's full set-up) are left for a longer run:
this isolates the relay itself; the SIP side is covered by tests/ivr/sip/test_kamailio_routes.py.
"""

from __future__ import annotations

import argparse
import os
import selectors
import socket
import struct
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr.sip import g711, relay, rtp  # noqa: E402
from ivr.sip.ipc import Kind  # noqa: E402
from ivr.sip.media_client import MediaClient, MediaHandle  # noqa: E402

FRAME = 0.02
SO_TIMESTAMPNS = 35  # Linux: the kernel stamps each datagram's arrival (CLOCK_REALTIME, ns)
_TIMESPEC = struct.Struct("@qq")
WARM_UP = 3.0  # s: delays counted after this (the media process drains its start-up backlog)
_COUNTER = struct.Struct("!Q")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    return sock


class Receivers:
    """Every packet arriving on the given sockets with the kernel's arrival time (so this
    thread's own scheduling, in a process that also sends, is not counted as relay delay)."""

    def __init__(self, socks: list[socket.socket]) -> None:
        self.arrivals: dict[int, list[tuple[float, bytes]]] = {i: [] for i in range(len(socks))}
        self._selector = selectors.DefaultSelector()
        for index, sock in enumerate(socks):
            self._selector.register(sock, selectors.EVENT_READ, index)
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            for key, _ in self._selector.select(0.1):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                while True:
                    try:
                        data, ancillary, _flags, _address = sock.recvmsg(2048, 64)
                    except BlockingIOError:
                        break
                    at = time.time()
                    for level, kind, value in ancillary:
                        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
                            at = seconds + nanoseconds / 1e9
                    self.arrivals[key.data].append((at, data))

    def stop(self) -> None:
        self._running = False
        self._thread.join(timeout=2)


def deviation_p99(arrivals: dict[int, list[tuple[float, bytes]]], skip: float) -> float:
    gaps = []
    for packets in arrivals.values():
        times = np.array([t for t, _ in packets])
        times = times[times > times[0] + skip] if len(times) else times
        if len(times) > 2:
            gaps.append(np.abs(np.diff(times) - FRAME))
    return float(np.percentile(np.concatenate(gaps), 99) * 1000) if gaps else float("nan")


def run(pairs: int, seconds: float, bridged: bool) -> dict[str, float]:
    low = 30000 + (0 if bridged else 2000)
    client = MediaClient("127.0.0.1", low, low + 4 * pairs + 40, name="bench", rtp_timeout=60)
    client.start()
    assert client.pid is not None
    senders = [bound_socket() for _ in range(pairs)]
    sinks = [bound_socket() for _ in range(pairs if bridged else 0)]
    prompt_sinks = [] if bridged else [bound_socket() for _ in range(pairs)]
    handles: list[tuple[MediaHandle, MediaHandle | None]] = []
    for index in range(pairs):
        a = client.allocate()
        a_remote = senders[index].getsockname()
        if bridged:
            b = client.allocate()
            a.start(a_remote, g711.PCMU, None)
            b.start(sinks[index].getsockname(), g711.PCMU, None)
            client.send(Kind.BRIDGE, relay.pack_bridge(a.stream_id, b.stream_id))
            handles.append((a, b))
        else:
            # The IVR's normal call: caller audio in, a paced prompt out (to its own sink).
            a.start(prompt_sinks[index].getsockname(), g711.PCMU, None)
            a.queue_pcm(bytes(int(seconds + 2) * 16000))
            handles.append((a, None))
    receivers = Receivers(sinks if bridged else prompt_sinks)
    sent_at: dict[int, float] = {}
    cpu_before = cpu_seconds(client.pid)
    started = time.monotonic()
    wall_started = time.time()
    counter = 0
    tick = started
    silence = g711.silence(g711.PCMU, 160)
    while tick - started < seconds:
        tick += FRAME
        delay = tick - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for index, (a, _) in enumerate(handles):
            counter += 1
            payload = _COUNTER.pack(counter) + silence[8:]
            packet = rtp.build(g711.PCMU, counter & 0xFFFF, counter * 160, 1000 + index, payload)
            sent_at[counter] = time.time()  # the clock the kernel stamps arrivals with
            senders[index].sendto(packet, ("127.0.0.1", a.port))
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(client.pid) - cpu_before
    time.sleep(0.3)
    receivers.stop()
    delays = []
    if bridged:
        for packets in receivers.arrivals.values():
            for at, data in packets:
                (number,) = _COUNTER.unpack_from(data, 12)
                sent = sent_at.get(number)
                if sent is not None and sent - wall_started > WARM_UP:
                    delays.append(at - sent)
    client.stop()
    for sock in senders + sinks + prompt_sinks:
        sock.close()
    return {
        "calls": pairs,
        "delay_p50_ms": float(np.percentile(delays, 50) * 1000) if delays else float("nan"),
        "delay_p99_ms": float(np.percentile(delays, 99) * 1000) if delays else float("nan"),
        "relayed": len(delays),
        "deviation_p99_ms": deviation_p99(receivers.arrivals, skip=WARM_UP),
        "cpu_percent_per_call": 100 * cpu / elapsed / pairs,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    bridged = run(args.pairs, args.seconds, bridged=True)
    plain = run(args.pairs, args.seconds, bridged=False)
    print(f"{'':28} {'bridged pairs':>14} {'unbridged calls':>16}")
    for key in (
        "calls",
        "delay_p50_ms",
        "delay_p99_ms",
        "deviation_p99_ms",
        "cpu_percent_per_call",
    ):
        print(f"{key:28} {bridged[key]:14.2f} {plain[key]:16.2f}")
    print(f"packets relayed and matched: {bridged['relayed']}")
    print("a bridged call is a pair of legs; CPU is the media process's; the machine is shared")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
