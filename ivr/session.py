"""One call, run in its own thread: channel activity -> flow events -> actions carried out.

The runner blocks on the channel with short timeouts (no busy loop: many calls share two cores),
and treats every service as fallible: a database or Redis failure is logged and the call goes on.
The WAV file is written whatever happens, and the recording and call records are finalised in
``finally`` even when the caller hangs up mid-prompt or mid-recording.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from ivr.channel import SAMPLE_RATE, SAMPLE_WIDTH, CallChannel, CallEnded
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
    RecordingEnded,
    RecordingFailed,
    RecordingStarted,
    RequestCallback,
    SetTimer,
    SpeechStarted,
    Started,
    StartRecording,
    StatusResult,
    StopPlayback,
    StopRecording,
    StoreSurvey,
    Timeout,
)
from ivr.flow.machine import CallFlow, CallState
from ivr.flow.menu import FlowConfig
from ivr.prompts.library import PromptLibrary
from ivr.recorder import ActiveRecording, SpeechDetector, WavWriter, recording_path
from ivr.recording_failure import (
    CALLBACK_NOTE,
    IVR,
    mark_callback_after_failure,
    report_storage_failure,
)
from ivr.status_lookup import lookup_status
from ticketing.audio_queue import AsrJob
from ticketing.container import Services

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_SECONDS = 0.04  # longest block on a channel read; also the timer resolution
STREAM_BATCH_SECONDS = 0.16  # audio per XADD: few Redis ops, still live enough for ASR
VAD_BATCH_SECONDS = 0.1  # silence and length limits are checked at this granularity


def run_call(
    channel: CallChannel,
    services: Services,
    flow_config: FlowConfig,
    prompts: PromptLibrary,
    *,
    node: str = "",
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run one answered call to its end; never raises (the adapter hangs up afterwards)."""
    CallSession(channel, services, flow_config, prompts, node=node, clock=clock).run()


class CallSession:
    def __init__(
        self,
        channel: CallChannel,
        services: Services,
        flow_config: FlowConfig,
        prompts: PromptLibrary,
        *,
        node: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._channel = channel
        self._services = services
        self._prompts = prompts
        self._node = node
        self._clock = clock
        self.call_id = channel.call_id
        self.flow = CallFlow(flow_config, self.call_id)
        self._timer_at: float | None = None
        self._playing = False
        self._recording: ActiveRecording | None = None
        self._failure_pending: str | None = None  # the recording just started cannot be stored
        self._channel_alive = True
        self._call_row = False
        self._batch_bytes = int(SAMPLE_RATE * SAMPLE_WIDTH * STREAM_BATCH_SECONDS)
        self._vad_bytes = int(SAMPLE_RATE * SAMPLE_WIDTH * VAD_BATCH_SECONDS)

    # --- the call ----------------------------------------------------------------------------
    def run(self) -> None:
        try:
            try:
                self._ensure_call_row()
                if self._call_row:
                    self._guard("answered", lambda: self._services.calls.answered(self.call_id))
                self._dispatch(Started(self._open_references()))
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
            key = self._channel.next_dtmf(POLL_SECONDS)
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
            self._guard(
                f"menu step {step.step}",
                lambda: self._services.calls.menu_step(self.call_id, step.step, step.digits),
            )

    def _open_references(self) -> tuple[str, ...]:
        caller = self._channel.caller_number
        if not caller:
            return ()
        tickets = self._guard(
            "open tickets", lambda: self._services.tickets.open_tickets_for_phone(caller), []
        )
        return tuple(t["reference"] for t in tickets or [])

    def _finish(self) -> None:
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

    # --- recording ---------------------------------------------------------------------------
    def _start_recording(self, action: StartRecording) -> Event:
        settings = self._services.settings
        path = recording_path(settings.recordings_dir, self.call_id)
        writer: WavWriter | None
        failure = None
        try:
            writer = WavWriter(path)
        except OSError as exc:
            # No file, no durable complaint: the caller is told at once (RecordingFailed).
            log.error("call %s: cannot create recording file %s: %s", self.call_id, path, exc)
            writer, failure = None, f"cannot create the file: {exc.strerror or exc}"
        recording = ActiveRecording(
            purpose=action.purpose,
            writer=writer,
            path=os.path.relpath(path, settings.data_dir),
            detector=SpeechDetector(action.speech_level_dbfs),
            limits=action,
            started_at=self._clock(),
        )
        self._recording = recording
        self._register_recording(recording)
        if failure is not None:
            self._storage_failed(recording, "create", failure)
        elif recording.recording_id is not None:
            recording.job_enqueued = recording.streaming = self._enqueue_job(recording, True)
        log.info(
            "call %s: recording %s to %s (draft %s)",
            self.call_id,
            action.purpose,
            recording.path,
            recording.reference,
        )
        return RecordingStarted(recording.reference)

    def _register_recording(self, recording: ActiveRecording) -> None:
        """Create the recording row and its draft ticket (the caller's number is on it)."""
        self._ensure_call_row()
        if not self._call_row:
            return
        result = self._guard(
            "start_recording",
            lambda: self._services.calls.start_recording(self.call_id, recording.path),
        )
        if result is None:
            return
        recording.recording_id, ticket = result
        recording.ticket_id = ticket["id"]
        recording.reference = ticket["reference"]
        if recording.purpose == "callback":
            reference = ticket["reference"]
            self._guard(
                "mark callback",
                lambda: self._services.tickets.update_fields(
                    reference, {"category": "INFO", "description": CALLBACK_NOTE}, IVR
                ),
            )

    def _storage_failed(self, recording: ActiveRecording, stage: str, reason: str) -> None:
        self._failure_pending = recording.write_error = reason
        report_storage_failure(self._services, self.call_id, recording.recording_id, stage, reason)

    def _enqueue_job(self, recording: ActiveRecording, streaming: bool) -> bool:
        assert recording.recording_id is not None and recording.ticket_id is not None
        job = AsrJob(
            recording_id=recording.recording_id,
            ticket_id=recording.ticket_id,
            call_id=self.call_id,
            path=recording.path,
            sample_rate=SAMPLE_RATE,
            streaming=streaming,
        )
        audio = self._services.audio
        # a file job at the end of the call: an ASR sweeper may have queued one already
        enqueue = audio.enqueue_job if streaming else audio.enqueue_if_absent
        return self._attempt("enqueue ASR job", lambda: enqueue(job))

    def _on_audio(self, recording: ActiveRecording, pcm: bytes) -> None:
        if recording.writer is not None:
            try:
                recording.writer.write(pcm)
            except OSError as exc:
                log.error("call %s: writing %s failed: %s", self.call_id, recording.path, exc)
                with contextlib.suppress(OSError):
                    recording.writer.close()  # keep what reached the disk; free the descriptor
                recording.writer = None
                self._storage_failed(recording, "write", f"writing failed: {exc.strerror or exc}")
                self._dispatch(RecordingFailed(recording.write_error or "write"))
                return
        if recording.streaming:
            recording.batch += pcm
            if len(recording.batch) >= self._batch_bytes:
                self._send_batch(recording)
        # The detector runs on ~100 ms at a time: its cost is mostly per call, not per byte.
        recording.vad_pending += pcm
        if len(recording.vad_pending) < self._vad_bytes:
            return
        chunk = bytes(recording.vad_pending)
        recording.vad_pending.clear()
        if recording.detector.feed(chunk):
            self._dispatch(SpeechStarted())
        reason = recording.limit_reached(self._clock())
        if reason and not recording.ended_reported:
            recording.ended_reported = True
            self._dispatch(RecordingEnded(reason))

    def _send_batch(self, recording: ActiveRecording) -> None:
        if not recording.batch or recording.recording_id is None:
            return
        chunk = bytes(recording.batch)
        recording.batch.clear()
        rid = recording.recording_id
        if not self._attempt("stream audio", lambda: self._services.audio.append_audio(rid, chunk)):
            # Stop streaming for this recording: one failure per call in the log, no repeated
            # connect timeouts; the worker falls back to the WAV file.
            recording.streaming = False
            recording.stream_broken = True

    def _stop_recording(self, action: StopRecording) -> None:
        recording, self._recording = self._recording, None
        if recording is None:
            return
        if recording.streaming:
            self._send_batch(recording)
        seconds = recording.detector.seconds
        if recording.writer is not None:
            seconds = recording.writer.seconds
            try:
                recording.writer.close()
            except OSError:
                log.exception("call %s: closing %s failed", self.call_id, recording.path)
        if recording.recording_id is None:
            # The database was down at the start: try again so the audio gets its draft.
            self._register_recording(recording)
        rid = recording.recording_id
        if rid is None:
            log.error(
                "call %s: recording %s kept without a draft ticket (database unavailable)",
                self.call_id,
                recording.path,
            )
            return
        self._guard(
            "finish_recording",
            lambda: self._services.calls.finish_recording(
                rid, duration_seconds=round(seconds, 3), partial=action.partial
            ),
        )
        self._end_stream(recording, action)
        log.info(
            "call %s: recording %d ended (%s, %.1f s, partial=%s) draft %s",
            self.call_id,
            rid,
            action.reason,
            seconds,
            action.partial,
            recording.reference,
        )

    def _end_stream(self, recording: ActiveRecording, action: StopRecording) -> None:
        assert recording.recording_id is not None
        rid = recording.recording_id
        if not recording.job_enqueued:
            # Redis was down at the start: a file-only job, so the recording still gets ASR
            # (unless there is no file: then the draft already says the recording failed).
            if recording.write_error is None:
                self._enqueue_job(recording, False)
            return
        reason = "hangup" if action.partial else action.reason
        if recording.stream_broken:
            reason = "stream_lost"  # tells the worker the chunks are incomplete: use the file
        self._guard("end audio", lambda: self._services.audio.end_audio(rid, reason))

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
