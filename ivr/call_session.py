"""One call, run in its own thread: channel activity -> flow events -> actions carried out.

The runner blocks on the channel with short timeouts (no busy loop: many calls share two cores),
and treats every service as fallible: a database or Redis failure is logged and the call goes on.
The WAV file is written whatever happens, and the recording and call records are finalised in
``finally`` even when the caller hangs up mid-prompt or mid-recording.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from ivr.channel import SAMPLE_RATE, SAMPLE_WIDTH, CallChannel, CallEnded
from ivr.conversation import DiallerLike
from ivr.flow.events import (
    Action,
    CallerHungUp,
    CancelTimer,
    Digit,
    Event,
    HangUp,
    LogStep,
    LookupStatus,
    Play,
    PromptFinished,
    RecordingFailed,
    RequestCallback,
    SetTimer,
    Started,
    StartRecording,
    StatusResult,
    StopPlayback,
    StopRecording,
    StoreSurvey,
    Timeout,
    UrgentHeard,
)
from ivr.flow.machine import CallFlow, CallState
from ivr.flow.menu import FlowConfig
from ivr.flow.queue_states import QueueTiming
from ivr.prompts.library import PromptLibrary
from ivr.queue_call import QUEUE_ACTIONS, QueueCall
from ivr.recorder import ActiveRecording
from ivr.recording_failure import (
    mark_callback_after_failure,
)
from ivr.session_recording import SessionRecording
from ivr.status_lookup import lookup_status
from ticketing.container import Services
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_SECONDS = 0.04  # longest block on a channel read while recording
# Otherwise the session waits for a key up to this, waking for the prompt's end and the timer:
# 300 sessions waking 25 times a second held the GIL enough to stall the node's SIP loop.
IDLE_POLL_SECONDS = 0.1
STREAM_BATCH_SECONDS = 0.16  # audio per XADD: few Redis ops, still live enough for ASR
STEP_FLUSH_SECONDS = 1.0  # a call's menu steps are written together, this long after the first
VAD_BATCH_SECONDS = 0.1  # silence and length limits are checked at this granularity


@dataclass(frozen=True)
class SessionOptions:
    """How a call session runs, beyond its channel, services, flow and prompts: ``node`` (on
    the call record), ``clock``, ``dialler`` rings the call-takers' phones (None: nobody can be
    rung, the queue offers a callback and the recording), ``urgent(call_id)`` says danger was
    heard in its transcript."""

    node: str = ""
    clock: Callable[[], float] = time.monotonic
    dialler: DiallerLike | None = None
    urgent: Callable[[str], bool] | None = None


def run_call(
    channel: CallChannel,
    services: Services,
    flow_config: FlowConfig,
    prompts: PromptLibrary,
    options: SessionOptions | None = None,
    **fields: Any,
) -> None:
    """Run one answered call to its end; never raises (the adapter hangs up afterwards).
    ``options`` (:class:`SessionOptions`), or its fields as keywords (``node=...``)."""
    chosen = replace(options or SessionOptions(), **fields)
    CallSession(channel, services, flow_config, prompts, chosen).run()


class CallSession(SessionRecording):
    def __init__(
        self,
        channel: CallChannel,
        services: Services,
        flow_config: FlowConfig,
        prompts: PromptLibrary,
        options: SessionOptions | None = None,
    ) -> None:
        options = options or SessionOptions()
        node, clock, dialler, urgent = options.node, options.clock, options.dialler, options.urgent
        self._channel = channel
        self._services = services
        self._prompts = prompts
        self._node = node
        self._clock = clock
        self.call_id = channel.call_id
        queue = services.settings.queue
        timing = QueueTiming(queue.announce_interval_seconds, queue.offer_after_seconds)
        self.flow = CallFlow(flow_config, self.call_id, timing)
        states = services.presence.store.config
        self._queue = QueueCall(
            channel, services, dialler, node=node, settings=queue, clock=clock,
            ring_timeout=queue.ring_timeout_seconds or states.no_answer_seconds,
            wrap_up_seconds=states.wrap_up_seconds,
        )  # fmt: skip
        self._urgent = urgent
        self._urgent_at = 0.0
        self._timer_at: float | None = None
        self._playing = False
        self._recording: ActiveRecording | None = None
        self._failure_pending: str | None = None  # the recording just started cannot be stored
        self._channel_alive = True
        self._call_row = False
        self._steps: list[tuple[str, str | None, datetime]] = []  # not yet written, in order
        self._steps_due: float | None = None
        self._batch_bytes = int(SAMPLE_RATE * SAMPLE_WIDTH * STREAM_BATCH_SECONDS)
        self._vad_bytes = int(SAMPLE_RATE * SAMPLE_WIDTH * VAD_BATCH_SECONDS)

    # --- the call ----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            try:
                self._ensure_call_row()
                if self._call_row:
                    self._guard("answered", lambda: self._services.calls.answered(self.call_id))
                self._dispatch(Started(self._open_references(), self._channel.caller_number))
                while self.flow.state is not CallState.ENDED:
                    self._poll()
            except CallEnded:
                log.info("call %s: caller left (%s)", self.call_id, self._channel.end_reason)
                self._channel_alive = False
                self._dispatch(CallerHungUp())
        except Exception:
            log.exception("call %s: unexpected error in the call flow; ending it", self.call_id)
        finally:
            try:
                self._finish()
            except Exception:
                log.exception("call %s: finalising the call failed", self.call_id)

    def _poll(self) -> None:
        recording = self._recording
        if recording is not None:
            # Audio arrives every 20 ms while recording: block on it, glance at the keys.
            audio = self._channel.read_audio(POLL_SECONDS)
            key = self._channel.next_dtmf(0)
        else:
            key = self._channel.next_dtmf(self._idle_wait())
            audio = self._channel.read_audio(0)  # drained so the adapter's buffer stays small
        if audio and recording is not None:
            self._on_audio(recording, audio)
        if key:
            self._dispatch(Digit(key))
        if self._playing and self._channel.playback_pending() <= 0:
            self._playing = False
            self._dispatch(PromptFinished())
        if self._timer_at is not None and self._clock() >= self._timer_at:
            self._timer_at = None
            self._dispatch(Timeout())
        if self.flow.in_queue(self.flow.state) and (answered := self._queue.poll()) is not None:
            self._dispatch(answered)
        if self._steps_due is not None and self._clock() >= self._steps_due:
            self._flush_steps()
        if recording is not None and self._urgent and self._clock() - self._urgent_at > 0.5:
            self._urgent_at = self._clock()
            if self._guard("urgency", lambda: self._urgent(self.call_id) if self._urgent else 0):
                self._dispatch(UrgentHeard())

    def _idle_wait(self) -> float:
        wait = IDLE_POLL_SECONDS
        if self._playing:
            wait = min(wait, self._channel.playback_pending())
        if self._timer_at is not None:
            wait = min(wait, self._timer_at - self._clock())
        return max(wait, 0.0)

    def _dispatch(self, event: Event) -> None:
        events: deque[Event] = deque([event])
        while events:
            for action in self.flow.handle(events.popleft()):
                follow_up = self._execute(action)
                if follow_up is not None:
                    events.append(follow_up)
                if self._failure_pending is not None and isinstance(action, StartRecording):
                    events.append(RecordingFailed(self._failure_pending))

    def _execute(self, action: Action) -> Event | None:
        if isinstance(action, Play):
            if self._channel_alive:
                self._channel.play(self._prompts.join(action.prompts))
                self._playing = True
        elif isinstance(action, StopPlayback):
            self._playing = False
            if self._channel_alive:
                self._channel.stop_playback()
        elif isinstance(action, SetTimer):
            self._timer_at = self._clock() + action.seconds
        elif isinstance(action, CancelTimer):
            self._timer_at = None
        elif isinstance(action, LogStep):
            self._log_step(action)
        elif isinstance(action, StartRecording):
            return self._start_recording(action)
        elif isinstance(action, StopRecording):
            self._stop_recording(action)
        elif isinstance(action, LookupStatus):
            return self._lookup_status(action.reference)
        elif isinstance(action, StoreSurvey):
            rating = action.rating
            self._guard("survey", lambda: self._services.calls.record_survey(self.call_id, rating))
        elif isinstance(action, RequestCallback):
            mark_callback_after_failure(self._services, self.call_id, self.flow.reference)
        elif isinstance(action, QUEUE_ACTIONS):
            self._flush_steps()
            event = self._queue.execute(action, self.flow.reference)
            if isinstance(event, CallerHungUp):
                self._channel_alive = False  # the caller hung up on the officer
            return event
        elif isinstance(action, HangUp):
            log.info("call %s: hanging up (%s)", self.call_id, action.reason)
            if self._channel_alive:
                self._channel.hangup()
                self._channel_alive = False
        return None

    # --- call record -------------------------------------------------------------------------
    def _ensure_call_row(self) -> None:
        """Create the call row; retried later if the database was down at the start."""
        if self._call_row:
            return
        channel = self._channel
        self._call_row = self._attempt(
            "start_call",
            lambda: self._services.calls.start_call(
                self.call_id,
                sip_call_id=channel.sip_call_id,
                caller_number=channel.caller_number,
                node=self._node,
            ),
        )

    def _log_step(self, step: LogStep) -> None:
        if self._call_row:
            self._steps.append((step.step, step.digits, utcnow()))
            if self._steps_due is None:
                self._steps_due = self._clock() + STEP_FLUSH_SECONDS

    def _flush_steps(self) -> None:
        """The steps so far in one transaction (at 15 new calls a second, one per step was a
        sixth of the node's interpreter time): before the queue (a conversation lasts minutes),
        a second after the first, and at the end."""
        steps, self._steps, self._steps_due = self._steps, [], None
        if steps:
            names = ",".join(s[0] for s in steps)
            self._guard(
                f"menu steps {names}", lambda: self._services.calls.menu_steps(self.call_id, steps)
            )

    def _open_references(self) -> tuple[str, ...]:
        caller = self._channel.caller_number
        if not caller:
            return ()
        references = self._guard(
            "open tickets", lambda: self._services.tickets.open_references_for_phone(caller), []
        )
        return tuple(references or [])

    def _finish(self) -> None:
        self._flush_steps()
        if self._recording is not None:
            # Only reached when the flow broke mid-recording: keep what was recorded.
            self._stop_recording(StopRecording("error", partial=True))
        if self.flow.end_reason is not None:
            reason = self.flow.end_reason  # we said goodbye (the caller may have left during it)
        elif self.flow.caller_hung_up:
            reason = self._channel.end_reason or "bye"
        else:
            reason = "error"
        abandoned = self.flow.abandoned
        if self._queue.close() and self.flow.caller_hung_up:
            self._guard(
                "outcome",
                lambda: self._services.call_queue.set_outcome(self.call_id, "abandoned_in_queue"),
            )
        self._ensure_call_row()
        if self._call_row:
            self._guard(
                "end_call",
                lambda: self._services.calls.end_call(self.call_id, reason, abandoned=abandoned),
            )
        if self._channel_alive:
            try:
                self._channel.hangup()
            except Exception:
                log.exception("call %s: hang-up failed", self.call_id)

    # --- status ------------------------------------------------------------------------------
    def _lookup_status(self, reference: str) -> StatusResult:
        return lookup_status(self._services.tickets, self._prompts.ids, reference, self.call_id)

    # --- failures are logged, never raised into the call -----------------------------------
    def _guard(self, what: str, fn: Callable[[], T], default: Any = None) -> Any:
        try:
            return fn()
        except Exception as exc:
            log.error("call %s: %s failed: %s: %s", self.call_id, what, type(exc).__name__, exc)
            return default

    def _attempt(self, what: str, fn: Callable[[], object]) -> bool:
        try:
            fn()
        except Exception as exc:
            log.error("call %s: %s failed: %s: %s", self.call_id, what, type(exc).__name__, exc)
            return False
        return True
