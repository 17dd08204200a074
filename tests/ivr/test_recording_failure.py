"""Storage failure is never hidden: with the recordings folder unusable (or the disk full mid-call)
the caller is told and offered a callback, the draft says "recording failed", /metrics counts it,
the supervisor's figures flag it, and the node goes on serving the next caller."""

from __future__ import annotations

import errno
import json
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY
from sqlalchemy import select

from ivr.call_session import SessionOptions, run_call
from ivr.flow.events import Play, RecordingFailed, RecordingStarted, StopRecording
from ivr.flow.machine import CallFlow, CallState
from ivr.flow.menu import FlowConfig
from ivr.prompts.library import PromptLibrary
from ivr.prompts.manifest import PromptManifest
from ivr.recorder import WavWriter
from ticketing.audio_queue import JOBS_STREAM
from ticketing.container import Services
from ticketing.models import Recording, Ticket

from .fakes import Caller, FakeChannel, fake_prompts


@pytest.fixture
def prompts(manifest: PromptManifest) -> PromptLibrary:
    return fake_prompts(manifest)


def failures(stage: str) -> float:
    return REGISTRY.get_sample_value("hotline_recording_failures_total", {"stage": stage}) or 0.0


def call(services: Services, flow: FlowConfig, prompts: PromptLibrary, caller: Caller, cid: str):
    channel = FakeChannel(caller, call_id=cid)
    run_call(
        channel, services, flow, prompts, SessionOptions(node="test-node", clock=channel.monotonic)
    )
    return channel


def steps(services: Services, call_id: str) -> list[str]:
    return [entry["step"] for entry in services.calls.get_call(call_id)["path"]]


def rows(services: Services, call_id: str) -> tuple[Ticket, Recording]:
    with services.sessions() as session:
        ticket = session.scalars(select(Ticket).where(Ticket.call_id == call_id)).one()
        recording = session.scalars(select(Recording).where(Recording.call_id == call_id)).one()
        session.expunge_all()
        return ticket, recording


def asr_jobs(services: Services) -> list[dict[str, Any]]:
    entries: Any = redis.Redis.from_url(str(services.settings.redis_url)).xrange(JOBS_STREAM)
    return [json.loads(fields[b"job"]) for _id, fields in entries]


def test_the_flow_never_reads_a_reference_for_a_recording_that_failed(
    flow_config: FlowConfig,
) -> None:
    flow = CallFlow(flow_config, "c")
    flow.state = CallState.RECORDING
    flow.handle(RecordingStarted("690000017"))
    actions = flow.handle(RecordingFailed("cannot create the file"))
    assert StopRecording("storage_failed", partial=True) in actions
    assert [a.prompts for a in actions if isinstance(a, Play)] == [("recording_failed",)]
    assert flow.state is CallState.RECORDING_FAILED


def test_unwritable_recordings_folder_caller_told_callback_draft_metric_and_next_call(
    ivr_services: Services, flow_config: FlowConfig, prompts: PromptLibrary
) -> None:
    recordings = ivr_services.settings.recordings_dir
    recordings.parent.mkdir(parents=True, exist_ok=True)
    recordings.write_text("not a folder")  # as unusable as a read-only mount (tests run as root)
    before = failures("create")

    # complaint (1), then the failure prompt offers a callback: the caller presses 1
    channel = call(
        ivr_services,
        flow_config,
        prompts,
        Caller(keys=[(1.0, "1"), (4.0, "1")], speech=[(2.0, 3.5)]),
        "broken-1",
    )
    assert steps(ivr_services, "broken-1") == [
        "greeting",
        "complaint",
        "complaint_recording",
        "complaint_recording_failed",
        "callback_after_failure",
    ]  # no "complaint_recorded", no reference read back, no survey
    assert channel.hung_up_by_ivr
    assert failures("create") == before + 1

    ticket, recording = rows(ivr_services, "broken-1")
    assert recording.write_error is not None and "cannot create the file" in recording.write_error
    assert ticket.status.value == "draft" and ticket.caller_phone == "0812345678"
    assert ticket.category == "INFO"  # a callback request
    assert ticket.description is not None and "recording failed" in ticket.description
    assert ticket.asr_status == "failed"
    assert (ticket.asr_error or "").startswith("recording failed: cannot create the file")
    assert asr_jobs(ivr_services) == []  # no job for audio that does not exist
    assert ivr_services.metrics.summary()["recording_failures_24h"] == 1
    record = ivr_services.calls.get_call("broken-1")
    assert record["end_reason"] == "completed" and not record["abandoned"]

    # the node keeps serving: the next caller asks for information and hears it
    call(ivr_services, flow_config, prompts, Caller(keys=[(1.0, "3")], hangup_at=6.0), "next")
    assert steps(ivr_services, "next") == ["greeting", "info"]


class FullDiskWriter(WavWriter):
    """The disk fills up after one second of audio (ENOSPC at the seam the recorder writes to)."""

    def write(self, pcm16: bytes) -> None:
        if self.seconds >= 1.0:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().write(pcm16)


def test_disk_full_mid_recording_stops_it_and_tells_the_caller(
    ivr_services: Services,
    flow_config: FlowConfig,
    prompts: PromptLibrary,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("ivr.session_recording.WavWriter", FullDiskWriter)
    before = failures("write")
    call(
        ivr_services,
        flow_config,
        prompts,
        Caller(keys=[(1.0, "1")], speech=[(2.0, 20.0)], hangup_at=30.0),
        "full-1",
    )
    path = steps(ivr_services, "full-1")
    assert path[:4] == [
        "greeting",
        "complaint",
        "complaint_recording",
        "complaint_recording_failed",
    ]
    assert "complaint_recorded" not in path and "survey" not in path
    assert failures("write") == before + 1
    ticket, recording = rows(ivr_services, "full-1")
    assert "No space left on device" in (recording.write_error or "")
    assert recording.partial is True
    assert ticket.description is not None and "recording failed" in ticket.description
    assert ivr_services.calls.get_call("full-1")["end_reason"] in ("completed", "no_input")
