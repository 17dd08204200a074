from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from agent_ui.app import create_app
from config.settings import Settings
from ticketing.container import Services


@pytest.fixture
def client(settings: Settings, services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(settings, services), raise_server_exceptions=False) as client:
        yield client


def _token(services: Services, name: str, role: str) -> dict[str, str]:
    services.users.add_user(name, f"{name}-password", role)
    return {"Authorization": f"Bearer {services.users.create_token(name)}"}


@pytest.fixture
def agent(services: Services) -> dict[str, str]:
    return _token(services, "agent1", "agent")


@pytest.fixture
def supervisor(services: Services) -> dict[str, str]:
    return _token(services, "super1", "supervisor")


@pytest.fixture
def admin(services: Services) -> dict[str, str]:
    return _token(services, "admin1", "admin")
