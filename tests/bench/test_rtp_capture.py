"""bench/rtp_capture.py (the queue benchmark's pure parts): marks, the pcap reader, the relay's
delay matcher, on a synthetic capture written here."""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))

import rtp_capture as cap  # noqa: E402

SPEECH = REPO / "tests/ivr/sip/fixtures/speech.wav"
NODE = range(30000, 32000)


def packet(sport: int, dport: int, payload: bytes) -> bytes:
    rtp = bytes((0x80, 0)) + struct.pack("!HII", 1, 160, 99) + payload
    udp = struct.pack("!HHHH", sport, dport, 8 + len(rtp), 0)
    ip = bytes((0x45, 0)) + struct.pack("!HHHBBH", 20 + len(udp) + len(rtp), 0, 0, 64, 17, 0)
    ip += bytes((127, 0, 0, 1, 127, 0, 0, 1))
    return b"\0" * 12 + b"\x08\x00" + ip + udp + rtp


def write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> None:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, cap.SNAPLEN, 1))
    for at, data in sorted(packets):
        data = data[: cap.SNAPLEN]
        seconds = int(at)
        micros = round((at - seconds) * 1e6)
        out += struct.pack("<IIII", seconds, micros, len(data), len(data) + 100) + data
    path.write_bytes(bytes(out))


def frame(kind: int, counter: int, phase: int = 0) -> bytes:
    """160 bytes as SIPp cuts them at ``phase`` bytes into frame ``counter``."""
    audio = cap.mark(kind, counter) * 40 + cap.mark(kind, counter + 1) * 40
    return audio[phase : phase + 160]


def test_a_mark_is_read_whatever_phase_sipp_cuts_the_frames_at():
    for phase in (0, 2, 18, 102, 156):
        assert cap.read_mark(frame(3, 1000, phase)) == (3, 1000 + (phase > 156))
    assert cap.read_mark(bytes(range(0x70, 0x7A))) is None  # audio without a mark
    assert cap.read_mark(b"\xb5\x81\x00\x00") is None  # a top bit where marks have none


def test_marked_wav_keeps_the_header_and_marks_every_frame():
    wav = cap.marked_wav(SPEECH, 2, seconds=1.0)
    start = wav.index(b"data") + 8
    assert wav[:4] == b"RIFF" and struct.unpack_from("<I", wav, 4)[0] == len(wav) - 8
    assert wav[8 : start - 8] == SPEECH.read_bytes()[8 : SPEECH.read_bytes().index(b"data")]
    audio = wav[start:]
    assert len(audio) == 50 * 160
    assert [cap.read_mark(audio[n * 160 + 37 :]) for n in (0, 49)] == [(2, 0), (2, 49)]
    with pytest.raises(ValueError):
        cap.marked_wav(SPEECH, 2, seconds=400)


def test_relayed_packets_are_paired_with_their_source_and_timed(tmp_path):
    """Two callers stream the same marks 100 ms apart (same kind): each relayed stream is
    matched to its own caller, delays as written; an IVR prompt stream is left alone."""
    packets = []
    delays = {31000: 0.0004, 31100: 0.0015}
    for n in range(100):
        t = 1000.0 + n * 0.02
        # caller A -> node 30000, relayed out of node 31000 to agent A
        packets.append((t, packet(20000, 30000, frame(1, n, 18))))
        packets.append((t + delays[31000], packet(31000, 40000, frame(1, n, 18))))
        # caller B started 100 ms later: the same counters, 5 frames behind
        packets.append((t + 0.1, packet(20002, 30002, frame(1, n, 0))))
        packets.append((t + 0.1 + delays[31100], packet(31100, 40002, frame(1, n, 0))))
        # the node's own prompt to an IVR-only caller (no mark), 1 ms late every 10th packet
        packets.append((t + (0.001 if n % 10 == 0 else 0), packet(30004, 40004, b"\x70" * 160)))
    write_pcap(tmp_path / "run.pcap", packets)
    flows = cap.read_pcap(tmp_path / "run.pcap")
    assert len(flows) == 5
    result = cap.relay_delays(flows, NODE, kind=1)
    assert sorted((i[3], o[1]) for i, o in result.pairs) == [(30000, 31000), (30002, 31100)]
    assert result.unmatched == 0 and len(result.delays_ms) == 200
    assert sorted({round(d, 3) for d in result.delays_ms}) == [0.4, 1.5]
    assert cap.pct(result.added_jitter_ms, 100) < 0.01  # constant delay: no jitter added
    assert cap.relay_delays(flows, NODE, kind=2).pairs == []
    prompt = flows[("127.0.0.1", 30004, "127.0.0.1", 40004)]
    assert prompt.kind is None
    deviations = cap.interval_deviations([prompt], skip_first=0)
    assert len(deviations) == 99
    assert np.isclose(deviations.max(), 1.0, atol=0.01)  # the late ones, and their next
    assert np.count_nonzero(deviations > 0.5) == 19
