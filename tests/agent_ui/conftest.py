"""Fixtures for the console: a real SQLite file per test, the real Redis (db 14), users, a
TestClient, and a uvicorn server in a thread for the live stream and the browser."""

from __future__ import annotations

import io
import re
import shutil
import socket
import struct
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.testclient import TestClient

from agent_ui.app import create_app
from config.settings import Settings
from tests.redis_db import private_redis_db
from ticketing.container import Services, build_services, sync_agencies
from ticketing.db import upgrade_schema
from ticketing.embedded_redis import EmbeddedRedis

PASSWORD = "correct-horse-1"


@pytest.fixture(scope="session")
def schema_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Alembic once per run; each test copies the migrated file (much faster than migrating)."""
    path = tmp_path_factory.mktemp("schema") / "template.sqlite3"
    upgrade_schema(f"sqlite:///{path}")
    return path


@pytest.fixture
def ui_redis_url(redis_server: EmbeddedRedis) -> str:
    return private_redis_db(redis_server, 14)


@pytest.fixture
def settings(tmp_path: Path, schema_template: Path, ui_redis_url: str) -> Settings:
    database = tmp_path / "hotline.sqlite3"
    shutil.copy(schema_template, database)
    return Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{database}",
        redis_url=ui_redis_url,
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings, redis_url=settings.redis_url)
    sync_agencies(built.sessions, built.catalog)
    for name, role, provinces in (
        ("somchai", "agent", ()),
        ("malee", "agent", ()),
        ("chiang_mai_agent", "agent", ("50",)),
        ("boss", "supervisor", ()),
        ("root", "admin", ()),
    ):
        built.users.add_user(name, PASSWORD, role, provinces=provinces)
    yield built
    built.close()


@pytest.fixture
def app(settings: Settings, services: Services) -> Any:
    return create_app(settings, services)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as test_client:
        yield test_client


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def sign_in(client: Any, username: str, password: str = PASSWORD) -> str:
    """Signs in through the form; returns the session's CSRF token for API calls."""
    page = client.get("/login")
    token = csrf_from(page.text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    landing = client.get("/login")  # any page: the new session's token
    return csrf_from(landing.text)


def wav_bytes(seconds: float = 1.0, rate: int = 8000) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = int(seconds * rate)
        out.writeframes(b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(frames)))
    return buffer.getvalue()


@dataclass
class PhoneDraft:
    call_id: str
    recording_id: int
    ticket: dict[str, Any]
    wav_path: Path


def phone_draft(
    services: Services, settings: Settings, caller: str = "0812345678", seconds: float = 2.0
) -> PhoneDraft:
    """What the IVR does: a call, a WAV under the data dir, and the draft ticket."""
    call_id = f"call-{uuid.uuid4().hex[:10]}"
    relative = f"recordings/{call_id}.wav"
    path = settings.data_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes(seconds))
    services.calls.start_call(call_id, caller_number=caller, node="test")
    recording_id, ticket = services.calls.start_recording(call_id, relative)
    return PhoneDraft(call_id, recording_id, ticket, path)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture
def live_server(app: Any) -> Iterator[LiveServer]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield LiveServer(f"http://127.0.0.1:{port}", server, thread)
    server.should_exit = True
    thread.join(timeout=10)
