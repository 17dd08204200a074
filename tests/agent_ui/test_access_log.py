"""Phone numbers and citizen IDs never reach the access log in full (issue 9, Low)."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx2
import pytest

from agent_ui.access_log import mask_query

from .conftest import LiveServer


def test_mask_query() -> None:
    assert mask_query("/api/v1/tickets?phone=0812345678&limit=5") == (
        "/api/v1/tickets?phone=••••••5678&limit=5"
    )
    assert "1101700230708" not in mask_query("/api/v1/tickets?citizen_id=1101700230708")
    masked = mask_query("/api/v1/tickets?q=%E0%B9%82%E0%B8%97%E0%B8%A3+0812345678")
    assert masked == "/api/v1/tickets?q=%E0%B9%82%E0%B8%97%E0%B8%A3+••••••5678"
    assert mask_query("/api/v1/tickets?status=draft") == "/api/v1/tickets?status=draft"


@pytest.mark.slow
def test_the_served_access_log_is_masked(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture, services: Any
) -> None:
    token = services.users.create_token("somchai")
    access = logging.getLogger("uvicorn.access")
    level = access.level
    access.setLevel(logging.INFO)
    try:
        _request_and_check(live_server, caplog, token)
    finally:
        access.setLevel(level)


def _request_and_check(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture, token: str
) -> None:
    with caplog.at_level(logging.INFO, logger="uvicorn.access"):
        answer = httpx2.get(
            f"{live_server.url}/api/v1/tickets?phone=0812345678&citizen_id=1101700230708",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200
        deadline = time.monotonic() + 5
        while "/api/v1/tickets" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.02)
    assert "/api/v1/tickets?phone=" in caplog.text
    assert "0812345678" not in caplog.text and "1101700230708" not in caplog.text
