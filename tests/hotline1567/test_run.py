"""`hotline1567 run` as a newcomer starts it: a SIPp caller dials 1567 through the embedded
Kamailio and leaves a draft ticket with its recording and the caller's number."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import select

from ivr.kamailio import options_ping
from tests.hotline1567.test_cli import _free_port, cli
from tests.ivr.sip.sipkit import SippResult, free_udp_port, sipp
from ticketing.db import make_engine
from ticketing.models import Call

pytestmark = pytest.mark.slow

CRASH_SCENARIO = Path(__file__).parents[1] / "ivr" / "scenarios" / "uac_crash.xml"


@contextlib.contextmanager
def running_system(
    tmp_path: Path, *args: str, ready: str = "registered as ivr"
) -> Iterator[tuple[dict[str, str], Path, subprocess.Popen[bytes]]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        {
            "HOTLINE_DATA_DIR": str(tmp_path / "var"),
            "HOTLINE_WEB_PORT": str(_free_port()),
            "HOTLINE_KAMAILIO_LISTEN": f"127.0.0.1:{free_udp_port()}",
            "HOTLINE_SIP_PORT": str(free_udp_port()),
            "HOTLINE_IVR_METRICS_PORT": str(_free_port()),
            "HOTLINE_ASR_METRICS_PORT": str(_free_port()),
            "HOTLINE_SCHEDULER_METRICS_PORT": str(_free_port()),
        }
    )
    log = tmp_path / "run.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hotline1567", "run", *args],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 90
        while ready not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)
        yield env, log, process
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0, log.read_text()[-3000:]
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert left.stdout == "", "processes left running after SIGTERM"


@pytest.fixture
def system(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path]]:
    with running_system(tmp_path) as (env, log, _process):
        yield env, log


def _api(env: dict[str, str], token: str, path: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{env['HOTLINE_WEB_PORT']}/api/v1{path}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_a_call_through_kamailio_leaves_a_draft_with_its_recording(
    system: tuple[dict[str, str], Path],
) -> None:
    env, log = system
    credentials = Path(env["HOTLINE_DATA_DIR"]) / "initial-credentials.txt"
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    assert "first accounts" in log.read_text()
    host, port = env["HOTLINE_KAMAILIO_LISTEN"].split(":")
    # the dispatcher probes the node every 2 s: wait until it routes 1567 to it
    _wait_for(lambda: options_ping(host, int(port), user="1567") == 200, 15, log)
    # Key 1 interrupts the greeting; the caller listens to the complaint introduction (the PDPA
    # notice and instructions, ~18 s with the synthetic voice) and speaks until '#' at 25.5 s.
    result = sipp("uac.xml", (host, int(port)), hold_ms=25000, timeout=90)
    assert isinstance(result, SippResult)
    assert result.returncode == 0, result.output + result.errors

    assert (
        cli(env, "user", "add", "api", "--role", "agent", stdin="a-long-password\n").returncode == 0
    )
    token = cli(env, "token", "create", "--user", "api").stdout.strip()
    deadline = time.monotonic() + 30
    tickets: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        tickets = _api(env, token, "/tickets?status=draft")["items"]
        if tickets and tickets[0]["asr_status"] not in ("pending", "streaming"):
            break
        time.sleep(0.5)
    assert len(tickets) == 1, log.read_text()[-3000:]
    ticket = tickets[0]
    assert ticket["channel"] == "phone"
    assert ticket["caller_phone"] == "0812345678"
    assert ticket["recording_id"] is not None
    # No speech model is bundled: the draft says so plainly.
    assert ticket["asr_status"] == "no_model"
    assert "no speech model" in (ticket["asr_error"] or "")

    recordings = list((Path(env["HOTLINE_DATA_DIR"]) / "recordings").rglob("*.wav"))
    assert len(recordings) == 1
    with wave.open(str(recordings[0])) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (8000, 2, 1)
        seconds = wav.getnframes() / 8000
    intro = _seconds(Path(env["HOTLINE_DATA_DIR"]) / "prompts" / "complaint_intro.wav")
    expected = 25.5 - 1.0 - intro  # '#' time, less pyVoIP's 1 s answer delay and the intro
    assert expected - 2.0 <= seconds <= expected + 1.5, (seconds, expected)

    # Every role run started answers its own probes (web on its port, ivr and asr-worker on theirs).
    for name in ("HOTLINE_WEB_PORT", "HOTLINE_IVR_METRICS_PORT", "HOTLINE_ASR_METRICS_PORT"):
        with urllib.request.urlopen(f"http://127.0.0.1:{env[name]}/readyz", timeout=10) as ready:
            assert json.loads(ready.read())["status"] == "ready", name


def _seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return wav.getnframes() / wav.getframerate()


def _wait_for(condition: Callable[[], bool], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)


def _pid_of(pattern: str, parent: int | None = None) -> int:
    """The one process matching ``pattern`` (a child of ``parent`` if given): never another
    test's process on this machine."""
    scope = ["-P", str(parent)] if parent is not None else []
    found = subprocess.run(["pgrep", *scope, "-f", pattern], capture_output=True, text=True)
    pids = [int(p) for p in found.stdout.split()]
    assert len(pids) == 1, (pattern, found.stdout)
    return pids[0]


def _redis_answers(socket_path: Path) -> bool:
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path), socket_timeout=1).ping())
    except redis.RedisError:
        return False


def test_run_restarts_a_killed_redis_and_role_and_prints_no_password(tmp_path: Path) -> None:
    with running_system(
        tmp_path, "--without", "ivr", "--without", "asr-worker", ready="web started"
    ) as (env, log, process):
        data = Path(env["HOTLINE_DATA_DIR"])
        socket_path = data / "redis" / "redis.sock"
        assert _redis_answers(socket_path)
        first = _pid_of(f"redis-server.*{socket_path}")
        os.kill(first, signal.SIGKILL)
        _wait_for(lambda: "redis restarted (restart 1)" in log.read_text(), 30, log)
        _wait_for(lambda: _redis_answers(socket_path), 10, log)
        assert _pid_of(f"redis-server.*{socket_path}") != first
        assert "redis exited; restarting in 1 s" in log.read_text()

        web = _pid_of("hotline1567 web", parent=process.pid)
        os.kill(web, signal.SIGKILL)
        _wait_for(lambda: "web restarted (restart 1)" in log.read_text(), 30, log)

        # the first passwords are only in the 0600 file, never in the banner or the log
        credentials = (data / "initial-credentials.txt").read_text().splitlines()[1:]
        passwords = [line.split("\t")[2] for line in credentials]
        assert len(passwords) == 3
        text = log.read_text()
        assert "initial-credentials.txt" in text
        assert not any(password in text for password in passwords)


def test_kill_9_of_the_ivr_role_mid_call_is_survived(tmp_path: Path) -> None:
    """The fault test through `run`: the ivr child is killed mid-recording; run restarts it,
    the restarted node closes the call and Kamailio sends the caller its BYE."""
    with running_system(tmp_path) as (env, log, process):
        host, port = env["HOTLINE_KAMAILIO_LISTEN"].split(":")
        _wait_for(lambda: options_ping(host, int(port), user="1567") == 200, 15, log)
        caller = sipp(str(CRASH_SCENARIO), (host, int(port)), timeout=120, background=True)
        assert isinstance(caller, subprocess.Popen)
        data = Path(env["HOTLINE_DATA_DIR"])

        def recorded() -> float:
            files = list((data / "recordings").rglob("*.wav"))
            return max(((f.stat().st_size - 44) / 16000 for f in files), default=0.0)

        # the synthetic complaint introduction takes ~18 s before the beep
        _wait_for(lambda: recorded() >= 2.0, 60, log)
        os.kill(_pid_of("hotline1567 ivr", parent=process.pid), signal.SIGKILL)
        output, _ = caller.communicate(timeout=90)
        assert caller.returncode == 0, output[-2000:] + log.read_text()[-3000:]  # BYE came
        assert "ivr exited with -9; restarting in 1 s" in log.read_text()
        _wait_for(lambda: "ivr restarted (restart 1)" in log.read_text(), 10, log)
        (wav_path,) = list((data / "recordings").rglob("*.wav"))
        with wave.open(str(wav_path)) as wav:
            assert wav.getnframes() >= 2 * 8000
        engine = make_engine(f"sqlite:///{data / 'hotline1567.sqlite3'}")
        with engine.connect() as connection:
            rows = connection.execute(select(Call.end_reason, Call.ended_at)).all()
        engine.dispose()
        assert [reason for reason, _ended in rows] == ["node_crash"]
