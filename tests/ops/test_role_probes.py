"""``hotline1567 ivr`` and ``hotline1567 asr-worker`` started as an operator starts them: each
answers /metrics, /livez and /readyz on its own port, and logs JSON lines when asked to."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ivr.prompts.manifest import load_manifest, manifest_path
from tests.ops.probes import (
    free_tcp_port,
    get,
    get_json,
    metric_families,
    promtool_check,
    wait_until_answering,
)
from tests.redis_db import private_redis_db
from ticketing.db import upgrade_schema
from ticketing.embedded_redis import EmbeddedRedis

pytestmark = pytest.mark.slow


def _silent_prompts(directory: Path) -> None:
    directory.mkdir(parents=True)
    for entry in load_manifest(manifest_path(None)).entries.values():
        with wave.open(str(directory / entry.file), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(8000)
            wav.writeframes(bytes(800))


@pytest.fixture
def role_env(tmp_path: Path, redis_server: EmbeddedRedis) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'roles.sqlite3'}"
    upgrade_schema(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        {
            "HOTLINE_DATA_DIR": str(tmp_path / "data"),
            "HOTLINE_DATABASE_URL": url,
            "HOTLINE_REDIS_URL": private_redis_db(redis_server, 12),
            "HOTLINE_LOG_FORMAT": "json",
        }
    )
    return env


@contextmanager
def _start(role: str, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hotline1567", role], env=env, stdout=sink, stderr=sink
        )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _check_probes(base: str, process: subprocess.Popen[bytes], log: Path, role: str) -> None:
    wait_until_answering(f"{base}/livez", lambda: process.poll() is None, 90)
    assert get_json(f"{base}/livez") == (200, {"status": "alive", "role": role}), log.read_text()
    assert get_json(f"{base}/readyz") == (
        200,
        {"status": "ready", "database": "ok", "redis": "ok"},
    )
    status, content_type, body = get(f"{base}/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    families = metric_families(body)
    assert "process_resident_memory_bytes" in families
    checked = promtool_check(body)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def _json_lines(log: Path) -> list[dict[str, object]]:
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    assert lines, "the role logged nothing"
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(entry) for entry in parsed)
    return parsed


def test_ivr_node_serves_its_probes(role_env: dict[str, str], tmp_path: Path) -> None:
    port = free_tcp_port()
    env = {
        **role_env,
        "HOTLINE_IVR_METRICS_PORT": str(port),
        # A registrar that never answers: the node keeps retrying and stays up, as in production
        # while Kamailio restarts.
        "HOTLINE_SIP_REGISTRAR": f"127.0.0.1:{free_tcp_port()}",
        "HOTLINE_SIP_PORT": str(free_tcp_port()),
    }
    _silent_prompts(Path(env["HOTLINE_DATA_DIR"]) / "prompts")
    log = tmp_path / "ivr.log"
    with _start("ivr", env, log) as process:
        _check_probes(f"http://127.0.0.1:{port}", process, log, "ivr")
        # The node's own figures (ivr.metrics), read from the SipNode at scrape time: there once
        # the node is built (the endpoint answers from the role's start).
        deadline = time.monotonic() + 60
        while "hotline_ivr_calls_answered" not in (
            families := metric_families(get(f"http://127.0.0.1:{port}/metrics")[2])
        ):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "no IVR figures on /metrics"
            time.sleep(0.2)
        assert families["hotline_ivr_calls_answered"].samples[0].value == 0
        assert "hotline_ivr_rtp_send_interval_seconds" in families
    messages = [entry["message"] for entry in _json_lines(log)]
    assert any("/metrics, /livez and /readyz" in str(m) for m in messages), messages


def test_asr_worker_serves_its_probes(role_env: dict[str, str], tmp_path: Path) -> None:
    port = free_tcp_port()
    env = {**role_env, "HOTLINE_ASR_METRICS_PORT": str(port)}
    log = tmp_path / "asr.log"
    with _start("asr-worker", env, log) as process:
        _check_probes(f"http://127.0.0.1:{port}", process, log, "asr-worker")
    entries = _json_lines(log)
    assert any(
        entry["level"] == "WARNING" and "no speech model" in str(entry["message"])
        for entry in entries
    ), entries


def test_scheduler_serves_its_probes(role_env: dict[str, str], tmp_path: Path) -> None:
    port = free_tcp_port()
    env = {**role_env, "HOTLINE_SCHEDULER_METRICS_PORT": str(port)}
    log = tmp_path / "scheduler.log"
    with _start("scheduler", env, log) as process:
        _check_probes(f"http://127.0.0.1:{port}", process, log, "scheduler")


def test_web_serves_its_probes_on_the_web_port(role_env: dict[str, str], tmp_path: Path) -> None:
    port = free_tcp_port()
    env = {**role_env, "HOTLINE_WEB_PORT": str(port), "HOTLINE_SECRET_KEY": "test"}
    log = tmp_path / "web.log"
    with _start("web", env, log) as process:
        base = f"http://127.0.0.1:{port}"
        _check_probes(base, process, log, "web")
        families = metric_families(get(f"{base}/metrics")[2])
        assert "hotline_drafts_waiting" in families and "hotline_outbox_pending" in families
    entries = _json_lines(log)  # uvicorn's own lines (start-up, each request) are JSON too
    assert any(entry["logger"] == "uvicorn.access" for entry in entries), entries
    assert any(entry["logger"] == "uvicorn.error" for entry in entries), entries
