"""A call-taker's conversation: one stereo WAV (caller left, agent right), one ASR job per side.

The read-back rule runs on the real ``asr.understanding`` with Thai text; the worker end to
end on the real Vosk model (Korean speech on the caller's side, other speech on the agent's).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from asr.channels import read_back_fields
from asr.fields import DraftFields, FieldExtractor
from asr.job import JobSettings
from asr.recognizer import Recognizer
from asr.wavfile import WavAudio, write_stereo_wav
from asr.worker import AsrWorker, WorkerConfig
from config.sections import AsrWorkerOptions
from config.settings import SettingsError
from tests.asr.drafts import new_draft, pending, running, ticket, wait_for
from ticketing.audio_queue import AsrJob
from ticketing.container import Services
from ticketing.models import ChannelTranscript, Recording

READ_BACK = "ครับ ขอทวนเบอร์ ศูนย์ แปด หนึ่ง สอง สาม สี่ ห้า หก เจ็ด แปด นะครับ"
DROPPED_DIGIT = "ขอทวนเบอร์ ศูนย์ แปด หนึ่ง สอง สาม สี่ ห้า หก เจ็ด นะครับ"


@pytest.fixture(scope="module")
def extractor() -> FieldExtractor:
    fields = FieldExtractor()
    fields.warm()
    return fields


def back(extractor: FieldExtractor, caller: DraftFields, agent_text: str) -> dict[str, Any]:
    return read_back_fields(
        extractor, caller, agent_text, asr_confidence=0.9, caller_phone=None, reference="t"
    ).values


def test_a_number_the_call_taker_reads_back_fills_the_phone(extractor: FieldExtractor) -> None:
    assert back(extractor, DraftFields(), READ_BACK) == {"caller_phone": "0812345678"}


def test_the_callers_own_number_comes_first(extractor: FieldExtractor) -> None:
    caller = DraftFields({"caller_phone": "0899999999"}, {"caller_phone": 0.8})
    assert back(extractor, caller, READ_BACK) == {}


def test_only_numbers_are_taken_from_the_call_takers_side(extractor: FieldExtractor) -> None:
    said = "อยู่อำเภอสันทราย จังหวัดเชียงใหม่ ถนนเป็นหลุม " + READ_BACK
    assert set(back(extractor, DraftFields(), said)) == {"caller_phone"}


def test_a_read_back_with_a_digit_missing_fills_nothing(extractor: FieldExtractor) -> None:
    assert back(extractor, DraftFields(), DROPPED_DIGIT) == {}


def test_the_agent_channel_setting_is_typed() -> None:
    assert AsrWorkerOptions.from_env({}).agent_channel is True
    assert AsrWorkerOptions.from_env({"HOTLINE_ASR_AGENT_CHANNEL": "0"}).agent_channel is False
    with pytest.raises(SettingsError, match="HOTLINE_ASR_AGENT_CHANNEL"):
        AsrWorkerOptions.from_env({"HOTLINE_ASR_AGENT_CHANNEL": "maybe"})


class Fields(FieldExtractor):
    def warm(self) -> None:
        pass

    def extract(
        self, text: str, *, asr_confidence: float, caller_phone: str | None, reference: str
    ) -> DraftFields:
        return DraftFields()


def conversation(services: Services, audio: WavAudio, agent_pcm: bytes) -> dict[str, Any]:
    """A draft whose recording is a stereo conversation, with a recording row per side."""
    draft = new_draft(services, f"conv-{id(audio)}-{len(agent_pcm)}", None)
    write_stereo_wav(
        services.settings.data_dir / draft["path"], audio.pcm16, agent_pcm, audio.sample_rate
    )
    with services.sessions.begin() as session:
        agent = Recording(call_id=None, path=draft["path"], sample_rate=audio.sample_rate)
        session.add(agent)
        session.flush()
        draft["agent_recording_id"] = agent.id
    return draft


def jobs(services: Services, draft: dict[str, Any]) -> None:
    for channel, rid in (("caller", draft["recording_id"]), ("agent", draft["agent_recording_id"])):
        services.audio.enqueue_job(
            AsrJob(rid, draft["ticket"]["id"], None, draft["path"], 8000, False, channel=channel)
        )


def sides(services: Services, ticket_id: int) -> dict[str, str]:
    with services.sessions() as session:
        rows = session.scalars(
            select(ChannelTranscript).where(ChannelTranscript.ticket_id == ticket_id)
        ).all()
        return {r.channel: r.transcript for r in rows}


def worker(services: Services, recognizer: Recognizer, *, agent: bool) -> AsrWorker:
    config = WorkerConfig(
        consumer="w1",
        concurrency=2,
        stats_seconds=0.5,
        job=JobSettings(stream_grace_seconds=1.0, agent_channel=agent),
    )
    return AsrWorker(services, recognizer, config, Fields())


@pytest.mark.slow
def test_each_side_is_transcribed_and_the_draft_keeps_the_callers_words(
    asr_services: Services, recognizer: Recognizer, korean_audio: WavAudio
) -> None:
    services = asr_services
    agent_pcm = korean_audio.pcm16[len(korean_audio.pcm16) // 2 :]  # the last half, repeated
    draft = conversation(services, korean_audio, agent_pcm)
    alone = recognizer.open_stream(8000, partials=False)
    alone.accept(korean_audio.pcm16)
    caller_only = alone.finish().text
    with running(worker(services, recognizer, agent=True)):
        jobs(services, draft)
        wait_for(lambda: len(sides(services, draft["ticket"]["id"])) == 2, 120, "both sides")
        wait_for(lambda: pending(services) == 0, 10, "both acknowledged")
    stored = ticket(services, draft)
    texts = sides(services, draft["ticket"]["id"])
    assert stored["asr_status"] == "done"
    assert stored["transcript"] == texts["caller"] == caller_only  # the left channel alone
    assert texts["agent"] and texts["agent"] != texts["caller"]


@pytest.mark.slow
def test_with_the_agent_channel_off_its_job_is_acknowledged_undecoded(
    asr_services: Services, recognizer: Recognizer, korean_audio: WavAudio
) -> None:
    services = asr_services
    draft = conversation(services, korean_audio, korean_audio.pcm16)
    w = worker(services, recognizer, agent=False)
    with running(w):
        jobs(services, draft)
        wait_for(lambda: w.stats.snapshot(0)["jobs_done"] == 1, 120, "the caller's side")
        wait_for(lambda: pending(services) == 0, 10, "both acknowledged")
    assert w.stats.snapshot(0)["skipped"] == 1
    assert set(sides(services, draft["ticket"]["id"])) == {"caller"}
    assert ticket(services, draft)["asr_status"] == "done"


def test_the_text_so_far_is_an_asr_partial_event_with_its_channel(
    asr_services: Services,
) -> None:
    from ticketing.models import OutboxEvent

    draft = new_draft(asr_services, "partial-event", None)
    asr_services.tickets.apply_transcript(
        draft["ticket"]["id"],
        transcript="ถนนเป็นหลุม",
        words=None,
        extracted={},
        confidence={},
        asr_status="streaming",
        channel="caller",
    )
    with asr_services.sessions() as session:
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.event_type == "asr.partial")
        ).all()
        payloads = [e.payload for e in events]
    assert len(payloads) == 1
    assert payloads[0]["channel"] == "caller" and payloads[0]["text"] == "ถนนเป็นหลุม"
    assert payloads[0]["reference"] == draft["ticket"]["reference"]
