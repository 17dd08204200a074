"""The hand-off of caller audio from IVR nodes to ASR workers, on Redis Streams.

* ``hotline:{asr}:jobs`` — one entry per recording, read by the ``asr-workers`` consumer group,
  so any number of workers share the load; a job whose worker died is reclaimed (XAUTOCLAIM) by
  another, which starts over from the stored audio.
* ``hotline:{asr}:queued`` — the recordings that have a job in the stream (added with the job,
  removed when it is acknowledged), so a sweeper can queue again, exactly once, a recording
  whose job never got there (Redis down while the call was recorded, or Redis lost its data).
  Acknowledged jobs are deleted from the stream, which therefore holds only live work.
* ``hotline:audio:<recording_id>`` — 16-bit little-endian mono PCM chunks at the recording's
  sample rate, appended while the caller speaks, then an ``end`` entry. Bounded (MAXLEN) and
  expiring: the WAV file under the data dir is the durable copy.

The job stream and the queued set are written together (MULTI, EVAL), so they share the hash
tag ``{asr}``: on Redis Cluster both live in one slot and the multi-key commands work. Audio
keys are only ever used one at a time and stay spread over the cluster. Keys of the untagged
layout (``hotline:asr:jobs``, ``hotline:asr:queued``) are moved over when a worker starts
(``ensure_group``). Every Redis error leaves this module as ``QueueUnavailable``, a
``BusUnavailable``.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields
from typing import Any, TypeVar, cast

import redis

from ticketing.errors import BusUnavailable

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

JOBS_STREAM = "hotline:{asr}:jobs"
JOBS_GROUP = "asr-workers"
QUEUED_SET = "hotline:{asr}:queued"
AUDIO_KEY = "hotline:audio:{recording_id}"
# Before the hash tag (moved over by ``ensure_group``):
OLD_JOBS_STREAM = "hotline:asr:jobs"
OLD_QUEUED_SET = "hotline:asr:queued"
CHANNELS = ("mono", "caller", "agent")
AUDIO_TTL_SECONDS = 3600
AUDIO_MAXLEN = 20_000  # 20 ms chunks: ~6.6 minutes; longer calls fall back to the file


@dataclass(frozen=True)
class AsrJob:
    recording_id: int
    ticket_id: int
    call_id: str | None
    path: str  # relative to the data dir
    sample_rate: int = 8000
    streaming: bool = True  # audio also arrives on the audio stream while the caller speaks
    enqueued_at: float = 0.0
    # Which side of the call this audio is: "mono" (the IVR's caller-only recording), or, for
    # a call-taker's two-channel recording, "caller" (left) or "agent" (right).
    channel: str = "mono"


@dataclass(frozen=True)
class ClaimedJob:
    message_id: str
    job: AsrJob
    deliveries: int  # 1 for a fresh job; more when reclaimed from a dead worker


@dataclass(frozen=True)
class AudioChunk:
    entry_id: str
    pcm: bytes
    end: bool
    reason: str | None = None


class QueueUnavailable(BusUnavailable, redis.RedisError):
    """Redis did not answer. (Also a ``redis.RedisError`` for callers that still catch the
    client's error, e.g. the console's backlog figures; catch ``BusUnavailable``.)"""


@contextmanager
def queue_errors() -> Iterator[None]:
    try:
        yield
    except QueueUnavailable:
        raise
    except (redis.RedisError, OSError) as exc:
        raise QueueUnavailable(f"ASR queue unavailable: {exc}") from exc


def _mapped(method: F) -> F:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with queue_errors():
            return method(*args, **kwargs)

    return cast(F, wrapper)


class AudioQueue:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    # --- IVR side ---------------------------------------------------------------------------
    @_mapped
    def enqueue_job(self, job: AsrJob) -> str:
        pipe = self._redis.pipeline(transaction=True)
        pipe.sadd(QUEUED_SET, job.recording_id)
        pipe.xadd(JOBS_STREAM, {"job": _encode(job)})
        _added, entry = pipe.execute()
        return _text(entry)

    @_mapped
    def enqueue_if_absent(self, job: AsrJob) -> str | None:
        """Queue ``job`` unless its recording already has one; atomic, so of several sweepers
        only one queues it. Returns the new entry's id, or None."""
        entry: Any = self._redis.eval(
            _ENQUEUE_IF_ABSENT, 2, QUEUED_SET, JOBS_STREAM, job.recording_id, _encode(job)
        )
        return _text(entry) if entry else None

    @_mapped
    def is_queued(self, recording_id: int) -> bool:
        return bool(self._redis.sismember(QUEUED_SET, str(recording_id)))

    @_mapped
    def append_audio(self, recording_id: int, pcm16: bytes) -> None:
        key = AUDIO_KEY.format(recording_id=recording_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.xadd(key, {"pcm": pcm16}, maxlen=AUDIO_MAXLEN, approximate=True)
        pipe.expire(key, AUDIO_TTL_SECONDS)
        pipe.execute()

    @_mapped
    def end_audio(self, recording_id: int, reason: str = "end") -> None:
        key = AUDIO_KEY.format(recording_id=recording_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.xadd(key, {"end": reason})
        pipe.expire(key, AUDIO_TTL_SECONDS)
        pipe.execute()

    # --- worker side ------------------------------------------------------------------------
    @_mapped
    def ensure_group(self) -> None:
        try:
            self._redis.xgroup_create(JOBS_STREAM, JOBS_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._move_untagged()

    def _move_untagged(self) -> None:
        """Jobs left in the untagged stream by an older release are queued again under the
        tagged keys (once per recording: several workers may start together), then the old
        keys are deleted. A job half-done by an old worker starts over from the audio."""
        # One key per command: the old keys hash to different slots.
        if not (self._redis.exists(OLD_JOBS_STREAM) or self._redis.exists(OLD_QUEUED_SET)):
            return
        entries: Any = self._redis.xrange(OLD_JOBS_STREAM)
        moved = 0
        for _entry_id, data in entries or []:
            try:
                job = _job(data)
            except (ValueError, TypeError, KeyError):
                log.warning("untagged ASR job %r unreadable: dropped", data)
                continue
            if self.enqueue_if_absent(job) is not None:
                moved += 1
        self._redis.delete(OLD_JOBS_STREAM)
        self._redis.delete(OLD_QUEUED_SET)
        log.warning("moved %d ASR jobs to the hash-tagged keys (%s)", moved, JOBS_STREAM)

    @_mapped
    def claim_job(self, consumer: str, *, block_ms: int = 1000) -> ClaimedJob | None:
        reply: Any = self._redis.xreadgroup(
            JOBS_GROUP, consumer, {JOBS_STREAM: ">"}, count=1, block=block_ms
        )
        for _stream, entries in reply or []:
            for message_id, fields in entries:
                return ClaimedJob(_text(message_id), _job(fields), deliveries=1)
        return None

    @_mapped
    def reclaim_stale(self, consumer: str, *, min_idle_ms: int) -> ClaimedJob | None:
        """Take over one job another worker claimed and has not acknowledged for a while."""
        reply: Any = self._redis.xautoclaim(
            JOBS_STREAM, JOBS_GROUP, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=1
        )
        entries = reply[1] if reply else []
        for message_id, fields in entries:
            if fields:  # a deleted entry comes back empty
                return ClaimedJob(_text(message_id), _job(fields), deliveries=2)
        return None

    @_mapped
    def ack_job(self, message_id: str, recording_id: int | None = None) -> None:
        """The job is finished (done, failed or given up): forget it."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.xack(JOBS_STREAM, JOBS_GROUP, message_id)
        pipe.xdel(JOBS_STREAM, message_id)
        if recording_id is not None:
            pipe.srem(QUEUED_SET, recording_id)
        pipe.execute()

    @_mapped
    def read_audio(
        self, recording_id: int, after: str = "0-0", *, block_ms: int = 500, count: int = 200
    ) -> list[AudioChunk]:
        key = AUDIO_KEY.format(recording_id=recording_id)
        reply: Any = self._redis.xread({key: after}, count=count, block=block_ms)
        chunks: list[AudioChunk] = []
        for _stream, entries in reply or []:
            for entry_id, data in entries:
                chunks.append(_chunk(entry_id, data))
        return chunks

    @_mapped
    def audio_available(self, recording_id: int) -> bool:
        return bool(self._redis.exists(AUDIO_KEY.format(recording_id=recording_id)))

    @_mapped
    def first_audio_id(self, recording_id: int) -> str | None:
        reply: Any = self._redis.xrange(AUDIO_KEY.format(recording_id=recording_id), count=1)
        return _text(reply[0][0]) if reply else None

    @_mapped
    def delete_audio(self, recording_id: int) -> None:
        self._redis.delete(AUDIO_KEY.format(recording_id=recording_id))

    @_mapped
    def deliveries(self, message_id: str) -> int | None:
        """How many times this job has been handed to a worker (None: no longer pending)."""
        reply: Any = self._redis.xpending_range(JOBS_STREAM, JOBS_GROUP, message_id, message_id, 1)
        return int(reply[0]["times_delivered"]) if reply else None

    @_mapped
    def pending_of(self, consumer: str) -> set[str]:
        """The jobs this consumer has claimed and not acknowledged."""
        reply: Any = self._redis.xpending_range(
            JOBS_STREAM, JOBS_GROUP, "-", "+", 10_000, consumername=consumer
        )
        return {_text(entry["message_id"]) for entry in reply}

    @_mapped
    def keep_claims(self, consumer: str, message_ids: list[str], *, min_idle_ms: int) -> None:
        """Refresh the idle time of our own pending jobs (XCLAIM to ourselves, JUSTID), so no
        other worker takes them over while we are alive."""
        if message_ids:
            self._redis.xclaim(
                JOBS_STREAM,
                JOBS_GROUP,
                consumer,
                min_idle_time=min_idle_ms,
                message_ids=list(message_ids),
                justid=True,
            )

    @_mapped
    def now(self) -> float:
        """Redis' clock (the one stream ids use: no skew between hosts)."""
        seconds, micros = self._redis.time()
        return float(seconds) + float(micros) / 1e6

    @_mapped
    def last_audio(self, recording_id: int) -> AudioChunk | None:
        """The newest entry of the recording's audio stream (the end marker once it is over)."""
        reply: Any = self._redis.xrevrange(AUDIO_KEY.format(recording_id=recording_id), count=1)
        if not reply:
            return None
        return _chunk(reply[0][0], reply[0][1])

    @_mapped
    def trimmed_count(self, recording_id: int) -> int:
        """Entries dropped from the front of the audio stream by MAXLEN (0 if it is whole)."""
        try:
            info: Any = self._redis.xinfo_stream(AUDIO_KEY.format(recording_id=recording_id))
        except redis.ResponseError:
            return 0
        return int(info.get("entries-added", 0)) - int(info.get("length", 0))

    @_mapped
    def stream_is_whole(self, recording_id: int) -> bool:
        """True while the audio stream still holds every chunk ever appended."""
        if not self._redis.exists(AUDIO_KEY.format(recording_id=recording_id)):
            return False
        return self.trimmed_count(recording_id) == 0

    # --- backlog figures for the supervisor --------------------------------------------------
    @_mapped
    def backlog(self) -> dict[str, float]:
        """Jobs not yet finished and the age in seconds of the oldest one."""
        try:
            groups: Any = self._redis.xinfo_groups(JOBS_STREAM)
        except redis.ResponseError:
            return {"waiting": 0, "pending": 0, "oldest_seconds": 0.0}
        group = next((g for g in groups if _text(g["name"]) == JOBS_GROUP), None)
        if group is None:
            return {"waiting": 0, "pending": 0, "oldest_seconds": 0.0}
        pending = int(group.get("pending") or 0)
        lag = group.get("lag")
        if lag is None:  # Redis can't tell after some deletions: count what follows instead
            last = _text(group.get("last-delivered-id") or "0-0")
            after: Any = self._redis.xrange(JOBS_STREAM, min=f"({last}", count=10_000)
            lag = len(after or [])
        waiting = int(lag)
        oldest = 0.0
        first_id = None
        if pending:
            summary: Any = self._redis.xpending(JOBS_STREAM, JOBS_GROUP)
            first_id = summary.get("min")
        elif waiting:
            last = _text(group.get("last-delivered-id") or "0-0")
            reply: Any = self._redis.xrange(JOBS_STREAM, min=f"({last}", count=1)
            first_id = reply[0][0] if reply else None
        if first_id:
            millis = int(_text(first_id).split("-")[0])
            oldest = max(0.0, time.time() - millis / 1000)
        return {"waiting": waiting, "pending": pending, "oldest_seconds": round(oldest, 3)}


_ENQUEUE_IF_ABSENT = """
if redis.call('SADD', KEYS[1], ARGV[1]) == 1 then
  return redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
end
return false
"""


def _encode(job: AsrJob) -> str:
    data = asdict(job)
    data["enqueued_at"] = job.enqueued_at or time.time()
    return json.dumps(data)


_JOB_FIELDS = {f.name for f in dataclass_fields(AsrJob)}


def _job(data: dict[Any, Any]) -> AsrJob:
    raw = data.get(b"job") or data.get("job")
    decoded = json.loads(_text(raw))
    # Fields a newer release added are ignored, missing ones take their defaults, so old
    # and new IVR nodes and workers can run side by side during an upgrade.
    return AsrJob(**{k: v for k, v in decoded.items() if k in _JOB_FIELDS})


def _chunk(entry_id: Any, data: dict[Any, Any]) -> AudioChunk:
    if b"end" in data:
        return AudioChunk(_text(entry_id), b"", True, _text(data[b"end"]))
    return AudioChunk(_text(entry_id), bytes(data[b"pcm"]), False)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
