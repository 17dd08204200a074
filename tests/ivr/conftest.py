"""IVR fixtures: the packaged menu and prompt manifest, and real services on SQLite + Redis db 11
(the IVR's own database number on the local Redis, flushed for each test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.catalog import Catalog, load_catalog
from config.settings import Settings
from ivr.flow.menu import FlowConfig, load_flow, menu_path
from ivr.prompts.manifest import PromptManifest, load_manifest, manifest_path
from tests.redis_db import private_redis_db
from ticketing.container import Services, build_services, sync_agencies
from ticketing.embedded_redis import EmbeddedRedis


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
def ivr_redis_url(redis_server: EmbeddedRedis) -> str:
    return private_redis_db(redis_server, 11)


@pytest.fixture
def ivr_settings(tmp_path: Path, database_url: str, ivr_redis_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=ivr_redis_url)


@pytest.fixture
def ivr_services(ivr_settings: Settings, catalog: Catalog) -> Iterator[Services]:
    built = build_services(ivr_settings, catalog=catalog, start_relay=False)
    sync_agencies(built.sessions, built.catalog)
    yield built
    built.close()
