"""One ASR job, start to finish: pick the audio source, decode, extract fields, store, report.

Errors are sorted by whose fault they are. A recording that cannot be decoded (missing, corrupt,
wrong format) is final: the draft says ``failed`` with the reason, the audio is kept, the job is
acknowledged. A lost job (taken over after we were presumed dead) is dropped without storing.
Anything else (database or Redis down) leaves the job unacknowledged, so it is retried after the
reclaim delay, a bounded number of times.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asr import metrics
from asr.audio_source import (
    AudioEnd,
    JobLost,
    StreamGap,
    file_pcm,
    stream_is_whole,
    stream_pcm,
    wait_for_end,
    wait_for_stream,
)
from asr.capacity import Capacity, StreamWatch
from asr.channels import CONVERSATION, merged, read_back_fields
from asr.fields import FieldExtractor
from asr.partials import PartialPublisher
from asr.recognizer import Recognizer, RecognizerError, Result, Stream
from asr.wavfile import WavError
from ticketing.audio_queue import AsrJob, ClaimedJob
from ticketing.container import Services
from ticketing.errors import NotFound

log = logging.getLogger(__name__)

NO_MODEL_ERROR = "no speech model installed: see README"
AGENT_CHANNEL_OFF = "the call-taker's side is not transcribed (HOTLINE_ASR_AGENT_CHANNEL=0)"
# End reasons after which the stream is known to be incomplete (the IVR could not send every
# chunk, or died: "idle" is ours) while the WAV file has all the audio there was.
FILE_IS_BETTER = ("stream_lost", "idle")
# The text so far goes on the draft while the caller speaks (apply_transcript lets the
# description follow partial then final transcripts until a person edits it).
PUBLISH_PARTIALS = True
PROGRESS_SECONDS = 3.0  # at most one draft update per call this often


@dataclass(frozen=True)
class JobSettings:
    stream_grace_seconds: float = 10.0  # how long a streaming job waits for its first chunk
    stream_idle_seconds: float = 30.0  # no audio and no end marker this long: the IVR is gone
    max_deliveries: int = 3  # a recording that kills the worker each time is given up
    agent_channel: bool = True  # transcribe the call-taker's side of a conversation


@dataclass
class JobState:
    """Shared between the decoding thread and the heartbeat."""

    claimed: ClaimedJob
    lost: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.time)


@dataclass(frozen=True)
class Outcome:
    status: str  # done, failed, no_model, lost, retry, gone, skipped
    source: str = ""
    latency: float | None = None  # end of audio → final stored, Redis clock (streamed jobs)
    decode_seconds: float = 0.0
    audio_seconds: float = 0.0
    queue_seconds: float = 0.0
    error: str | None = None

    @property
    def ack(self) -> bool:
        return self.status in ("done", "failed", "no_model", "gone", "skipped")


class JobRunner:
    def __init__(
        self,
        services: Services,
        recognizer: Recognizer | None,
        extractor: FieldExtractor,
        settings: JobSettings,
        capacity: Capacity | None = None,
    ) -> None:
        self._services = services
        self._recognizer = recognizer
        self._extractor = extractor
        self._settings = settings
        self.capacity = capacity or Capacity(1)
        self.partials = PartialPublisher(self._store_progress, PROGRESS_SECONDS)
        self._channels: dict[int, str] = {}  # ticket id -> the side its partials are

    def warm(self) -> None:
        """Load what the first job would otherwise load while a caller waits."""
        self._extractor.warm()

    def run(self, state: JobState, deliveries: int) -> Outcome:
        job = state.claimed.job
        queued = max(0.0, state.started - job.enqueued_at) if job.enqueued_at else 0.0
        tickets = self._services.tickets
        try:
            if self._recognizer is None:
                self._store_status(job, "no_model", NO_MODEL_ERROR)
                return Outcome("no_model", queue_seconds=queued, error=NO_MODEL_ERROR)
            if deliveries > self._settings.max_deliveries:
                reason = f"gave up after {deliveries - 1} attempts: the ASR worker died each time"
                self._store_status(job, "failed", reason)
                return Outcome("failed", queue_seconds=queued, error=reason)
            agent = job.channel == "agent"
            if agent and not self._settings.agent_channel:
                return Outcome("skipped", queue_seconds=queued, error=AGENT_CHANNEL_OFF)
            if agent:  # the draft's status and transcript are the caller's side's
                draft = tickets.apply_channel_fields(job.ticket_id, extracted={}, confidence={})
            else:
                draft = tickets.apply_transcript(
                    job.ticket_id,
                    transcript=None,
                    words=None,
                    extracted={},
                    confidence={},
                    asr_status="streaming",
                    channel=job.channel,
                )
            reference = str(draft.get("reference") or job.ticket_id)
            began = time.monotonic()
            marks: dict[str, float] = {}
            if not agent:
                self._channels[job.ticket_id] = job.channel
                self.partials.open(job.ticket_id)
            try:
                result, end = self._decode(state, reference, marks)
            finally:
                if not agent:
                    self.partials.close(job.ticket_id)  # no partial after this: the final wins
            decoded = time.monotonic() - began
            marks["decoded"] = time.time()
            self._store_result(job, draft, reference, result, marks)
            marks["stored"] = time.time()
            latency = None
            if end.at is not None:
                latency = max(0.0, _redis_now(self._services) - end.at)
            if end.saw_end:
                self._services.audio.delete_audio(job.recording_id)  # the file is the copy
            if latency is not None and log.isEnabledFor(logging.DEBUG):
                log.debug("draft %s: after the end marker %s", reference, _steps(end, marks))
            log.info(
                "draft %s: transcript stored (%s, %.1f s audio, %d words, latency %s)",
                reference,
                end.source,
                result.audio_seconds,
                len(result.words),
                f"{latency:.2f} s" if latency is not None else "n/a",
            )
            return Outcome(
                "done",
                end.source,
                latency,
                round(decoded, 3),
                result.audio_seconds,
                queued,
            )
        except (WavError, RecognizerError) as exc:
            reason = str(exc)
            log.warning(
                "ticket %d: recording %d undecodable: %s", job.ticket_id, job.recording_id, reason
            )
            self._store_status(job, "failed", reason)
            return Outcome("failed", queue_seconds=queued, error=reason)
        except JobLost as exc:
            log.warning("ticket %d: %s", job.ticket_id, exc)
            return Outcome("lost", error=str(exc))
        except NotFound as exc:
            log.warning("ticket %d gone, dropping its ASR job: %s", job.ticket_id, exc)
            return Outcome("gone", error=str(exc))
        finally:
            if job.channel != "agent":
                self.partials.close(job.ticket_id)
                self._channels.pop(job.ticket_id, None)

    def _store_result(
        self,
        job: AsrJob,
        draft: dict[str, Any],
        reference: str,
        result: Result,
        marks: dict[str, float] | None = None,
    ) -> None:
        """The final transcript and fields; a conversation's side is kept per channel too."""
        tickets = self._services.tickets
        words = [w.to_dict() for w in result.words]
        texts = {job.channel: result.text}
        if job.channel in CONVERSATION:
            texts = tickets.store_channel_transcript(
                job.ticket_id,
                job.recording_id,
                channel=job.channel,
                transcript=result.text,
                words=words,
            )
        phone = draft.get("caller_phone")
        caller_text = result.text if job.channel != "agent" else texts.get("caller", "")
        caller = self._extractor.extract(
            caller_text,
            asr_confidence=result.mean_confidence,
            caller_phone=phone,
            reference=reference,
        )
        agent_text = result.text if job.channel == "agent" else texts.get("agent", "")
        back = read_back_fields(
            self._extractor,
            caller,
            agent_text,
            asr_confidence=result.mean_confidence,
            caller_phone=phone,
            reference=reference,
        )
        if job.channel == "agent":
            tickets.apply_channel_fields(
                job.ticket_id, extracted=back.values, confidence=back.confidence
            )
            return
        fields = merged(caller, back)
        if marks is not None:
            marks["fields"] = time.time()
        tickets.apply_transcript(
            job.ticket_id,
            transcript=result.text,
            words=words,
            extracted=fields.values,
            confidence=fields.confidence,
            asr_status="done",
            channel=job.channel,
        )

    def _decode(
        self, state: JobState, reference: str, marks: dict[str, float]
    ) -> tuple[Result, AudioEnd]:
        assert self._recognizer is not None
        job = state.claimed.job
        audio = self._services.audio
        cancelled = state.lost.is_set
        idle = self._settings.stream_idle_seconds
        end = AudioEnd()
        grace = self._settings.stream_grace_seconds
        if wait_for_stream(audio, job, grace_seconds=grace, cancelled=cancelled):
            if stream_is_whole(audio, job.recording_id):
                # The text so far goes on the draft for the caller's side only.
                live_text = PUBLISH_PARTIALS and job.channel != "agent"
                stream = self._recognizer.open_stream(job.sample_rate, partials=live_text)
                watch = StreamWatch(self.capacity, f"draft {reference}")
                skew = _redis_now(self._services) - time.time()
                metrics.STREAMS_ACTIVE.inc()
                try:
                    for pcm in stream_pcm(
                        audio, job.recording_id, end, idle_seconds=idle, cancelled=cancelled
                    ):
                        began = time.thread_time()
                        partial = stream.accept(pcm)
                        lag = None if end.newest is None else time.time() + skew - end.newest
                        watch.fed(time.thread_time() - began, len(pcm) / 2 / job.sample_rate, lag)
                        if partial is not None and partial.text and live_text:
                            self.partials.offer(job.ticket_id, partial.text)
                    marks["skew"] = skew
                    marks["fed"] = time.time()
                    result = _finish(stream, watch)
                    marks["finished"] = time.time()
                    if end.saw_end and end.reason not in FILE_IS_BETTER:
                        return result, end
                    log.warning(
                        "draft %s: audio stream ended by %r; decoding the file",
                        reference,
                        end.reason,
                    )
                except StreamGap as exc:
                    log.warning("draft %s: %s; decoding the file instead", reference, exc)
                finally:
                    stream.close()  # a recognizer held or asked for goes back to the pool
                    watch.close()
                    metrics.STREAMS_ACTIVE.dec()
            if not end.saw_end and end.reason != "idle":
                # Part of the stream is gone: the file is whole once the IVR marks the end.
                end = wait_for_end(audio, job.recording_id, idle_seconds=idle, cancelled=cancelled)
        end.source = "file"
        return self._decode_file(job.path, cancelled, job.channel), end

    def _decode_file(self, relative: str, cancelled: Any, channel: str = "mono") -> Result:
        assert self._recognizer is not None
        path = _recording_path(self._services.settings.data_dir, relative)
        rate, pieces = file_pcm(path, cancelled, channel)
        # Recorded-only: nobody is on the line, so live calls get the recognizers first.
        stream = self._recognizer.open_stream(rate, partials=False, live=False)
        watch = StreamWatch(self.capacity, f"file {relative}")
        try:
            for pcm in pieces:
                began = time.thread_time()
                stream.accept(pcm)
                watch.fed(time.thread_time() - began, len(pcm) / 2 / rate)
            return _finish(stream, watch)
        finally:
            stream.close()
            watch.close()

    def _store_progress(self, ticket_id: int, text: str) -> None:
        """The text so far on the draft (from the publisher's thread)."""
        self._services.tickets.apply_transcript(
            ticket_id,
            transcript=text,
            words=None,
            extracted={},
            confidence={},
            asr_status="streaming",
            channel=self._channels.get(ticket_id, "mono"),
        )

    def _store_status(self, job: AsrJob, status: str, reason: str) -> None:
        if job.channel == "agent":
            return  # the draft's status is the caller's side's; the log has the reason
        self._services.tickets.apply_transcript(
            job.ticket_id,
            transcript=None,
            words=None,
            extracted={},
            confidence={},
            asr_status=status,
            asr_error=reason,
        )


def _steps(end: AudioEnd, marks: dict[str, float]) -> str:
    """Where the time after the end marker went, for the debug log (ms from the marker)."""
    if end.at is None or "skew" not in marks:
        return "(no timings)"
    at = end.at - marks["skew"]  # the marker's time on this host's clock
    names = ("seen", "fed", "finished", "decoded", "fields", "stored")
    points = {**marks, **({"seen": end.seen} if end.seen is not None else {})}
    return ", ".join(f"{n} +{(points[n] - at) * 1000:.0f} ms" for n in names if n in points)


def _finish(stream: Stream, watch: StreamWatch) -> Result:
    began = time.thread_time()
    result = stream.finish()
    watch.fed(time.thread_time() - began, 0.0)
    return result


def _recording_path(data_dir: Path, relative: str) -> Path:
    path = (data_dir / relative).resolve()
    if not path.is_relative_to(data_dir.resolve()):
        raise WavError(f"recording path {relative!r} is outside the data dir: refused")
    return path


def _redis_now(services: Services) -> float:
    return services.audio.now()  # same clock as the stream ids: no host skew
