"""IVR fixtures: the packaged menu and prompt manifest, and real services on SQLite + Redis db 11
(the IVR's own database number on the local Redis, flushed for each test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from config.catalog import Catalog, load_catalog
from config.settings import Settings
from ivr.flow.menu import FlowConfig, load_flow, menu_path
from ivr.prompts.manifest import PromptManifest, load_manifest, manifest_path
from ticketing.container import Services, build_services, sync_agencies

IVR_REDIS_URL = "redis://127.0.0.1:6379/11"


@pytest.fixture(scope="session")
def manifest() -> PromptManifest:
    return load_manifest(manifest_path(None))


@pytest.fixture(scope="session")
def flow_config() -> FlowConfig:
    return load_flow(menu_path(None))


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def ivr_redis_url() -> str:
    client = redis.Redis.from_url(IVR_REDIS_URL)
    client.flushdb()
    client.close()
    return IVR_REDIS_URL


@pytest.fixture
def ivr_settings(tmp_path: Path, database_url: str, ivr_redis_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=ivr_redis_url)


@pytest.fixture
def ivr_services(ivr_settings: Settings, catalog: Catalog) -> Iterator[Services]:
    built = build_services(ivr_settings, catalog=catalog, start_relay=False)
    sync_agencies(built.sessions, built.catalog)
    yield built
    built.close()
