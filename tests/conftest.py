"""Shared fixtures: a real Redis (a private server the tests can stop and restart) and the
databases — SQLite always, PostgreSQL too when HOTLINE_TEST_DATABASE_URL is set."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from config.settings import Settings
from ticketing.container import Services, build_services, sync_agencies
from ticketing.db import upgrade_schema
from ticketing.embedded_redis import EmbeddedRedis

POSTGRES_URL = os.environ.get("HOTLINE_TEST_DATABASE_URL", "")
DATABASES = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    if not redis_server.running():
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


def _fresh_postgres_database() -> str:
    base = make_url(POSTGRES_URL)
    name = f"hotline_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)


def _drop_postgres_database(url: str) -> None:
    target = make_url(url)
    base = make_url(POSTGRES_URL)
    admin = create_engine(base.set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
        upgrade_schema(url)
        yield url
        return
    url = _fresh_postgres_database()
    upgrade_schema(url)
    yield url
    _drop_postgres_database(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, redis_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=redis_url,
        secret_key="test-secret",
    )


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings, start_relay=False)
    sync_agencies(built.sessions, built.catalog)
    yield built
    built.close()
