"""The hand-off of caller audio from IVR nodes to ASR workers, on Redis Streams.

* ``hotline:asr:jobs`` — one entry per recording, read by the ``asr-workers`` consumer group, so
  any number of workers share the load; a job whose worker died is reclaimed (XAUTOCLAIM) by
  another, which starts over from the stored audio.
* ``hotline:asr:queued`` — the recordings that have a job in the stream (added with the job,
  removed when it is acknowledged), so a sweeper can queue again, exactly once, a recording
  whose job never got there (Redis down while the call was recorded, or Redis lost its data).
  Acknowledged jobs are deleted from the stream, which therefore holds only live work.
* ``hotline:audio:<recording_id>`` — 16-bit little-endian mono PCM chunks at the recording's
  sample rate, appended while the caller speaks, then an ``end`` entry. Bounded (MAXLEN) and
  expiring: the WAV file under the data dir is the durable copy.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis

JOBS_STREAM = "hotline:asr:jobs"
JOBS_GROUP = "asr-workers"
QUEUED_SET = "hotline:asr:queued"
AUDIO_KEY = "hotline:audio:{recording_id}"
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
    # "mono" (the IVR's recording), or one side of a conversation's stereo WAV: "caller" (left),
    # "agent" (right); the stream carries that channel alone, as mono PCM
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


class AudioQueue:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    # --- IVR side ---------------------------------------------------------------------------
    def enqueue_job(self, job: AsrJob) -> str:
        pipe = self._redis.pipeline(transaction=True)
        pipe.sadd(QUEUED_SET, job.recording_id)
        pipe.xadd(JOBS_STREAM, {"job": _encode(job)})
        _added, entry = pipe.execute()
        return _text(entry)

    def enqueue_if_absent(self, job: AsrJob) -> str | None:
        """Queue ``job`` unless its recording already has one; atomic, so of several sweepers
        only one queues it. Returns the new entry's id, or None."""
        entry: Any = self._redis.eval(
            _ENQUEUE_IF_ABSENT, 2, QUEUED_SET, JOBS_STREAM, job.recording_id, _encode(job)
        )
        return _text(entry) if entry else None

    def is_queued(self, recording_id: int) -> bool:
        return bool(self._redis.sismember(QUEUED_SET, str(recording_id)))

    def append_audio(self, recording_id: int, pcm16: bytes) -> None:
        key = AUDIO_KEY.format(recording_id=recording_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.xadd(key, {"pcm": pcm16}, maxlen=AUDIO_MAXLEN, approximate=True)
        pipe.expire(key, AUDIO_TTL_SECONDS)
        pipe.execute()

    def end_audio(self, recording_id: int, reason: str = "end") -> None:
        key = AUDIO_KEY.format(recording_id=recording_id)
        pipe = self._redis.pipeline(transaction=False)
        pipe.xadd(key, {"end": reason})
        pipe.expire(key, AUDIO_TTL_SECONDS)
        pipe.execute()

    # --- worker side ------------------------------------------------------------------------
    def ensure_group(self) -> None:
        try:
            self._redis.xgroup_create(JOBS_STREAM, JOBS_GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def claim_job(self, consumer: str, *, block_ms: int = 1000) -> ClaimedJob | None:
        reply: Any = self._redis.xreadgroup(
            JOBS_GROUP, consumer, {JOBS_STREAM: ">"}, count=1, block=block_ms
        )
        for _stream, entries in reply or []:
            for message_id, fields in entries:
                return ClaimedJob(_text(message_id), _job(fields), deliveries=1)
        return None

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

    def ack_job(self, message_id: str, recording_id: int | None = None) -> None:
        """The job is finished (done, failed or given up): forget it."""
        pipe = self._redis.pipeline(transaction=True)
        pipe.xack(JOBS_STREAM, JOBS_GROUP, message_id)
        pipe.xdel(JOBS_STREAM, message_id)
        if recording_id is not None:
            pipe.srem(QUEUED_SET, recording_id)
        pipe.execute()

    def read_audio(
        self, recording_id: int, after: str = "0-0", *, block_ms: int = 500, count: int = 200
    ) -> list[AudioChunk]:
        key = AUDIO_KEY.format(recording_id=recording_id)
        reply: Any = self._redis.xread({key: after}, count=count, block=block_ms)
        chunks: list[AudioChunk] = []
        for _stream, entries in reply or []:
            for entry_id, fields in entries:
                if b"end" in fields:
                    chunks.append(AudioChunk(_text(entry_id), b"", True, _text(fields[b"end"])))
                else:
                    chunks.append(AudioChunk(_text(entry_id), bytes(fields[b"pcm"]), False))
        return chunks

    def audio_available(self, recording_id: int) -> bool:
        return bool(self._redis.exists(AUDIO_KEY.format(recording_id=recording_id)))

    def first_audio_id(self, recording_id: int) -> str | None:
        reply: Any = self._redis.xrange(AUDIO_KEY.format(recording_id=recording_id), count=1)
        return _text(reply[0][0]) if reply else None

    def delete_audio(self, recording_id: int) -> None:
        self._redis.delete(AUDIO_KEY.format(recording_id=recording_id))

    # --- backlog figures for the supervisor --------------------------------------------------
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


def _job(fields: dict[Any, Any]) -> AsrJob:
    raw = fields.get(b"job") or fields.get("job")
    data = json.loads(_text(raw))
    return AsrJob(**data)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
