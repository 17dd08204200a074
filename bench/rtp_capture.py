"""RTP seen on the wire: marked G.711 audio, a classic-pcap reader, the relay's delay matcher.

Pure parts of bench/queue_load.py (tested in tests/bench/test_rtp_capture.py):

- ``marked_wav``: a mu-law WAV (the form SIPp's ``rtp_stream`` plays) whose every 20 ms frame
  is one 4-byte mark repeated: ``B5``, a kind byte (who sends it) and a 14-bit frame counter
  (7 bits a byte, so only the first byte has its top bit set). SIPp 3.6 cuts the file into
  packets at a phase of its own (not the data chunk's start), so a packet's first bytes hold the
  mark of the frame it starts in whatever that phase. PCMU relayed to a PCMU leg passes
  unchanged, so the mark identifies each packet on both sides of the relay. (A buzz, not speech:
  the telephony path does not listen.)
- ``read_pcap``: the UDP/RTP packets of a classic pcap file (what ``dumpcap -P`` writes; Ethernet,
  Linux cooked v1/v2 or BSD loopback framing; micro- or nanosecond stamps), grouped by flow.
- ``relay_delays``: each packet the node sent on towards the far leg (out of one of its ports)
  matched with the packet it came from (into another of its ports): delay = out time - in time,
  both stamped by the kernel at the capture. Flows are paired by vote (a packet's mark, the closest
  preceding packet with the same mark on any inbound flow), so callers streaming the same file
  at other phases are never confused with the partner.
- ``interval_deviations``: |interval - 20 ms| between consecutive packets of each flow.
"""

from __future__ import annotations

import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MAGIC = 0xB5
FRAME_BYTES = 160  # 20 ms of 8 kHz G.711
FRAME_SECONDS = 0.02
MAX_FRAMES = 1 << 14
SNAPLEN = 64  # 14-byte Ethernet + IPv4 + UDP + RTP headers: 10 payload bytes, a mark in them

_LINK_HEADER = {1: 14, 0: 4, 113: 16, 276: 20}  # Ethernet, BSD loopback, Linux SLL, SLL2
_MICRO, _NANO = 0xA1B2C3D4, 0xA1B23C4D


def mark(kind: int, counter: int) -> bytes:
    return bytes((MAGIC, kind & 0x7F, (counter >> 7) & 0x7F, counter & 0x7F))


def read_mark(payload: bytes) -> tuple[int, int] | None:
    """(kind, counter) of the mark in a payload's first bytes; None if there is none."""
    at = payload.find(MAGIC, 0, 4)
    if at < 0 or at + 4 > len(payload):
        return None
    kind, high, low = payload[at + 1 : at + 4]
    if kind | high | low >= 0x80:
        return None
    return kind, high << 7 | low


def marked_wav(source: Path, kind: int, seconds: float) -> bytes:
    """A mu-law WAV with ``source``'s header, ``seconds`` long, every frame its own mark."""
    raw = source.read_bytes()
    header = raw[: raw.index(b"data")]
    frames = int(seconds / FRAME_SECONDS)
    if frames > MAX_FRAMES:
        raise ValueError(f"{seconds} s is more frames than the 14-bit counter holds")
    audio = b"".join(mark(kind, n) * (FRAME_BYTES // 4) for n in range(frames))
    body = header[8:] + b"data" + struct.pack("<I", len(audio)) + audio
    return b"RIFF" + struct.pack("<I", len(body)) + body


@dataclass
class Flow:
    """One direction of UDP between two (address, port) ends: kernel times and marks."""

    times: list[float] = field(default_factory=list)
    marks: dict[int, float] = field(default_factory=dict)  # counter -> first time seen
    marked: list[tuple[float, int]] = field(default_factory=list)  # (time, counter)
    kinds: Counter[int] = field(default_factory=Counter)

    @property
    def kind(self) -> int | None:
        return self.kinds.most_common(1)[0][0] if self.kinds else None


FlowKey = tuple[str, int, str, int]  # source address, port, destination address, port


def read_pcap(path: Path) -> dict[FlowKey, Flow]:
    data = path.read_bytes()
    if len(data) < 24:
        return {}
    (magic,) = struct.unpack_from("<I", data)
    endian = "<"
    if magic not in (_MICRO, _NANO):
        (magic,) = struct.unpack_from(">I", data)
        endian = ">"
        if magic not in (_MICRO, _NANO):
            raise ValueError(f"{path}: not a classic pcap file (pcapng? write with dumpcap -P)")
    scale = 1e-6 if magic == _MICRO else 1e-9
    linktype = struct.unpack_from(endian + "I", data, 20)[0] & 0x0FFFFFFF
    link = _LINK_HEADER.get(linktype)
    if link is None:
        raise ValueError(f"{path}: link type {linktype} not handled")
    record = struct.Struct(endian + "IIII")
    flows: dict[FlowKey, Flow] = {}
    offset = 24
    while offset + 16 <= len(data):
        seconds, fraction, captured, _length = record.unpack_from(data, offset)
        offset += 16
        packet = data[offset : offset + captured]
        offset += captured
        if linktype == 1 and packet[12:14] != b"\x08\x00":
            continue  # not IPv4
        ip = packet[link:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        sport, dport = struct.unpack_from("!HH", ip, ihl)
        key = (_address(ip[12:16]), sport, _address(ip[16:20]), dport)
        flow = flows.get(key)
        if flow is None:
            flow = flows[key] = Flow()
        at = seconds + fraction * scale
        flow.times.append(at)
        found = read_mark(ip[ihl + 8 + 12 :])
        if found is not None:
            kind, counter = found
            flow.kinds[kind] += 1
            flow.marks.setdefault(counter, at)
            flow.marked.append((at, counter))
    return flows


def _address(raw: bytes) -> str:
    return ".".join(str(b) for b in raw)


@dataclass
class DelayResult:
    delays_ms: np.ndarray
    pairs: list[tuple[FlowKey, FlowKey]]  # (inbound flow, outbound flow)
    unmatched: int  # marked outbound packets with no inbound packet found
    added_jitter_ms: np.ndarray  # |out interval - in interval| of consecutive relayed packets


def relay_delays(
    flows: dict[FlowKey, Flow],
    node_ports: range,
    kind: int,
    *,
    max_delay: float = 0.5,
    votes: int = 50,
) -> DelayResult:
    """Delays of the packets of ``kind`` the node relayed: into a node port, out of another."""
    inbound = {k: f for k, f in flows.items() if k[3] in node_ports and f.kind == kind}
    outbound = {k: f for k, f in flows.items() if k[1] in node_ports and f.kind == kind}
    by_counter: dict[int, list[tuple[float, FlowKey]]] = {}
    for key, flow in inbound.items():
        for counter, at in flow.marks.items():
            by_counter.setdefault(counter, []).append((at, key))
    pairs: list[tuple[FlowKey, FlowKey]] = []
    delays: list[float] = []
    jitter: list[float] = []
    unmatched = 0
    for out_key, out_flow in outbound.items():
        ballot: Counter[FlowKey] = Counter()
        for at, counter in out_flow.marked[:votes]:
            before = [c for c in by_counter.get(counter, ()) if at - max_delay <= c[0] <= at]
            if before:
                ballot[max(before)[1]] += 1
        if not ballot:
            unmatched += len(out_flow.marked)
            continue
        in_key = ballot.most_common(1)[0][0]
        if in_key[3] == out_key[1]:
            continue  # a port's own echo is not a relay
        pairs.append((in_key, out_key))
        marks = inbound[in_key].marks
        previous: float | None = None
        for at, counter in out_flow.marked:
            sent = marks.get(counter)
            if sent is not None and 0 <= at - sent <= max_delay:
                delays.append(at - sent)
                if previous is not None:
                    jitter.append(abs(at - sent - previous))
                previous = at - sent
            else:
                unmatched += 1
                previous = None
    return DelayResult(np.array(delays) * 1000, pairs, unmatched, np.array(jitter) * 1000)


def interval_deviations(flows: Iterable[Flow], skip_first: int = 1) -> np.ndarray:
    """|interval - 20 ms| in ms between consecutive packets of each flow (all packets sent)."""
    gaps = []
    for flow in flows:
        times = np.array(flow.times[skip_first:])
        if len(times) > 2:
            gaps.append(np.abs(np.diff(times) - FRAME_SECONDS) * 1000)
    return np.concatenate(gaps) if gaps else np.array([])


def pct(values: np.ndarray, q: float) -> float:
    return round(float(np.percentile(values, q)), 3) if len(values) else float("nan")
