"""The result dialler of an IVR node (issue 12): a thread that claims due result calls from the
outbox (``ticketing.result_calls``), at most ``HOTLINE_RESULT_CALL_CONCURRENCY`` at a time per
node so they never crowd out inbound callers, dials ``tel:<number>`` through Kamailio to the
trunk, runs the result-call flow on the answered leg and records the outcome.

Answering-machine detection is by energy over the first seconds of the answered leg (audio time,
so it behaves the same under load): a short "ฮัลโหล" then a pause is a person; a greeting longer
than 2.5 s is a machine (the message starts after it ends); 4 s of silence is silence; a key press
is a person.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from ivr.channel import CallChannel, CallEnded
from ivr.flow.events import (
    Action,
    CallerHungUp,
    CancelTimer,
    Digit,
    HangUp,
    Play,
    PromptFinished,
    SetTimer,
    StopPlayback,
    Timeout,
)
from ivr.flow.result_call import Greeting, ResultCallFlow, ResultCallInfo, ResultCallState
from ivr.prompts.library import PromptLibrary
from ivr.prompts.speech import agency_prompt
from ivr.recorder import SpeechDetector
from ticketing.container import Services
from ticketing.result_calls import ClaimedAttempt, ResultCalls
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)

POLL_SECONDS = 0.04
CLAIM_INTERVAL = 5.0  # seconds between looks at the outbox when nothing was due
HUMAN_PAUSE = 0.8  # silence after a short greeting: a person waiting for an answer
MACHINE_TALK = 2.5  # a greeting this long is a recorded one
MACHINE_END_SILENCE = 1.0  # the machine's greeting (and beep) is over
MACHINE_MAX_WAIT = 20.0
SILENCE_WAIT = 4.0  # nothing heard at all


class _DialResult(Protocol):
    @property
    def outcome(self) -> str: ...
    @property
    def status(self) -> int | None: ...
    @property
    def channel(self) -> CallChannel | None: ...


class OutboundDialler(Protocol):
    """The part of ``ivr.outbound.Dialler`` the result dialler uses."""

    def dial(
        self,
        target: str,
        *,
        caller_id: str,
        ring_timeout: float,
        cancel: threading.Event | None = None,
        on_ringing: Callable[[], None] | None = None,
    ) -> _DialResult: ...


# DialOutcome -> the result call's outcome (busy and no answer retried; the rest: failed)
_NOT_ANSWERED = {"busy": "busy", "no_answer": "no_answer"}


class GreetingDetector:
    """Person, machine or silence, from the answered leg's first audio."""

    def __init__(self, started: float) -> None:
        self._speech = SpeechDetector()
        self._started_wall = started
        self._speech_at: float | None = None  # audio time when speech started
        self._machine = False
        self._audio_at = started  # wall time audio last arrived (a phone may stop sending RTP)

    def feed(self, pcm16: bytes, now: float) -> str | None:
        if pcm16:
            self._audio_at = now
            if self._speech.feed(pcm16):
                self._speech_at = self._speech.seconds
        detector = self._speech
        if not detector.speech_started:
            waited = max(detector.seconds, now - self._started_wall)
            return "silence" if waited >= SILENCE_WAIT else None
        assert self._speech_at is not None
        talk = detector.seconds - detector.silence_seconds - self._speech_at
        if not self._machine:
            paused = max(detector.silence_seconds, now - self._audio_at)
            if paused >= HUMAN_PAUSE and talk < MACHINE_TALK:
                return "human"
            self._machine = talk >= MACHINE_TALK
            return None
        if max(detector.silence_seconds, now - self._audio_at) >= MACHINE_END_SILENCE:
            return "machine"
        return "machine" if now - self._started_wall >= MACHINE_MAX_WAIT else None


def run_result_call(
    channel: CallChannel,
    flow: ResultCallFlow,
    prompts: PromptLibrary,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Drive the flow on an answered leg to its end (never raises; hangs up at the end)."""
    timer_at: float | None = None
    playing = False
    alive = True
    detector = GreetingDetector(clock())

    def execute(actions: list[Action]) -> None:
        nonlocal timer_at, playing, alive
        for action in actions:
            if isinstance(action, Play) and alive:
                channel.play(prompts.join(action.prompts))
                playing = True
            elif isinstance(action, StopPlayback) and alive:
                channel.stop_playback()
                playing = False
            elif isinstance(action, SetTimer):
                timer_at = clock() + action.seconds
            elif isinstance(action, CancelTimer):
                timer_at = None
            elif isinstance(action, HangUp) and alive:
                channel.hangup()
                alive = False

    try:
        while flow.state is not ResultCallState.ENDED:
            key = channel.next_dtmf(POLL_SECONDS)
            audio = channel.read_audio(0)
            if flow.state is ResultCallState.DETECTING:
                kind = detector.feed(audio, clock())
                if kind is not None and not key:
                    execute(flow.handle(Greeting(kind)))
            if key:
                execute(flow.handle(Digit(key)))
            if playing and channel.playback_pending() <= 0:
                playing = False
                execute(flow.handle(PromptFinished()))
            if timer_at is not None and clock() >= timer_at:
                timer_at = None
                execute(flow.handle(Timeout()))
    except CallEnded:
        alive = False
        flow.handle(CallerHungUp())
    except Exception:
        log.exception("result call %s: the flow failed; hanging up", channel.call_id)
        flow.handle(CallerHungUp())
    finally:
        if alive:
            channel.hangup()


class ResultDialler:
    def __init__(
        self,
        calls: ResultCalls,
        dialler: OutboundDialler,
        prompts: PromptLibrary,
        node: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        claim_interval: float = CLAIM_INTERVAL,
        channel_clock: Callable[[CallChannel], Callable[[], float]] = lambda _c: time.monotonic,
    ) -> None:
        self._calls = calls
        self._dialler = dialler
        self._prompts = prompts
        self._node = node
        self._clock = clock
        self._claim_interval = claim_interval
        self._channel_clock = channel_clock  # a test's virtual-time channel brings its clock
        self._limit = calls.settings.concurrency
        self._active: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.stop_event = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._active)

    def start(self) -> ResultDialler:
        self._thread = threading.Thread(target=self._loop, name="result-dialler", daemon=True)
        self._thread.start()
        log.info("result dialler on %s: up to %d calls at a time", self._node, self._limit)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for worker in list(self._active):
            worker.join(timeout)

    def kick(self) -> None:
        """Look at the outbox now (tests; a scheduler pass)."""
        self._wake.set()

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                started = self.run_once()
            except Exception:
                log.exception("result dialler: claiming due calls failed; retrying")
                started = 0
            if not started:
                self._wake.wait(self._claim_interval)
                self._wake.clear()

    def run_once(self, now: datetime | None = None) -> int:
        """Claim what is due (within the free slots) and start each call in its own thread."""
        free = self._limit - self.active
        if free <= 0 or self.stop_event.is_set():
            return 0
        claimed = self._calls.claim_due(self._node, limit=free, now=now or self._clock())
        for attempt in claimed:
            worker = threading.Thread(
                target=self._place, args=(attempt,), name=f"result-call-{attempt.attempt_id}"
            )
            with self._lock:
                self._active.add(worker)
            worker.start()
        return len(claimed)

    def _place(self, attempt: ClaimedAttempt) -> None:
        try:
            outcome, rating, status, reason = self._call(attempt)
            self._calls.finish(
                attempt,
                outcome,
                rating=rating,
                sip_status=status,
                reason=reason,
                now=self._clock(),
            )
        except Exception:
            log.exception("result call %d: recording the outcome failed", attempt.result_call_id)
        finally:
            with self._lock:
                self._active.discard(threading.current_thread())
            self._wake.set()

    def _call(self, attempt: ClaimedAttempt) -> tuple[str, int | None, int | None, str | None]:
        log.info(
            "result call %d (ticket %s): dialling %s, attempt %d",
            attempt.result_call_id,
            attempt.ticket_reference,
            attempt.caller_masked,
            attempt.attempt,
        )
        settings = self._calls.settings
        result = self._dialler.dial(
            f"tel:{attempt.number}",
            caller_id=settings.caller_id,
            ring_timeout=settings.ring_timeout,
            cancel=self.stop_event,
        )
        outcome = str(getattr(result.outcome, "value", result.outcome))
        if outcome != "answered" or result.channel is None:
            if outcome == "cancelled":
                return "failed", None, result.status, "the node stopped while it rang"
            mapped = _NOT_ANSWERED.get(outcome, "failed")
            why = None if mapped != "failed" else f"{outcome} (SIP {result.status or '-'})"
            return mapped, None, result.status, why
        info = ResultCallInfo(
            reference=attempt.ticket_reference,
            status=attempt.status,
            agency_prompt=agency_prompt(attempt.agency_code, self._prompts.ids),
            resolution_type=attempt.resolution_type,
            trigger=attempt.trigger,
            status_line_number=settings.status_line_number,
        )
        flow = ResultCallFlow(info)
        clock = self._channel_clock(result.channel)
        run_result_call(result.channel, flow, self._prompts, clock=clock)
        return flow.outcome or "answered", flow.rating, result.status, None


class NodeResultCalls:
    """For ``ivr.node``: ``on_started`` (the ``serve`` hook) starts this node's result dialler
    on the SIP node once its socket is bound; ``stop`` ends it with the node."""

    def __init__(self, services: Services, prompts: PromptLibrary, node: str) -> None:
        self._services = services
        self._prompts = prompts
        self._node = node
        self._stop = threading.Event()
        self._dialler: ResultDialler | None = None

    def on_started(self, dialler: OutboundDialler) -> None:
        if not self._services.settings.citizen.enabled:
            log.info("result calls are off (HOTLINE_RESULT_CALLS)")
            return
        ready = getattr(dialler, "ready", None)
        results = ResultDialler(self._services.result_calls, dialler, self._prompts, self._node)
        self._dialler = results

        def start_when_ready() -> None:
            if isinstance(ready, threading.Event):
                while not ready.wait(0.5):
                    if self._stop.is_set():
                        return
            if not self._stop.is_set():
                results.start()

        threading.Thread(target=start_when_ready, name="result-dialler-start", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._dialler is not None:
            self._dialler.stop()
