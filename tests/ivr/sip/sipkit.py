"""Test kit for real SIP traffic on 127.0.0.1: free ports, a node in a thread, SIPp, an RTP sink."""

from __future__ import annotations

import contextlib
import random
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from config.sections import SipOptions
from config.settings import Settings
from ivr.channel import CallChannel
from ivr.sip import g711, rtp
from ivr.sip.adapter import SipNode

HERE = Path(__file__).parent
SCENARIOS = HERE / "scenarios"
FIXTURES = HERE / "fixtures"
SPEECH = FIXTURES / "speech.wav"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_even_block(size: int = 40) -> int:
    """The start of ``size`` consecutive free UDP ports (even), picked at random in 40000-59000."""
    for _ in range(200):
        base = random.randrange(40000, 59000, 2)
        socks = []
        try:
            for port in range(base, base + size):
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free UDP port block")


def speech_pcm16() -> bytes:
    """speech.wav (8 kHz mu-law WAV) decoded to 16-bit PCM: what SIPp streams."""
    data = SPEECH.read_bytes()
    start = data.index(b"data") + 8
    return g711.decode(data[start:], g711.PCMU)


def tone(seconds: float, hz: float = 440.0, amplitude: int = 8000) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def best_correlation(received: bytes, reference: bytes) -> float:
    """Max normalised cross-correlation of ``reference`` (first 2 s) anywhere in ``received``."""
    rx = np.frombuffer(received, "<i2").astype(np.float64)
    ref = np.frombuffer(reference, "<i2").astype(np.float64)[: 8000 * 2]
    if len(rx) < len(ref):
        return 0.0
    n = 1 << int(np.ceil(np.log2(len(rx) + len(ref))))
    corr = np.fft.irfft(np.fft.rfft(rx, n) * np.conj(np.fft.rfft(ref, n)), n)[: len(rx) - len(ref)]
    energy = np.sqrt(np.convolve(rx**2, np.ones(len(ref)), "valid")[: len(corr)])
    best = np.argmax(corr / np.maximum(energy, 1e-9))
    return float(corr[best] / (max(energy[best], 1e-9) * np.sqrt(np.sum(ref**2))))


def relayed_fidelity(received: bytes, reference: bytes, block_seconds: float = 0.1) -> float:
    """The share of the received audio's non-silent 100 ms blocks that are an exact copy (best
    correlation > 0.98) of a piece of ``reference``: 1 when the audio is the reference
    re-packetised; a relay that drops a frame now and then to stay in step spoils only the
    blocks holding a drop; noise, tones or a garbled codec match none.
    """
    block = int(8000 * block_seconds) * 2
    scores = []
    for start in range(0, len(received) - block + 1, block):
        chunk = received[start : start + block]
        if np.abs(np.frombuffer(chunk, "<i2")).mean() < 100:
            continue
        scores.append(best_correlation(reference, chunk))
    return float(np.mean(np.array(scores) > 0.98)) if scores else 0.0


@dataclass
class Node:
    node: SipNode
    stop: threading.Event
    thread: threading.Thread
    calls: list[dict[str, object]] = field(default_factory=list)

    def wait_idle(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (
                self.node.active_calls == 0
                and self.node.media.ports_in_use == 0
                and not call_threads()
            ):
                return
            time.sleep(0.05)
        raise AssertionError(
            f"not idle: {self.node.active_calls} calls, {self.node.media.ports_in_use} ports, "
            f"threads {[t.name for t in call_threads()]}"
        )


def call_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("call-")]


@contextlib.contextmanager
def running_node(
    on_call: Callable[[CallChannel], None],
    *,
    sip_port: int | None = None,
    registrar: tuple[str, int] | None = None,
    user: str = "ivr",
    password: str = "ivr",
    extra: dict[str, str] | None = None,
    settings_overrides: dict[str, object] | None = None,
) -> Iterator[Node]:
    base = free_even_block()
    settings = Settings(
        sip_registrar=registrar,
        sip_port=sip_port or free_udp_port(),
        sip_user=user,
        sip_password=password,
        sip_options=SipOptions.from_env(
            {
                "HOTLINE_RTP_PORTS": f"{base}-{base + 39}",
                "HOTLINE_IVR_ANSWER_DELAY": "0.05",
                **(extra or {}),
            }
        ),
        **(settings_overrides or {}),  # type: ignore[arg-type]
    )
    threads_before = {t.ident for t in threading.enumerate()}
    node = SipNode(settings, on_call)
    stop = threading.Event()
    thread = threading.Thread(target=node.run, args=(stop,), name=f"node-{user}", daemon=True)
    thread.start()
    running = Node(node, stop, thread)
    assert node.ready.wait(5), "node did not start"
    try:
        yield running
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive(), "node did not stop"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            left = [
                t
                for t in threading.enumerate()
                if t.ident not in threads_before and t.name.endswith(f"[{user}]")
            ]
            if not left:
                break
            time.sleep(0.05)
        assert not left, f"threads left after stop: {[t.name for t in left]}"


@dataclass
class SippResult:
    returncode: int
    output: str
    errors: str


def sipp(
    scenario: str,
    target: tuple[str, int],
    *,
    calls: int = 1,
    rate: float = 10,
    limit: int | None = None,
    hold_ms: int = 1000,
    sink: tuple[str, int] | None = None,
    service: str = "1567",
    extra: tuple[str, ...] = (),
    timeout: float = 60,
    background: bool = False,
    _attempt: int = 1,
) -> SippResult | subprocess.Popen[str]:
    local_port = free_udp_port()
    media_port = free_even_block(4)
    sink_ip, sink_port = sink or ("127.0.0.1", media_port)
    media_vars = ("-set", "sink_ip", sink_ip, "-set", "sink_port", str(sink_port))
    error_file = Path(f"/tmp/sipp-{local_port}-errors.log")
    error_file.unlink(missing_ok=True)
    args = [
        "sipp",
        "-sf",
        str(SCENARIOS / scenario),
        f"{target[0]}:{target[1]}",
        "-s",
        service,
        "-i",
        "127.0.0.1",
        "-p",
        str(local_port),
        "-mp",
        str(media_port),
        "-m",
        str(calls),
        "-r",
        str(rate),
        "-l",
        str(limit or calls),
        "-d",
        str(hold_ms),
        *(() if scenario == "registrar.xml" else media_vars),
        "-recv_timeout",
        "20000",
        "-timeout",
        f"{int(timeout)}s",
        "-timeout_error",
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(error_file),
        *extra,
    ]
    proc = subprocess.Popen(
        args, cwd=FIXTURES, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if background:
        return proc
    try:
        output, _ = proc.communicate(timeout=timeout + 15)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
    errors = error_file.read_text(errors="replace") if error_file.exists() else ""
    error_file.unlink(missing_ok=True)
    if proc.returncode != 0 and _ports_raced(output + errors) and _attempt < 3:
        # a port free when probed was taken before SIPp bound it (another process on the
        # machine): SIPp stopped before its first call, so nothing was sent; run it again
        return sipp(
            scenario, target, calls=calls, rate=rate, limit=limit, hold_ms=hold_ms, sink=sink,
            service=service, extra=extra, timeout=timeout, _attempt=_attempt + 1,
        )  # fmt: skip
    return SippResult(proc.returncode, output[-3000:], errors[-3000:])


def _ports_raced(text: str) -> bool:
    """SIPp could not bind a port and created no call (so retrying repeats nothing)."""
    return (
        "Unable to bind" in text
        and re.search(r"Total Calls created\s*\|\s*\|\s*0\b", text) is not None
    )


class RtpSink:
    """A UDP socket standing in for the caller's media port: records when each packet arrives."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.address = ("127.0.0.1", int(self.sock.getsockname()[1]))
        self.arrivals: dict[int, list[tuple[float, bytes]]] = {}
        self._running = True
        self._thread = threading.Thread(target=self._run, name="rtp-sink", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            try:
                data = self.sock.recv(2048)
            except TimeoutError:
                continue
            except OSError:
                return
            now = time.monotonic()
            with contextlib.suppress(rtp.RtpError):
                packet = rtp.parse(data)
                self.arrivals.setdefault(packet.ssrc, []).append((now, packet.payload))

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=2)
        self.sock.close()

    def intervals_ms(self) -> np.ndarray:
        gaps = [np.diff([t for t, _ in packets]) * 1000 for packets in self.arrivals.values()]
        return np.concatenate(gaps) if gaps else np.array([])

    def audio(self, ssrc: int) -> bytes:
        return g711.decode(b"".join(p for _, p in self.arrivals[ssrc]), g711.PCMU)

    def voice(self, payload_type: int) -> bytes:
        """The one stream's audio packets decoded (RFC 4733 events, 4-byte payloads, left out)."""
        (packets,) = self.arrivals.values()
        return g711.decode(b"".join(p for _, p in packets if len(p) != 4), payload_type)
