"""The IVR's own recording of a call (a mixin of :class:`ivr.call_session.CallSession`): the
mono WAV, its row and draft, live ASR streaming, the speech detector's limits, storage failures."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from typing import Any

from ivr.channel import SAMPLE_RATE
from ivr.flow.events import (
    Event,
    RecordingEnded,
    RecordingFailed,
    RecordingStarted,
    SpeechStarted,
    StartRecording,
    StopRecording,
)
from ivr.recorder import ActiveRecording, SpeechDetector, WavWriter, recording_path
from ivr.recording_failure import CALLBACK_NOTE, IVR, report_storage_failure
from ticketing.audio_queue import AsrJob
from ticketing.container import Services

log = logging.getLogger("ivr.call_session")


class SessionRecording:
    """The recording half of the call's session; CallSession provides the rest."""

    call_id: str
    _services: Services
    _clock: Callable[[], float]
    _recording: ActiveRecording | None
    _failure_pending: str | None
    _call_row: bool
    _batch_bytes: int
    _vad_bytes: int

    def _dispatch(self, event: Event) -> None:
        raise NotImplementedError

    def _ensure_call_row(self) -> None:
        raise NotImplementedError

    def _guard(self, what: str, fn: Callable[[], Any], default: Any = None) -> Any:
        raise NotImplementedError

    def _attempt(self, what: str, fn: Callable[[], object]) -> bool:
        raise NotImplementedError

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
