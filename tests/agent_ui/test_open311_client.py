"""The Open311 client against two servers over real HTTP: a second hotline1567 web instance
as the agency's server, and a small independent server written here from the specification."""

from __future__ import annotations

import json
import shutil
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select

from agent_ui.app import create_app
from config.catalog import DEFAULTS_DIR
from config.settings import Settings
from tests.redis_db import private_redis_db
from ticketing.actors import Actor
from ticketing.container import Services, build_services, sync_agencies
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.models import Open311Outbound
from ticketing.open311_client import Open311Client
from ticketing.tickets import NewTicket
from ticketing.timeutil import utcnow

from .conftest import free_port

AGENT = Actor(name="somchai", role="agent")


def _with_endpoint(tmp_path: Path, endpoint: str, key: str) -> Path:
    conf = tmp_path / "conf"
    shutil.copytree(DEFAULTS_DIR, conf, dirs_exist_ok=True)
    agencies = conf / "agencies.toml"
    agencies.write_text(
        agencies.read_text(encoding="utf-8").replace(
            'name_en = "Provincial police"\n',
            f'name_en = "Provincial police"\nopen311_endpoint = "{endpoint}"\n'
            f'open311_api_key = "{key}"\n',
        ),
        encoding="utf-8",
    )
    return conf


@pytest.fixture
def agency_instance(
    tmp_path: Path, schema_template: Path, redis_server: EmbeddedRedis
) -> Iterator[tuple[str, Services]]:
    """A second hotline1567 web instance: its own database and Redis database, real HTTP."""
    database = tmp_path / "agency.sqlite3"
    shutil.copy(schema_template, database)
    settings = Settings(
        data_dir=tmp_path / "agency-data",
        database_url=f"sqlite:///{database}",
        redis_url=private_redis_db(redis_server, 13),
    )
    services = build_services(settings, redis_url=settings.redis_url)
    sync_agencies(services.sessions, services.catalog)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, services), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/open311/v2", services
    server.should_exit = True
    thread.join(timeout=10)
    services.close()


def _local(settings: Settings, conf: Path) -> Services:
    built = build_services(replace(settings, config_dir=conf), redis_url=settings.redis_url)
    sync_agencies(built.sessions, built.catalog)
    return built


def _route(services: Services) -> str:
    ticket = services.tickets.create(
        NewTicket(
            description="ขายยาเสพติดหน้าโรงเรียน",
            category="DRUGS",
            province_code="50",
            district_code="5001",
            caller_phone="0812345678",
        ),
        AGENT,
    )
    services.tickets.transition(ticket["reference"], "confirmed", AGENT)
    services.tickets.route(ticket["reference"], None, AGENT)
    return str(ticket["reference"])


def test_routed_ticket_goes_to_a_second_hotline_instance_and_comes_back_resolved(
    tmp_path: Path, settings: Settings, agency_instance: tuple[str, Services]
) -> None:
    endpoint, remote = agency_instance
    key = remote.open311_keys.add("damrong-1567")
    local = _local(settings, _with_endpoint(tmp_path, endpoint, key))
    try:
        ref = _route(local)
        client = Open311Client(local.sessions, local.catalog, timeout=5)
        assert client.run_once() == 2  # POST, then the first status read
        with local.sessions() as session:
            row = session.scalars(select(Open311Outbound)).one()
            remote_id = row.remote_id
            assert (row.state, row.remote_status) == ("open", "open")
        assert remote_id is not None
        arrived = remote.tickets.get(remote_id)
        assert arrived["description"].startswith(f"[1567 {ref}] ขายยาเสพติด")
        assert (arrived["province_code"], arrived["district_code"]) == ("50", "5001")
        assert arrived["caller_phone"] == "0812345678"
        assert local.tickets.get(ref)["status"] == "in_progress"

        remote.tickets.transition(remote_id, "confirmed", AGENT)
        remote.tickets.transition(remote_id, "resolved", AGENT, resolution="จับกุมผู้ขายแล้ว")
        assert client.run_once() == 0  # not due: polled every five minutes
        assert client.run_once(utcnow() + timedelta(minutes=6)) == 1
        done = local.tickets.get(ref)
        assert (done["status"], done["resolution"]) == ("resolved", "จับกุมผู้ขายแล้ว")
        actions = [a["action"] for a in local.tickets.audit(ref)]
        assert actions[-2:] == ["status:in_progress", "status:resolved"]
        assert client.run_once(utcnow() + timedelta(hours=1)) == 0  # followed to the end
    finally:
        local.close()


class SpecServer(BaseHTTPRequestHandler):
    """GeoReport v2 as its text describes it, nothing of ours: POST requests.json answers
    [{"service_request_id", "service_notice"}]; GET requests/{id}.json answers [request]."""

    requests: dict[str, dict[str, Any]] = {}
    seen_keys: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        if self.path != "/georeport/v2/requests.json":
            return self._send(404, [{"code": 404, "description": "not found"}])
        if form.get("api_key") != "spec-key":
            return self._send(403, [{"code": 403, "description": "Invalid api_key"}])
        if not (form.get("address_string") or (form.get("lat") and form.get("long"))):
            return self._send(400, [{"code": 400, "description": "location required"}])
        request_id = f"SR-{len(self.requests) + 1}"
        self.requests[request_id] = {"status": "open", "status_notes": None, "form": form}
        self.seen_keys.append(form["api_key"])
        return self._send(200, [{"service_request_id": request_id, "service_notice": ""}])

    def do_GET(self) -> None:
        prefix, suffix = "/georeport/v2/requests/", ".json"
        request_id = self.path[len(prefix) : -len(suffix)]
        found = self.requests.get(request_id)
        if not self.path.startswith(prefix) or found is None:
            return self._send(404, [{"code": 404, "description": "not found"}])
        return self._send(
            200,
            [
                {
                    "service_request_id": request_id,
                    "status": found["status"],
                    "status_notes": found["status_notes"],
                    "service_code": found["form"]["service_code"],
                }
            ],
        )


def test_against_an_independent_server_with_an_outage(tmp_path: Path, settings: Settings) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/georeport/v2"
    local = _local(settings, _with_endpoint(tmp_path, endpoint, "spec-key"))
    SpecServer.requests, SpecServer.seen_keys = {}, []
    try:
        ref = _route(local)
        client = Open311Client(local.sessions, local.catalog, timeout=2)
        assert client.run_once() == 0  # the agency's server is down: the hand-over waits
        with local.sessions() as session:
            row = session.scalars(select(Open311Outbound)).one()
            assert (row.state, row.attempts) == ("pending", 1) and row.last_error
        server = ThreadingHTTPServer(("127.0.0.1", port), SpecServer)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            assert client.run_once() == 0  # backed off: not due yet
            assert client.run_once(utcnow() + timedelta(seconds=31)) == 2
            assert list(SpecServer.requests) == ["SR-1"]  # sent once
            form = SpecServer.requests["SR-1"]["form"]
            assert form["service_code"] == "DRUGS"
            assert form["address_string"] == "อำเภอเมืองเชียงใหม่ จังหวัดเชียงใหม่"
            assert local.tickets.get(ref)["status"] == "in_progress"
            SpecServer.requests["SR-1"].update(status="closed", status_notes="ส่งตำรวจแล้ว")
            assert client.run_once(utcnow() + timedelta(minutes=6)) == 1
            done = local.tickets.get(ref)
            assert (done["status"], done["resolution"]) == ("resolved", "ส่งตำรวจแล้ว")
        finally:
            server.shutdown()
            server.server_close()
    finally:
        local.close()
