"""Recordings: signed-in listeners only, byte ranges for seeking, every listen logged."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from starlette.testclient import TestClient

from agent_ui.console.ranges import UnsatisfiableRange, parse_range
from config.settings import Settings
from ticketing.container import Services
from ticketing.models import RecordingAccess

from .conftest import phone_draft, sign_in


def accesses(services: Services) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(RecordingAccess)) or 0)


def test_whole_file_then_ranges(client: TestClient, services: Services, settings: Settings) -> None:
    draft = phone_draft(services, settings)
    data = draft.wav_path.read_bytes()
    sign_in(client, "somchai")
    whole = client.get(f"/recordings/{draft.recording_id}")
    assert whole.status_code == 200
    assert whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "audio/wav"
    part = client.get(f"/recordings/{draft.recording_id}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    tail = client.get(f"/recordings/{draft.recording_id}", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == data[-10:]
    open_end = client.get(f"/recordings/{draft.recording_id}", headers={"Range": "bytes=44-"})
    assert open_end.status_code == 206 and open_end.content == data[44:]
    beyond = client.get(
        f"/recordings/{draft.recording_id}", headers={"Range": f"bytes={len(data) + 5}-"}
    )
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(data)}"
    # The whole-file request is a listen; seeks from later bytes are not new listens.
    assert accesses(services) == 1


def test_every_listen_is_logged_with_the_user(
    client: TestClient, services: Services, settings: Settings
) -> None:
    draft = phone_draft(services, settings)
    sign_in(client, "boss")
    client.get(f"/recordings/{draft.recording_id}", headers={"Range": "bytes=0-"})
    client.get(f"/recordings/{draft.recording_id}", headers={"Range": "bytes=0-"})
    with services.sessions() as session:
        rows = list(session.scalars(select(RecordingAccess)))
    assert len(rows) == 2
    assert {r.recording_id for r in rows} == {draft.recording_id}
    boss = next(u for u in services.users.list_users() if u["username"] == "boss")
    assert {r.user_id for r in rows} == {boss["id"]}


def test_recordings_need_a_listening_role(
    client: TestClient, services: Services, settings: Settings
) -> None:
    draft = phone_draft(services, settings)
    assert client.get(f"/recordings/{draft.recording_id}").status_code == 401
    sign_in(client, "root")
    assert client.get(f"/recordings/{draft.recording_id}").status_code == 403
    assert accesses(services) == 0


def test_agents_hear_only_their_provinces(
    client: TestClient, services: Services, settings: Settings
) -> None:
    draft = phone_draft(services, settings)
    services.tickets.apply_transcript(
        draft.ticket["id"],
        transcript="ถนนพัง",
        words=[],
        extracted={"province_code": "10"},
        confidence={"province_code": 0.9},
        asr_status="done",
    )
    sign_in(client, "chiang_mai_agent")
    assert client.get(f"/recordings/{draft.recording_id}").status_code == 403
    assert client.get("/recordings/999999").status_code == 404


def test_missing_file_is_404_not_500(
    client: TestClient, services: Services, settings: Settings
) -> None:
    draft = phone_draft(services, settings)
    draft.wav_path.unlink()
    sign_in(client, "somchai")
    assert client.get(f"/recordings/{draft.recording_id}").status_code == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-9", (0, 9)),
        ("bytes=5-", (5, 99)),
        ("bytes=-20", (80, 99)),
        ("bytes=90-500", (90, 99)),
        ("bytes=0-1, 5-6", (0, 1)),
        ("items=0-1", None),
        ("bytes=abc", None),
    ],
)
def test_parse_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=50-10", "bytes=-0"])
def test_unsatisfiable_ranges(header: str) -> None:
    with pytest.raises(UnsatisfiableRange):
        parse_range(header, 100)


@pytest.mark.parametrize("first", ["bytes=1-", "bytes=44-99", "bytes=1-10, 0-"])
def test_a_listen_from_a_later_byte_is_logged_once(
    client: TestClient, services: Services, settings: Settings, first: str
) -> None:
    draft = phone_draft(services, settings)
    data = draft.wav_path.read_bytes()
    sign_in(client, "somchai")
    got = client.get(f"/recordings/{draft.recording_id}", headers={"Range": first})
    assert got.status_code == 206
    assert accesses(services) == 1  # main 4c6c892 logged nothing here
    # The same listen seeking on: no new rows.
    for seek in ("bytes=2000-", "bytes=100-199"):
        part = client.get(f"/recordings/{draft.recording_id}", headers={"Range": seek})
        assert part.status_code == 206
    assert accesses(services) == 1
    # Another listener's seek is their own listen.
    other = TestClient(client.app, base_url="http://testserver")
    sign_in(other, "malee")
    tail = other.get(f"/recordings/{draft.recording_id}", headers={"Range": "bytes=1-"})
    assert tail.status_code == 206 and tail.content == data[1:]
    assert accesses(services) == 2


@pytest.mark.parametrize("recording_id", [str(10**23), "9" * 40, "١٢"])
def test_absurd_recording_ids_are_404(
    client: TestClient, services: Services, settings: Settings, recording_id: str
) -> None:
    sign_in(client, "somchai")
    answer = client.get(f"/recordings/{recording_id}")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"
