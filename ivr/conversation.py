"""A bridged conversation between a caller and a call-taker: the relay runs in the media process
(:meth:`Dialler.bridge`); here, its audio becomes a stereo WAV (caller left, agent right), a
recording row per channel on the call's draft, and one live ASR stream per channel (the agent's
optional, ``HOTLINE_ASR_AGENT_CHANNEL``).

The relay's ``on_audio`` callback only buffers: the disk and Redis are written from the call's
own thread, so the conversation never waits on them. A leg that sends no RTP (muted, on hold) is
padded with silence so the two channels stay in step. A caller the console puts on hold hears
hold music (the node's playback, which the relay sends to a held leg) until resumed.
"""

from __future__ import annotations

import array
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

from config.queue_settings import QueueSettings
from ivr.call_guard import CallGuard
from ivr.channel import FRAME_BYTES, SAMPLE_RATE, SAMPLE_WIDTH, CallChannel, CallEnded
from ivr.listen_in import ListenIn
from ivr.prompts.library import hold_music_pcm
from ivr.recorder import WavWriter, recording_path
from ticketing.audio_queue import AsrJob
from ticketing.container import Services

log = logging.getLogger(__name__)

WAIT_SLICE_SECONDS = 0.1  # the call's thread drains the buffers this often
STREAM_FRAMES = 8  # 160 ms of audio per XADD
COMMAND_SLICES = 5  # commands for the call (a transfer) are looked for every 0.5 s
HOLD_MUSIC_REFILL = 1.0  # a held caller's music is queued again when less than this is left
# what the officer's console may do to a live conversation: (bridge method, leg, on)
LEG_COMMANDS = {
    "hold": ("hold", "a", True),  # the caller on hold (re-INVITE sendonly)
    "resume": ("hold", "a", False),
    "mute": ("mute", "b", True),  # the officer's microphone not sent to the caller
    "unmute": ("mute", "b", False),
}


class BridgeLike(Protocol):
    def wait(self, timeout: float | None = None) -> str | None: ...
    def hold(self, leg: str, on: bool) -> None: ...
    def mute(self, leg: str, on: bool) -> None: ...
    def unbridge(self) -> None: ...


class DialResultLike(Protocol):
    @property
    def outcome(self) -> str: ...
    @property
    def channel(self) -> CallChannel | None: ...


class DiallerLike(Protocol):
    """What the queue needs of :class:`ivr.outbound.Dialler` (the SIP node implements it)."""

    def dial(
        self,
        target: str,
        *,
        caller_id: str,
        ring_timeout: float,
        cancel: threading.Event | None = None,
        on_ringing: Callable[[], None] | None = None,
    ) -> Any: ...

    def bridge(
        self, a: CallChannel, b: CallChannel, on_audio: Callable[[str, bytes], None] | None = None
    ) -> Any: ...


class Bridging(Protocol):
    def bridge(
        self, a: CallChannel, b: CallChannel, on_audio: Callable[[str, bytes], None] | None = None
    ) -> Any: ...


@dataclass
class _Leg:
    channel: str  # caller | agent
    recording_id: int | None = None
    pending: bytearray = field(default_factory=bytearray)
    batch: bytearray = field(default_factory=bytearray)
    streaming: bool = False


def interleave(left: bytes, right: bytes) -> bytes:
    """Two mono 16-bit PCM runs of equal length as one stereo run (L R L R ...)."""
    a, b = array.array("h", left), array.array("h", right)
    out = array.array("h", bytes(len(left) * 2))
    out[0::2] = a
    out[1::2] = b
    return out.tobytes()


class Conversation(CallGuard):
    def __init__(self, services: Services, settings: QueueSettings, call_id: str) -> None:
        self._services = services
        self._settings = settings
        self.call_id = call_id
        self._legs = {"a": _Leg("caller"), "b": _Leg("agent")}
        self._lock = threading.Lock()
        self._writer: WavWriter | None = None
        self.path = ""
        self.bridge: BridgeLike | None = None
        self.command: object | None = None
        self.hold_seconds = 0.0
        self._held_since: float | None = None
        self._caller: CallChannel | None = None
        self._music = b""
        self.listens: list[ListenIn] = []  # supervisors' listen-ins (ivr.listen_in)

    def on_audio(self, side: str, pcm: bytes) -> None:
        """The relay's thread: buffer only."""
        leg = self._legs.get(side)
        if leg is not None:
            with self._lock:
                leg.pending += pcm

    def run(
        self,
        dialler: Bridging,
        caller: CallChannel,
        agent: CallChannel,
        commands: Callable[[], object | None] | None = None,
    ) -> str | None:
        """Bridge, record and stream until a leg ends; returns "a" (caller) or "b" (agent), or
        None when ``commands`` returned one (kept in ``self.command``: a transfer)."""
        self.bridge = dialler.bridge(caller, agent, on_audio=self.on_audio)
        self._caller = caller
        self._open()
        ended: str | None = None
        slices = 0
        try:
            while ended is None:
                ended = self.bridge.wait(WAIT_SLICE_SECONDS)
                self._drain(final=False)
                self._hold_music()
                slices += 1
                if ended is None and commands is not None and slices % COMMAND_SLICES == 0:
                    command = commands()
                    if getattr(command, "action", None) in LEG_COMMANDS:
                        self._leg_command(str(getattr(command, "action", "")))
                    elif getattr(command, "action", None) == "listen":
                        target = str(getattr(command, "target", ""))
                        self.listens.append(
                            ListenIn(dialler, self.bridge, self.call_id, target).start()
                        )
                    elif command is not None:
                        self.command = command  # a transfer: the caller's session acts
                        break
        finally:
            for listen in self.listens:  # the conversation is over: so are its listen-ins
                listen.stop()
            if self._held_since is not None:
                self.hold_seconds += time.monotonic() - self._held_since
            self._drain(final=True)
            self._close()
        return ended

    def _leg_command(self, action: str) -> None:
        method, leg, on = LEG_COMMANDS[action]
        assert self.bridge is not None
        try:
            getattr(self.bridge, method)(leg, on)
        except Exception as exc:
            log.error("call %s: %s failed: %s", self.call_id, action, exc)
            return
        if method == "hold" and on and self._held_since is None:
            self._held_since = time.monotonic()
            self._hold_music()
        elif method == "hold" and not on and self._held_since is not None:
            self.hold_seconds += time.monotonic() - self._held_since
            self._held_since = None
            self._guard_channel(lambda channel: channel.stop_playback())
        log.info("call %s: %s", self.call_id, action)

    def _hold_music(self) -> None:
        """The held caller hears music (the relay sends the node's playback to a held leg)."""
        if self._held_since is None:
            return
        if not self._music:
            self._music = hold_music_pcm()
        music = self._music

        def refill(channel: CallChannel) -> None:
            if channel.playback_pending() < HOLD_MUSIC_REFILL:
                channel.play(music)

        self._guard_channel(refill)

    def _guard_channel(self, act: Callable[[CallChannel], object]) -> None:
        if self._caller is None:
            return
        try:
            act(self._caller)
        except CallEnded as exc:  # the caller hung up meanwhile: the bridge ends the loop
            log.info("call %s: hold music: %s", self.call_id, type(exc).__name__)

    def _open(self) -> None:
        settings = self._services.settings
        path = recording_path(settings.recordings_dir, f"{self.call_id}-conversation")
        self.path = os.path.relpath(path, settings.data_dir)
        try:
            self._writer = WavWriter(path, channels=2)
        except OSError as exc:
            log.error("call %s: cannot create %s: %s", self.call_id, path, exc)
        rows = self._guard(
            lambda: self._services.call_queue.start_conversation_recording(self.call_id, self.path)
        )
        if rows is None:
            return
        for leg in self._legs.values():
            leg.recording_id = rows[leg.channel]
            if leg.channel == "agent" and not self._settings.transcribe_agent:
                continue
            job = AsrJob(
                recording_id=rows[leg.channel],
                ticket_id=rows["ticket_id"],
                call_id=self.call_id,
                path=self.path,
                sample_rate=SAMPLE_RATE,
                streaming=True,
                channel=leg.channel,
            )
            leg.streaming = self._attempt(partial(self._services.audio.enqueue_job, job))

    def _drain(self, *, final: bool) -> None:
        with self._lock:
            a, b = self._legs["a"].pending, self._legs["b"].pending
            if final or abs(len(a) - len(b)) > 3 * FRAME_BYTES:
                longest = max(len(a), len(b))
                a += bytes(longest - len(a))
                b += bytes(longest - len(b))
            count = min(len(a), len(b)) // SAMPLE_WIDTH * SAMPLE_WIDTH
            left, right = bytes(a[:count]), bytes(b[:count])
            del a[:count], b[:count]
        if count and self._writer is not None:
            try:
                self._writer.write(interleave(left, right))
            except OSError as exc:
                log.error("call %s: writing the conversation failed: %s", self.call_id, exc)
                self._writer = None
        self._stream(self._legs["a"], left, final)
        self._stream(self._legs["b"], right, final)

    def _stream(self, leg: _Leg, pcm: bytes, final: bool) -> None:
        if not leg.streaming or leg.recording_id is None:
            return
        leg.batch += pcm
        if not leg.batch or (len(leg.batch) < FRAME_BYTES * STREAM_FRAMES and not final):
            return
        chunk = bytes(leg.batch)
        leg.batch.clear()
        append = self._services.audio.append_audio
        if not self._attempt(partial(append, leg.recording_id, chunk)):
            leg.streaming = False  # the worker falls back to the file

    def _close(self) -> None:
        seconds = 0.0
        if self._writer is not None:
            seconds = self._writer.seconds
            try:
                self._writer.close()
            except OSError:
                log.exception("call %s: closing %s failed", self.call_id, self.path)
        finish = self._services.calls.finish_recording
        for leg in self._legs.values():
            if leg.recording_id is None:
                continue
            rid = leg.recording_id
            self._attempt(partial(finish, rid, duration_seconds=round(seconds, 3), partial=False))
            if leg.streaming:
                self._attempt(partial(self._services.audio.end_audio, rid, "end"))
