"""The ASR hand-off on Redis: hash-tagged keys that work on Redis Cluster, the move from the
untagged keys, errors as BusUnavailable, job payloads across releases.

Cluster: a real redis-server with ``cluster-enabled yes`` owning all 16384 slots. A one-node
cluster enforces the same rule as a big one: a MULTI or EVAL whose keys hash to different slots
is refused with CROSSSLOT.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from ticketing.audio_queue import (
    JOBS_GROUP,
    JOBS_STREAM,
    OLD_JOBS_STREAM,
    OLD_QUEUED_SET,
    QUEUED_SET,
    AsrJob,
    AudioQueue,
    QueueUnavailable,
)
from ticketing.errors import BusUnavailable


@pytest.fixture(scope="module")
def cluster_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[redis.Redis]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is needed (Debian package redis-server)")
    folder = tmp_path_factory.mktemp("cluster")
    sock = folder / "redis.sock"
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--unixsocket",
            str(sock),
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(folder / "nodes.conf"),
            "--dir",
            str(folder),
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(unix_socket_path=str(sock))
    try:
        _until(lambda: _pings(client), "the cluster node to start")
        client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        _until(lambda: b"cluster_state:ok" in client.execute_command("CLUSTER", "INFO"), "slots")
        yield client
    finally:
        client.close()
        process.terminate()
        process.wait(10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


def _until(check: object, what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def job(recording_id: int, **extra: object) -> AsrJob:
    return AsrJob(recording_id, 10 + recording_id, f"call-{recording_id}", "r.wav", **extra)  # type: ignore[arg-type]


def test_the_cluster_node_refuses_multi_key_commands_across_slots(
    cluster_node: redis.Redis,
) -> None:
    """The check below means something: the untagged keys of before fail here."""
    with pytest.raises(redis.ResponseError, match="same slot"):
        cluster_node.eval(
            "return redis.call('EXISTS', KEYS[1], KEYS[2])", 2, OLD_QUEUED_SET, OLD_JOBS_STREAM
        )


def test_every_queue_operation_works_on_a_cluster(cluster_node: redis.Redis) -> None:
    cluster_node.flushall()
    queue = AudioQueue(cluster_node)
    queue.ensure_group()
    first = queue.enqueue_job(job(1, channel="caller"))
    assert queue.enqueue_if_absent(job(1)) is None  # EVAL over the set and the stream
    assert queue.enqueue_if_absent(job(2)) is not None
    queue.append_audio(1, b"\x01\x00" * 160)
    queue.end_audio(1, "hangup")
    claimed = queue.claim_job("w1", block_ms=100)
    assert claimed is not None and claimed.message_id == first
    assert claimed.job.channel == "caller"
    assert queue.deliveries(first) == 1
    assert queue.pending_of("w1") == {first}
    queue.keep_claims("w1", [first], min_idle_ms=0)
    chunks = queue.read_audio(1, block_ms=100)
    assert [c.end for c in chunks] == [False, True] and chunks[1].reason == "hangup"
    last = queue.last_audio(1)
    assert last is not None and last.end
    assert queue.stream_is_whole(1) and queue.trimmed_count(1) == 0
    assert queue.now() > 0
    queue.ack_job(first, 1)  # MULTI over the stream and the set
    assert not queue.is_queued(1) and queue.is_queued(2)
    assert queue.backlog()["waiting"] == 1


def test_jobs_left_under_the_untagged_keys_are_moved_once(asr_redis_url: str) -> None:
    client = redis.Redis.from_url(asr_redis_url)
    for n in (5, 6):
        client.sadd(OLD_QUEUED_SET, n)
        client.xadd(OLD_JOBS_STREAM, {"job": json.dumps({**job(n).__dict__, "enqueued_at": 1.0})})
    client.xadd(OLD_JOBS_STREAM, {"job": "not json"})
    # Several workers starting at once: each recording is queued exactly once.
    workers = [AudioQueue(redis.Redis.from_url(asr_redis_url)) for _ in range(3)]
    threads = [threading.Thread(target=w.ensure_group) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    entries = client.xrange(JOBS_STREAM)
    assert sorted(json.loads(e[1][b"job"])["recording_id"] for e in entries) == [5, 6]
    assert client.smembers(QUEUED_SET) == {b"5", b"6"}
    assert not client.exists(OLD_JOBS_STREAM) and not client.exists(OLD_QUEUED_SET)
    claimed = workers[0].claim_job("w1", block_ms=100)
    assert claimed is not None and claimed.job.recording_id in (5, 6)
    client.close()


def test_a_job_from_another_release_still_decodes(asr_redis_url: str) -> None:
    client = redis.Redis.from_url(asr_redis_url)
    queue = AudioQueue(client)
    queue.ensure_group()
    older = {k: v for k, v in job(7).__dict__.items() if k != "channel"}
    newer = {**job(8).__dict__, "speaker_model": "x"}
    for data in (older, newer):
        client.xadd(JOBS_STREAM, {"job": json.dumps(data)})
    got = [queue.claim_job("w", block_ms=100) for _ in range(2)]
    assert [(c.job.recording_id, c.job.channel) for c in got if c] == [(7, "mono"), (8, "mono")]
    assert JOBS_GROUP == "asr-workers"
    client.close()


def test_redis_down_is_bus_unavailable_for_every_caller(tmp_path: Path) -> None:
    queue = AudioQueue(redis.Redis(unix_socket_path=str(tmp_path / "none.sock")))
    with pytest.raises(BusUnavailable):
        queue.claim_job("w", block_ms=10)
    with pytest.raises(QueueUnavailable):
        queue.append_audio(1, b"\x00\x00")
    # Callers not yet moved to BusUnavailable (the console's backlog figures) still catch it.
    with pytest.raises(redis.RedisError):
        queue.backlog()
