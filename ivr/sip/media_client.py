"""The node's side of its media process: RTP ports, one ``MediaHandle`` per call, the IPC socket.

The node binds each call's RTP port itself (the port goes into the SDP before the answer) and
hands the socket to the media process with the OPEN message; from then on the node only sends
bulk (a whole prompt per PLAY) and reads one BATCH of every call's caller audio per 40 ms in a
reader thread. Playback progress comes as a watermark (frames played at a media-clock instant)
that the handle extrapolates at 20 ms per frame, so ``playback_pending`` is exact to a frame
without a message per frame. If the media process dies, ``lost`` is set and the node ends its
calls with reason 'error' and starts a new one.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import os
import pickle
import random
import socket
import threading
import time
from dataclasses import dataclass

import numpy as np

from ivr.channel import FRAME_BYTES, FRAME_MS
from ivr.sip import ipc
from ivr.sip.ipc import Kind
from ivr.sip.media import FLUSH_TICKS, media_main

log = logging.getLogger(__name__)

FRAME_SECONDS = FRAME_MS / 1000
MAX_INBOUND_SECONDS = 120  # caller audio kept when the flow does not read it (bounded memory)
_MAX_INBOUND_CHUNKS = MAX_INBOUND_SECONDS * 1000 // (FRAME_MS * FLUSH_TICKS)
_SOCKET_BUFFER = 4 << 20
_STOP_TIMEOUT = 5.0
MAX_OUTBOX = 64 << 20  # bytes queued for a media process that stopped reading: lost past this


class NoPortsAvailable(RuntimeError):
    """Every RTP port of the configured range is in use."""


class MediaUnavailable(RuntimeError):
    """The media process is not running (it died and is being restarted)."""


@dataclass
class SendStats:
    """Histogram of the interval between consecutive packets of the same stream, in 0.1 ms bins."""

    histogram: np.ndarray

    def percentile_ms(self, q: float) -> float:
        total = int(self.histogram.sum())
        if not total:
            return float("nan")
        index = int(np.searchsorted(np.cumsum(self.histogram), q / 100 * total))
        return index / 10

    @property
    def count(self) -> int:
        return int(self.histogram.sum())


class MediaHandle:
    """One call's media as the node sees it: caller audio and keys in, prompts out."""

    def __init__(self, client: MediaClient, stream_id: int, port: int) -> None:
        self.client = client
        self.stream_id = stream_id
        self.port = port
        # Lock-free hand-over to the call thread: deque append/popleft are atomic, and the reader
        # polls every 20 ms (measured: a Condition per call cost 3x the CPU at 150 calls).
        self.inbound: collections.deque[bytes] = collections.deque(maxlen=_MAX_INBOUND_CHUNKS)
        self.dtmf: collections.deque[str] = collections.deque()
        self.timed_out = False
        self.closed = False
        self._queued = 0  # frames sent to the media process (cumulative)
        self._dropped_up_to = 0  # every frame queued before the last stop is gone
        self._watermark = (0.0, 0, 0)  # (media clock, frames played, frames queued) last reported

    def start(self, remote: tuple[str, int], payload_type: int, event_pt: int | None) -> None:
        start = ipc.StartStream(self.stream_id, remote, payload_type, event_pt)
        self.client.send(Kind.START, ipc.pack_start(start))

    def set_remote(self, remote: tuple[str, int]) -> None:
        self.client.send(Kind.REMOTE, ipc.pack_remote(self.stream_id, remote))

    def queue_pcm(self, pcm16: bytes) -> None:
        if self.closed or not pcm16:
            return
        frames = -(-len(pcm16) // FRAME_BYTES)

        def count() -> None:
            self._queued += frames

        self.client.send(Kind.PLAY, ipc.pack_play(self.stream_id, pcm16), under_lock=count)

    def stop_playback(self) -> None:
        def drop() -> None:
            self._dropped_up_to = self._queued

        self.client.send(Kind.STOP_PLAYBACK, ipc.pack_id(self.stream_id), under_lock=drop)

    def playback_pending(self) -> float:
        if self.closed:
            return 0.0
        at, played, queued = self._watermark
        # The media process sends one frame per tick while it has any: extrapolate from the
        # last report instead of waiting for the next one (up to 40 ms away).
        elapsed = int((time.monotonic() - at) / FRAME_SECONDS) if at else 0
        estimated = played + min(max(elapsed, 0), queued - played)
        return max(self._queued - max(estimated, self._dropped_up_to), 0) * FRAME_SECONDS

    def on_report(self, at: float, report: ipc.StreamReport) -> None:
        self._watermark = (at, report.played, report.queued)
        if report.pcm16:
            self.inbound.append(report.pcm16)

    def take_inbound(self) -> bytes:
        chunks = []
        with contextlib.suppress(IndexError):
            while True:
                chunks.append(self.inbound.popleft())
        return b"".join(chunks)


def _node_formatter() -> logging.Formatter | None:
    """The node's own log formatter (its first handler's), for the media process to log alike;
    None when it has none or it cannot be sent to the child (spawn pickles it)."""
    for handler in logging.getLogger().handlers:
        if handler.formatter is not None:
            try:
                pickle.dumps(handler.formatter)
            except Exception:  # a formatter holding a lock or a file: the child's own format
                return None
            return handler.formatter
    return None


class MediaClient:
    """Allocates RTP ports and runs the node's media process (multiprocessing 'spawn')."""

    def __init__(
        self,
        bind_ip: str,
        port_low: int,
        port_high: int,
        name: str = "media",
        rtp_timeout: float = 30.0,
        realtime: int = 0,  # the media process's SCHED_RR priority; 0: nice only
    ) -> None:
        if port_low > port_high:
            raise ValueError(f"RTP port range {port_low}-{port_high} is empty")
        self.name = name
        self.bind_ip = bind_ip
        self.rtp_timeout = rtp_timeout
        self.realtime = realtime
        # Even ports only: RTP convention, leaving port+1 for RTCP.
        self._free = list(range(port_low + port_low % 2, port_high + 1, 2))
        random.shuffle(self._free)
        self._lock = threading.Lock()  # ports and handles
        # The node never waits on the socket: ``send`` queues the frame (under this lock, in
        # order) and a writer thread writes it. On a busy CPU a whole prompt's sendall held the
        # caller (the SIP loop, under the node's lock) for up to a second.
        self._send_lock = threading.Lock()
        self._outbox: collections.deque[tuple[bytes, int | None] | None] = collections.deque()
        self._outbox_bytes = 0
        self._outbox_wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._handles: dict[int, MediaHandle] = {}
        self._next_id = 1
        self._sock: socket.socket | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._reader: threading.Thread | None = None
        self._stopping = False
        self.lost = threading.Event()
        self.restarts = 0
        self.late_ticks = 0
        self._stats_reply: bytes | None = None
        self._stats_ready = threading.Event()
        self._stats_lock = threading.Lock()

    # ------------------------------------------------------------------ process
    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def ports_in_use(self) -> int:
        with self._lock:
            return len(self._handles)

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")  # never fork: the node has threads
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        for sock in (ours, theirs):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _SOCKET_BUFFER)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SOCKET_BUFFER)
        process = context.Process(
            target=media_main,
            args=(
                theirs,
                self.rtp_timeout,
                os.getpid(),
                logging.getLogger().getEffectiveLevel(),
                self.realtime,
                _node_formatter(),
            ),
            name=f"media[{self.name}]",
            daemon=True,
        )
        process.start()
        theirs.close()  # only the child holds it now: its death reads as EOF here
        self._sock, self._process = ours, process
        self._stopping = False
        self.lost.clear()
        self._reader = threading.Thread(
            target=self._read_loop, args=(ours,), name=f"media-reader[{self.name}]", daemon=True
        )
        self._reader.start()
        self._writer = threading.Thread(
            target=self._write_loop, args=(ours,), name=f"media-writer[{self.name}]", daemon=True
        )
        self._writer.start()
        log.info("node %s: media process %d started", self.name, process.pid)

    def stop(self) -> None:
        self._stopping = True
        with self._lock:
            handles = list(self._handles.values())
        for handle in handles:
            self.release(handle)
        with contextlib.suppress(OSError):
            self.send(Kind.QUIT)
        self._reap()

    def restart(self) -> None:
        """After ``lost``: the calls are ended by the caller; start a fresh media process."""
        self._stopping = True
        self._reap()
        with self._lock:
            for handle in self._handles.values():
                handle.closed = True
                self._free.append(handle.port)
            self._handles.clear()
        self.restarts += 1
        self.start()

    def _reap(self) -> None:
        process, sock, reader, writer = self._process, self._sock, self._reader, self._writer
        if process is not None:
            process.join(_STOP_TIMEOUT)
            if process.is_alive():
                log.error("node %s: media process %d did not exit; killing", self.name, process.pid)
                process.kill()
                process.join(_STOP_TIMEOUT)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if reader is not None and reader is not threading.current_thread():
            reader.join(_STOP_TIMEOUT)
        if writer is not None and writer is not threading.current_thread():
            with self._send_lock:
                self._outbox.append(None)  # after whatever was queued
                self._outbox_wake.set()
            writer.join(_STOP_TIMEOUT)
        if process is not None:
            process.close()
        self._process = self._sock = self._reader = self._writer = None
        self._drop_outbox()  # what the writer did not send (after its stop): fds closed

    # ------------------------------------------------------------------ streams
    def allocate(self) -> MediaHandle:
        if self._sock is None or self.lost.is_set():
            raise MediaUnavailable(f"node {self.name}: no media process")
        with self._lock:
            for _ in range(len(self._free)):
                port = self._free.pop(0)
                sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    sock.bind((self.bind_ip, port))
                except OSError:
                    sock.close()
                    self._free.append(port)  # taken (maybe still closing in media): retry later
                    continue
                stream_id = self._next_id
                self._next_id = self._next_id % 0xFFFFFFFF + 1
                handle = MediaHandle(self, stream_id, port)
                self._handles[stream_id] = handle
                break
            else:
                raise NoPortsAvailable("no free RTP port in the configured range")
        # The socket goes with its OPEN (the writer closes our copy once sent): the media
        # process owns the port from then on.
        self.send(Kind.OPEN, ipc.pack_open(stream_id, port), fd=sock.detach())
        return handle

    def release(self, handle: MediaHandle) -> None:
        with self._lock:
            if self._handles.pop(handle.stream_id, None) is None:
                return
            handle.closed = True
            self._free.append(handle.port)
        self.send(Kind.CLOSE, ipc.pack_id(handle.stream_id))

    # ------------------------------------------------------------------ IPC
    def send(
        self,
        kind: Kind,
        payload: bytes = b"",
        *,
        fd: int | None = None,
        under_lock: object = None,
    ) -> None:
        """Queue one frame for the media process (``fd``: passed with it, then closed here);
        never blocks on the socket, and a dead media process is noted (``lost``), never raised."""
        data = ipc.frame(kind, payload)
        queued = overflow = False
        with self._send_lock:
            if callable(under_lock):
                under_lock()
            if self._writer is None or self.lost.is_set():
                pass
            elif self._outbox_bytes + len(data) > MAX_OUTBOX:
                overflow = True
            else:
                queued = True
                self._outbox.append((data, fd))
                self._outbox_bytes += len(data)
                self._outbox_wake.set()
        if not queued and fd is not None:
            os.close(fd)
        if overflow:
            self._on_lost(f"it stopped reading ({MAX_OUTBOX} bytes queued)")

    def _drop_outbox(self) -> None:
        """Frames left for a media process that is gone: dropped, their sockets closed."""
        with self._send_lock:
            left, self._outbox_bytes = list(self._outbox), 0
            self._outbox.clear()
        for item in left:
            if item is not None and item[1] is not None:
                os.close(item[1])

    def _write_loop(self, sock: socket.socket) -> None:
        outbox = self._outbox
        while True:
            self._outbox_wake.wait()
            self._outbox_wake.clear()
            while outbox:
                item = outbox.popleft()
                if item is None:
                    return
                data, fd = item
                with self._send_lock:
                    self._outbox_bytes -= len(data)
                try:
                    if fd is not None:
                        sent = socket.send_fds(sock, [data], [fd])
                        if sent < len(data):
                            sock.sendall(data[sent:])
                    else:
                        sock.sendall(data)
                except OSError as exc:
                    self._on_lost(f"send failed: {exc}")
                finally:
                    if fd is not None:
                        os.close(fd)

    def send_stats(self, timeout: float = 2.0) -> SendStats:
        """The media process's send-interval histogram since the last call (then reset)."""
        with self._stats_lock:
            self._stats_ready.clear()
            self.send(Kind.STATS)
            reply = self._stats_reply if self._stats_ready.wait(timeout) else None
        if reply is None:
            return SendStats(np.zeros(1, dtype=np.int64))
        return SendStats(np.frombuffer(reply, dtype="<i8").copy())

    def reset_send_stats(self) -> None:
        """``send_stats`` resets the media's histogram already (kept for the bench's API)."""

    def _read_loop(self, sock: socket.socket) -> None:
        reader = ipc.FrameReader()
        while True:
            try:
                data = sock.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                break
            try:
                for kind, payload in reader.feed(data):
                    self._on_message(kind, payload)
            except ipc.IpcError as exc:
                self._on_lost(f"unreadable message: {exc}")
                return
        if not self._stopping:
            self._on_lost("its socket closed")

    def _on_message(self, kind: Kind, payload: bytes) -> None:
        handles = self._handles
        if kind is Kind.BATCH:
            at, reports = ipc.unpack_batch(payload)
            for report in reports:
                handle = handles.get(report.stream_id)
                if handle is not None:
                    handle.on_report(at, report)
        elif kind is Kind.DTMF:
            stream_id, key = ipc.unpack_dtmf(payload)
            handle = handles.get(stream_id)
            if handle is not None:
                handle.dtmf.append(key)
        elif kind is Kind.TIMEOUT:
            handle = handles.get(ipc.unpack_id(payload))
            if handle is not None:
                handle.timed_out = True
        elif kind is Kind.STATS_REPLY:
            self.late_ticks, self._stats_reply = ipc.unpack_stats(payload)
            self._stats_ready.set()
        else:
            log.warning("node %s: unexpected %s from the media process", self.name, kind.name)

    def _on_lost(self, why: str) -> None:
        if self.lost.is_set() or self._stopping:
            return
        process = self._process
        exitcode = None
        if process is not None:
            process.join(0.5)
            exitcode = process.exitcode
        log.error(
            "node %s: media process %s lost (%s, exit code %s): its calls end",
            self.name,
            process.pid if process is not None else "?",
            why,
            exitcode,
        )
        self.lost.set()
