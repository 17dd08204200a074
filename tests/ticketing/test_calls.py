from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from ticketing.container import Services
from ticketing.errors import InvalidInput, NotFound
from ticketing.models import Recording
from ticketing.timeutil import utcnow


def test_call_record_path_recording_draft_and_end(services: Services) -> None:
    calls = services.calls
    calls.start_call("call-1", sip_call_id="abc@host", caller_number="+66812345678", node="n1")
    calls.answered("call-1")
    calls.menu_step("call-1", "main_menu", "1")
    recording_id, ticket = calls.start_recording("call-1", "recordings/call-1.wav")
    assert ticket["status"] == "draft"
    assert ticket["caller_phone"] == "0812345678"
    assert ticket["channel"] == "phone"
    assert ticket["recording_id"] == recording_id
    assert ticket["asr_status"] == "pending"
    calls.finish_recording(recording_id, duration_seconds=12.5, partial=False)
    calls.record_survey("call-1", 5)
    calls.end_call("call-1", "bye", abandoned=False)
    calls.end_call("call-1", "rtp_timeout", abandoned=True)  # a second report is ignored
    record = calls.get_call("call-1")
    assert [step["step"] for step in record["path"]] == ["main_menu"]
    assert record["path"][0]["digits"] == "1"
    assert record["end_reason"] == "bye"
    assert record["abandoned"] is False
    assert record["survey_rating"] == 5


def test_anonymous_caller_is_still_recorded(services: Services) -> None:
    services.calls.start_call("call-2", caller_number="anonymous")
    assert services.calls.get_call("call-2")["caller_number"] is None


def test_bad_survey_and_unknown_call(services: Services) -> None:
    services.calls.start_call("call-3")
    with pytest.raises(InvalidInput):
        services.calls.record_survey("call-3", 6)
    with pytest.raises(NotFound):
        services.calls.answered("nope")


def test_recordings_past_retention_are_purged(services: Services, tmp_path: Path) -> None:
    services.calls.start_call("call-4")
    old_id, _ = services.calls.start_recording("call-4", "recordings/old.wav")
    services.calls.start_call("call-5")
    services.calls.start_recording("call-5", "recordings/new.wav")
    (tmp_path / "recordings").mkdir()
    for name in ("old.wav", "new.wav"):
        (tmp_path / "recordings" / name).write_bytes(b"RIFF")
    with services.sessions.begin() as session:
        session.execute(
            update(Recording)
            .where(Recording.id == old_id)
            .values(purge_after=utcnow() - timedelta(days=1))
        )
    assert services.calls.purge_expired_recordings(tmp_path) == 1
    assert not (tmp_path / "recordings" / "old.wav").exists()
    assert (tmp_path / "recordings" / "new.wav").exists()
    assert services.calls.purge_expired_recordings(tmp_path) == 0
