"""The database a ticketing benchmark runs on, shared by bench/tickets.py and bench/sla_pass.py.

``bench_database(url)`` yields the URL of a migrated, empty database: a SQLite file in a temp dir
without ``url``; with a PostgreSQL URL, a fresh database beside the one named (created, then
dropped with everything in it when the block ends, even after an error).
"""

from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

from ticketing.db import upgrade_schema


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def bench_database(database_url: str | None) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        if not database_url:
            url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
            upgrade_schema(url)
            yield url
            return
        base = make_url(database_url)
        name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
        admin_url = base.set(drivername="postgresql+psycopg")
        _admin(admin_url, f'CREATE DATABASE "{name}"')
        try:
            url = base.set(drivername="postgresql", database=name).render_as_string(False)
            upgrade_schema(url)
            yield url
        finally:
            _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(url: URL, statement: str) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(statement))
    finally:
        admin.dispose()
