"""The command line as an operator uses it: real processes, a real web server."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ticketing.reference import is_valid_reference


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def env(tmp_path: Path, redis_url: str) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    values.update(
        {
            "HOTLINE_DATA_DIR": str(tmp_path / "data"),
            "HOTLINE_REDIS_URL": redis_url,
            "HOTLINE_WEB_PORT": str(_free_port()),
            "HOTLINE_SECRET_KEY": "test",
        }
    )
    return values


def cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline1567", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def call(
    method: str, url: str, token: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture
def web(env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    assert cli(env, "db", "upgrade").returncode == 0
    log = tmp_path / "web.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "hotline1567", "web"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{env['HOTLINE_WEB_PORT']}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                break
        except OSError:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
    yield base
    process.terminate()
    process.wait(timeout=15)


def test_token_from_the_cli_drives_the_api(env: dict[str, str], web: str) -> None:
    added = cli(env, "user", "add", "somchai", "--role", "agent", stdin="secret-password\n")
    assert added.returncode == 0, added.stderr
    token_run = cli(env, "token", "create", "--user", "somchai")
    assert token_run.returncode == 0
    token = token_run.stdout.strip()
    assert token_run.stdout == token + "\n"  # the token alone on stdout

    status, ticket = call(
        "POST",
        f"{web}/api/v1/tickets",
        token,
        {
            "description": "น้ำประปาไม่ไหลสามวัน",
            "category": "INFRASTRUCTURE",
            "province_code": "30",
            "caller_phone": "0812345678",
        },
    )
    assert status == 201
    ref = ticket["reference"]
    assert is_valid_reference(ref)
    transitions = f"{web}/api/v1/tickets/{ref}/transitions"
    assert call("POST", transitions, token, {"to": "confirmed"})[1]["status"] == "confirmed"
    status, routed = call("POST", transitions, token, {"to": "routed"})
    assert (status, routed["status"], routed["agency_code"]) == (200, "routed", "LOCAL_ADMIN-30")
    status, error = call("POST", transitions, token, {"to": "draft"})
    assert status == 409
    assert error["error"]["code"] == "conflict"
    status, audit = call("GET", f"{web}/api/v1/tickets/{ref}/audit", token)
    assert [a["action"] for a in audit["items"]] == ["created", "status:confirmed", "routed"]

    revoked = cli(env, "token", "revoke", token)
    assert revoked.returncode == 0
    assert call("GET", f"{web}/api/v1/tickets/{ref}", token)[0] == 401


def test_wrong_arguments_and_settings_fail_clearly(env: dict[str, str]) -> None:
    assert cli(env, "db", "upgrade").returncode == 0
    bad_role = cli(env, "user", "add", "x", "--role", "king", stdin="password123\n")
    assert bad_role.returncode == 2
    assert "invalid choice: 'king'" in bad_role.stderr
    short = cli(env, "user", "add", "x", "--role", "agent", stdin="short\n")
    assert short.returncode == 1
    assert "at least 8 characters" in short.stderr
    twice = [
        cli(env, "user", "add", "y", "--role", "agent", stdin="not-a-common-pass-9\n")
        for _ in range(2)
    ]
    assert [r.returncode for r in twice] == [0, 1]
    assert "exists already" in twice[1].stderr
    unknown = cli(env, "token", "create", "--user", "nobody")
    assert unknown.returncode == 1
    assert "no user 'nobody'" in unknown.stderr
    bad_port = cli({**env, "HOTLINE_WEB_PORT": "eighty"}, "web")
    assert bad_port.returncode == 2
    assert "HOTLINE_WEB_PORT='eighty'" in bad_port.stderr
    assert cli(env, "no-such-command").returncode == 2


def test_web_refuses_an_old_schema(env: dict[str, str]) -> None:
    result = cli(env, "web")
    assert result.returncode == 2
    assert "hotline1567 db upgrade" in result.stderr


def test_sip_accounts_are_digest_hashes_managed_from_the_cli(env: dict[str, str]) -> None:
    assert cli(env, "db", "upgrade").returncode == 0
    added = cli(env, "sip-account", "set", "phone1", stdin="a-long-sip-password\n")
    assert added.returncode == 0, added.stderr
    assert "digest HA1 stored" in added.stderr
    assert cli(env, "sip-account", "list").stdout == "phone1\n"
    short = cli(env, "sip-account", "set", "phone2", stdin="short\n")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr
    assert cli(env, "sip-account", "disable", "phone1").returncode == 0
    assert cli(env, "sip-account", "list").stdout == ""
    assert cli(env, "sip-account", "disable", "nobody").returncode == 1
    database = Path(env["HOTLINE_DATA_DIR"]) / "hotline1567.sqlite3"
    assert b"a-long-sip-password" not in database.read_bytes()  # only the HA1 is stored
