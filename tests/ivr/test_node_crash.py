"""Fault test: ``kill -9`` of a real IVR node (``hotline1567 ivr``) mid-recording, behind a real
Kamailio, with SIPp as the caller. The WAV stays readable, the restarted node closes the call row
(calls in IVR back to 0) and Kamailio sends the caller the BYE the dead node never could."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import wave
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from config.settings import Settings
from ivr.kamailio import EmbeddedKamailio, IvrNode, options_ping
from ivr.prompts.manifest import PromptManifest
from tests.ivr.sip.sipkit import free_even_block, free_udp_port, sipp
from tests.ivr.test_node import write_prompts
from ticketing.container import Services, build_services
from ticketing.db import make_engine, make_sessionmaker, upgrade_schema
from ticketing.models import Call, Recording
from ticketing.sip_accounts import SipAccountService

pytestmark = pytest.mark.slow

CRASH_SCENARIO = Path(__file__).parent / "scenarios" / "uac_crash.xml"
ROOT = Path(__file__).parents[2]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@contextmanager
def ivr_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hotline1567", "ivr"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def node_under_test(
    tmp_path: Path, redis_url: str, manifest: PromptManifest, name: str
) -> tuple[Path, str, int, tuple[str, int], dict[str, str]]:
    """A database with the schema and the node's SIP account, prompts, free ports and the
    environment of a real ``hotline1567 ivr`` (no HOTLINE_* of the test run's own)."""
    data = tmp_path / "data"
    database = f"sqlite:///{tmp_path / f'{name}.sqlite3'}"
    upgrade_schema(database)
    write_prompts(data / "prompts", manifest)
    engine = make_engine(database)
    SipAccountService(make_sessionmaker(engine)).set_password("ivr1", f"{name}-test-password")
    engine.dispose()
    node_port, listen = free_udp_port(), ("127.0.0.1", free_udp_port())
    rtp = free_even_block()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update(
        {
            "HOTLINE_DATA_DIR": str(data),
            "HOTLINE_DATABASE_URL": database,
            "HOTLINE_REDIS_URL": redis_url,
            "HOTLINE_SIP_REGISTRAR": f"{listen[0]}:{listen[1]}",
            "HOTLINE_SIP_PORT": str(node_port),
            "HOTLINE_SIP_USER": "ivr1",
            "HOTLINE_SIP_PASSWORD": f"{name}-test-password",
            "HOTLINE_RTP_PORTS": f"{rtp}-{rtp + 39}",
            "HOTLINE_IVR_ANSWER_DELAY": "0.05",
        }
    )
    return data, database, node_port, listen, env


def test_kill_9_mid_recording_keeps_the_wav_closes_the_call_and_byes_the_caller(
    tmp_path: Path, ivr_redis_url: str, manifest: PromptManifest
) -> None:
    data, database, node_port, listen, env = node_under_test(
        tmp_path, ivr_redis_url, manifest, "crash"
    )
    log = tmp_path / "ivr.log"
    settings = Settings(data_dir=data, database_url=database, redis_url=ivr_redis_url)
    kamailio = EmbeddedKamailio(
        settings, listen=listen, nodes=[IvrNode("ivr1", "127.0.0.1", node_port)], ping_interval=1
    )
    services = build_services(settings, start_relay=False)
    try:
        with kamailio:
            with ivr_process(env, log) as first:
                wait_for(lambda: "registered as ivr1" in log.read_text(), 60, "registration")
                wait_for(lambda: options_ping(*listen, user="1567") == 200, 15, "dispatcher")
                caller = sipp(str(CRASH_SCENARIO), listen, timeout=90, background=True)
                assert isinstance(caller, subprocess.Popen)
                recordings = data / "recordings"

                def recorded_seconds() -> float:
                    files = list(recordings.rglob("*.wav")) if recordings.exists() else []
                    return max(((f.stat().st_size - 44) / 16000 for f in files), default=0.0)

                wait_for(lambda: recorded_seconds() >= 3.0, 40, "3 s of recording")
                os.kill(first.pid, signal.SIGKILL)
                first.wait(timeout=10)

            # The WAV as the crash left it: a player reads it, the header matches the bytes.
            (path,) = list((data / "recordings").rglob("*.wav"))
            with wave.open(str(path)) as wav:
                frames, rate = wav.getnframes(), wav.getframerate()
            assert rate == 8000
            assert frames / rate >= 2.0, frames
            assert (path.stat().st_size - 44) / 2 - frames <= 8000  # at most 1 s not in the header
            (call,) = open_calls(services)
            assert services.metrics.summary()["calls_in_ivr"] == 1  # stuck until the node is back

            with ivr_process(env, log):
                wait_for(lambda: not open_calls(services), 60, "the orphaned call to be closed")
                ended = services.calls.get_call(call)
                assert ended["end_reason"] == "node_crash" and not ended["abandoned"]
                assert services.metrics.summary()["calls_in_ivr"] == 0
                output, _ = caller.communicate(timeout=60)
                assert caller.returncode == 0, output[-3000:]  # the caller got its BYE

            with wave.open(str(path)) as wav:
                seconds = wav.getnframes() / wav.getframerate()
            assert (path.stat().st_size - 44) / 16000 == seconds  # repaired to the last byte
            recording = recording_row(services, call)
            assert recording["complete"] and recording["partial"]
            assert abs(recording["duration_seconds"] - seconds) < 0.01
    finally:
        services.close()


def open_calls(services: Services) -> list[str]:
    with services.sessions() as session:
        return list(session.scalars(select(Call.id).where(Call.ended_at.is_(None))))


def recording_row(services: Services, call_id: str) -> dict[str, object]:
    with services.sessions() as session:
        row = session.scalars(select(Recording).where(Recording.call_id == call_id)).one()
        return {
            "complete": row.complete,
            "partial": row.partial,
            "duration_seconds": row.duration_seconds,
        }
