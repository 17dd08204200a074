"""Whole calls through the session runner: a scripted caller on a fake channel (virtual time),
real ticketing services on SQLite and the local Redis (db 11)."""

from __future__ import annotations

import json
import wave
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import pytest
import redis
from sqlalchemy import select

from ivr.call_session import SessionOptions, run_call
from ivr.flow.menu import FlowConfig, MenuAction
from ivr.prompts.library import PromptLibrary
from ivr.prompts.manifest import PromptManifest
from ivr.recording_failure import CALLBACK_NOTE
from ticketing.actors import Actor
from ticketing.audio_queue import AUDIO_KEY, JOBS_STREAM, AudioQueue
from ticketing.container import Services
from ticketing.models import Recording, Ticket
from ticketing.tickets import NewTicket

from .fakes import Caller, FakeChannel, fake_prompts

DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def prompts(manifest: PromptManifest) -> PromptLibrary:
    return fake_prompts(manifest)


def call(
    services: Services,
    flow_config: FlowConfig,
    prompts: PromptLibrary,
    caller: Caller,
    call_id: str = "call-1",
) -> FakeChannel:
    channel = FakeChannel(caller, call_id=call_id)
    run_call(
        channel,
        services,
        flow_config,
        prompts,
        SessionOptions(node="test-node", clock=channel.monotonic),
    )
    return channel


def ticket_of(services: Services, call_id: str) -> Ticket:
    with services.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.call_id == call_id)).one()
        session.expunge(ticket)
        return ticket


def recording_of(services: Services, call_id: str) -> Recording:
    with services.sessions() as session:
        row = session.scalars(select(Recording).where(Recording.call_id == call_id)).one()
        session.expunge(row)
        return row


def wav_seconds(services: Services, relative: str) -> float:
    path = services.settings.data_dir / relative
    with wave.open(str(path), "rb") as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (8000, 2, 1)
        return wav.getnframes() / 8000


def steps(services: Services, call_id: str) -> list[str]:
    return [entry["step"] for entry in services.calls.get_call(call_id)["path"]]


def redis_client(services: Services) -> redis.Redis:
    return redis.Redis.from_url(str(services.settings.redis_url))


def asr_jobs(services: Services) -> list[dict[str, Any]]:
    entries: Any = redis_client(services).xrange(JOBS_STREAM)
    return [json.loads(fields[b"job"]) for _id, fields in entries]


def audio_entries(services: Services, recording_id: int) -> list[dict[bytes, bytes]]:
    entries: Any = redis_client(services).xrange(AUDIO_KEY.format(recording_id=recording_id))
    return [fields for _id, fields in entries]


# A complaint: "1" after the menu, speech from 2 s to 5 s, '#' at 6 s, skip the read-back,
# rate 5.
COMPLAINT = Caller(keys=[(1.0, "1"), (6.0, "#"), (7.0, "#"), (8.0, "5")], speech=[(2.0, 5.0)])


def test_complaint_with_hash_leaves_draft_wav_asr_stream_survey_and_call_record(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    channel = call(ivr_services, flow_config, prompts, COMPLAINT)
    (beep_at,) = channel.beep_times()
    ticket = ticket_of(ivr_services, "call-1")
    assert ticket.status.value == "draft"
    assert ticket.caller_phone == "0812345678"
    assert ticket.channel == "phone"

    recording = recording_of(ivr_services, "call-1")
    assert recording.id == ticket.recording_id
    assert recording.path.startswith("recordings/") and recording.path.endswith("/call-1.wav")
    assert wav_seconds(ivr_services, recording.path) == pytest.approx(6.0 - beep_at, abs=0.1)
    assert recording.duration_seconds == pytest.approx(6.0 - beep_at, abs=0.1)
    assert recording.partial is False and recording.complete is True

    (job,) = asr_jobs(ivr_services)
    assert job["recording_id"] == recording.id
    assert job["ticket_id"] == ticket.id
    assert job["path"] == recording.path
    assert (job["sample_rate"], job["streaming"]) == (8000, True)
    entries = audio_entries(ivr_services, recording.id)
    pcm = b"".join(e[b"pcm"] for e in entries if b"pcm" in e)
    wav_bytes = (ivr_services.settings.data_dir / recording.path).read_bytes()[44:]
    assert pcm == wav_bytes  # the live stream carries exactly the recorded audio
    assert entries[-1] == {b"end": b"key"}
    assert 10 < len(entries) < 60  # batched (~160 ms per XADD), not one per 20 ms frame

    record = ivr_services.calls.get_call("call-1")
    assert record["end_reason"] == "completed"
    assert record["abandoned"] is False
    assert record["survey_rating"] == 5
    assert record["node"] == "test-node"
    assert record["answered_at"] is not None
    assert steps(ivr_services, "call-1") == [
        "greeting",
        "complaint",
        "complaint_recording",
        "complaint_recorded",
        "survey",
        "survey_rating",
        "goodbye",
    ]
    assert channel.hung_up_by_ivr


def test_silence_after_speech_ends_the_recording(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    caller = Caller(keys=[(1.0, "1")], speech=[(2.0, 4.0)], hangup_at=20.0)
    channel = call(ivr_services, flow_config, prompts, caller)
    (beep_at,) = channel.beep_times()
    recording = recording_of(ivr_services, "call-1")
    # 8 s of silence after the last speech at 4 s
    assert wav_seconds(ivr_services, recording.path) == pytest.approx(12.0 - beep_at, abs=0.1)
    assert recording.partial is False
    assert audio_entries(ivr_services, recording.id)[-1] == {b"end": b"silence"}
    assert "complaint_recorded" in steps(ivr_services, "call-1")


def test_maximum_length_cuts_the_recording(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    short = replace(flow_config, recording=replace(flow_config.recording, max_seconds=5.0))
    caller = Caller(keys=[(1.0, "1")], speech=[(1.5, 30.0)], hangup_at=30.0)
    call(ivr_services, short, prompts, caller)
    recording = recording_of(ivr_services, "call-1")
    assert wav_seconds(ivr_services, recording.path) == pytest.approx(5.0, abs=0.1)
    assert audio_entries(ivr_services, recording.id)[-1] == {b"end": b"max_length"}


def test_hangup_mid_recording_leaves_partial_draft_and_audio(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    caller = Caller(keys=[(1.0, "1")], speech=[(2.0, 9.0)], hangup_at=5.5)
    channel = call(ivr_services, flow_config, prompts, caller)
    (beep_at,) = channel.beep_times()
    ticket = ticket_of(ivr_services, "call-1")
    assert ticket.caller_phone == "0812345678"
    recording = recording_of(ivr_services, "call-1")
    assert recording.partial is True and recording.complete is True
    assert wav_seconds(ivr_services, recording.path) == pytest.approx(5.5 - beep_at, abs=0.1)
    assert recording.duration_seconds == pytest.approx(5.5 - beep_at, abs=0.1)
    assert audio_entries(ivr_services, recording.id)[-1] == {b"end": b"hangup"}
    record = ivr_services.calls.get_call("call-1")
    assert record["end_reason"] == "bye"
    assert record["abandoned"] is False  # the caller had spoken: a complaint without '#'
    assert steps(ivr_services, "call-1")[-1] == "complaint_partial"
    assert not channel.hung_up_by_ivr


def test_hangup_in_the_menu_is_abandoned(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    call(ivr_services, flow_config, prompts, Caller(hangup_at=2.0))
    record = ivr_services.calls.get_call("call-1")
    assert (record["end_reason"], record["abandoned"]) == ("bye", True)
    assert asr_jobs(ivr_services) == []


def test_no_input_three_times_goes_to_the_queue_then_records(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    """No keys at all: the queue (not goodbye); with nobody to ring, the choices at once; no
    keys there either: the complaint is recorded (never an endless wait)."""
    channel = call(ivr_services, flow_config, prompts, Caller(hangup_at=200))
    path = steps(ivr_services, "call-1")
    assert path[:5] == ["greeting", "main_menu:no_input", "main_menu:no_input",
                        "main_menu:no_input", "queue"]  # fmt: skip
    assert "queue_no_agents" in path and "complaint_recording" in path
    assert channel.hung_up_by_ivr
    record = ivr_services.calls.get_call("call-1")
    assert record["end_reason"] == "completed"
    [row] = ivr_services.call_queue.recent_calls()
    assert row["queue_entered_at"] is not None and row["outcome"] == "ivr_only"


@pytest.mark.parametrize("outage", ["from_start", "mid_call"])
def test_redis_down_still_leaves_the_wav_and_the_draft(
    ivr_services: Services,
    flow_config: FlowConfig,
    prompts: PromptLibrary,
    outage: str,
) -> None:
    dead = redis.Redis.from_url(DEAD_REDIS, socket_connect_timeout=0.5)
    if outage == "from_start":
        ivr_services.audio = AudioQueue(dead)
    else:
        audio = ivr_services.audio
        real_append = audio.append_audio
        sent = []

        def append_then_die(recording_id: int, pcm16: bytes) -> None:
            if len(sent) == 3:
                audio._redis = dead  # Redis goes away after three chunks
            real_append(recording_id, pcm16)
            sent.append(len(pcm16))

        audio.append_audio = append_then_die  # type: ignore[method-assign]
    channel = call(ivr_services, flow_config, prompts, COMPLAINT)
    (beep_at,) = channel.beep_times()
    ticket = ticket_of(ivr_services, "call-1")
    recording = recording_of(ivr_services, "call-1")
    assert ticket.caller_phone == "0812345678"
    assert wav_seconds(ivr_services, recording.path) == pytest.approx(6.0 - beep_at, abs=0.1)
    assert recording.complete is True
    record = ivr_services.calls.get_call("call-1")
    assert (record["end_reason"], record["survey_rating"]) == ("completed", 5)
    if outage == "mid_call":
        (job,) = asr_jobs(ivr_services)
        assert job["recording_id"] == recording.id
        assert len(audio_entries(ivr_services, recording.id)) == 3  # then the stream stopped
    else:
        assert asr_jobs(ivr_services) == []


def test_database_errors_during_the_call_do_not_stop_it(
    ivr_services: Services,
    flow_config: FlowConfig,
    prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(ivr_services.calls, "menu_steps", broken)
    monkeypatch.setattr(ivr_services.calls, "record_survey", broken)
    call(ivr_services, flow_config, prompts, COMPLAINT)
    recording = recording_of(ivr_services, "call-1")
    assert recording.complete is True
    record = ivr_services.calls.get_call("call-1")
    assert record["end_reason"] == "completed"
    assert record["path"] == []


def test_database_down_at_recording_start_registers_the_draft_at_the_end(
    ivr_services: Services,
    flow_config: FlowConfig,
    prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = ivr_services.calls.start_recording
    attempts: list[str] = []

    def first_fails(call_id: str, path: str, **kwargs: Any) -> Any:
        attempts.append(path)
        if len(attempts) == 1:
            raise RuntimeError("connection refused")
        return real(call_id, path, **kwargs)

    monkeypatch.setattr(ivr_services.calls, "start_recording", first_fails)
    call(ivr_services, flow_config, prompts, COMPLAINT)
    assert len(attempts) == 2
    recording = recording_of(ivr_services, "call-1")
    assert recording.complete is True
    (job,) = asr_jobs(ivr_services)
    assert job["streaming"] is False  # no live chunks: the worker reads the file


def _draft(services: Services, phone: str = "0899999999") -> str:
    created = services.tickets.create(
        NewTicket(description="ถนนพัง", caller_phone=phone, channel="phone"), Actor.system("test")
    )
    return str(created["reference"])


def _keys_for(reference: str, start: float) -> list[tuple[float, str]]:
    keys = [(start + 0.3 * i, digit) for i, digit in enumerate(reference)]
    return [*keys, (start + 0.3 * len(reference), "#")]


def test_status_of_a_keyed_reference_is_told(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    reference = _draft(ivr_services)
    caller = Caller(keys=[(1.0, "2"), *_keys_for(reference, 1.5)], hangup_at=12.0)
    call(ivr_services, flow_config, prompts, caller)
    assert steps(ivr_services, "call-1") == [
        "greeting",
        "status",
        "status_reference",
        "status_told:draft",
    ]
    assert ivr_services.calls.get_call("call-1")["abandoned"] is False


def test_mistyped_and_unknown_references(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    reference = _draft(ivr_services)
    mistyped = reference[:-1] + str((int(reference[-1]) + 1) % 10)
    from ticketing.reference import format_reference

    unknown = format_reference(int(reference[:2]), 999_999)
    keys = [(1.0, "2"), *_keys_for(mistyped, 1.5), *_keys_for(unknown, 7.0)]
    call(ivr_services, flow_config, prompts, Caller(keys=keys, hangup_at=14.0))
    path = ivr_services.calls.get_call("call-1")["path"]
    assert [(e["step"], e.get("digits")) for e in path[2:]] == [
        ("status_reference:invalid", mistyped),
        ("status_reference", unknown),
        ("status:unknown", None),
    ]


def test_repeat_caller_hears_newest_open_ticket_with_9(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    _draft(ivr_services, phone="0812345678")
    call(ivr_services, flow_config, prompts, Caller(keys=[(1.0, "9")], hangup_at=8.0))
    assert steps(ivr_services, "call-1") == [
        "greeting",
        "repeat_caller_status",
        "status_told:draft",
    ]


def test_callback_request_is_a_draft_marked_info(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    menu = MappingProxyType({**flow_config.menu, "0": MenuAction.CALLBACK})  # the old key 0
    caller = Caller(keys=[(1.0, "0"), (5.0, "#")], speech=[(2.0, 4.0)])
    call(ivr_services, replace(flow_config, menu=menu), prompts, caller)
    ticket = ticket_of(ivr_services, "call-1")
    assert ticket.category == "INFO"
    assert ticket.description == CALLBACK_NOTE
    assert ticket.caller_phone == "0812345678"
    assert recording_of(ivr_services, "call-1").complete is True
    record = ivr_services.calls.get_call("call-1")
    assert (record["end_reason"], record["survey_rating"]) == ("completed", None)


def test_a_calls_menu_steps_are_written_together_in_order(
    ivr_services: Services,
    flow_config: FlowConfig,
    prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One transaction per step was a sixth of the node's interpreter time at 15 new calls a
    second: the steps of a second go in one, and every step still reaches the path in order."""
    batches: list[list[str]] = []
    real = ivr_services.calls.menu_steps

    def counted(call_id: str, batch: list[Any]) -> None:
        batches.append([name for name, _digits, _at in batch])
        real(call_id, batch)

    monkeypatch.setattr(ivr_services.calls, "menu_steps", counted)
    call(ivr_services, flow_config, prompts, COMPLAINT)
    path = steps(ivr_services, "call-1")
    assert [name for batch in batches for name in batch] == path
    assert len(path) >= 4 and len(batches) < len(path)
    assert ivr_services.calls.get_call("call-1")["last_step"] == path[-1]
