"""A phone's REGISTER while another process writes the SQLite database (found by
bench/queue_load.py: 100 agents' phones registering together, some got 500 "database is
locked" because Kamailio's db_sqlite sets no busy timeout and usrloc wrote through)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import make_url

from config.settings import Settings
from ivr.kamailio import EmbeddedKamailio, usrloc_values

from .sipkit import SippResult, free_udp_port, sipp
from .test_kamailio import with_accounts

REGISTER = Path(__file__).parents[1] / "queue/scenarios/agent_register.xml"


def test_usrloc_writes_back_on_sqlite_and_through_on_postgresql():
    assert usrloc_values("sqlite") == {"USRLOC_DB_MODE": "2", "USRLOC_TIMER": "5"}
    assert usrloc_values("postgres")["USRLOC_DB_MODE"] == "1"


@pytest.mark.slow
def test_register_while_the_database_is_write_locked_gets_200_and_is_stored_later(tmp_path):
    settings = with_accounts(Settings(data_dir=tmp_path), somchai="somchai-pass")
    database = make_url(settings.effective_database_url).database
    assert database is not None
    listen = ("127.0.0.1", free_udp_port())
    with EmbeddedKamailio(settings, listen=listen, nodes=[], ping_interval=1) as kamailio:
        lock = sqlite3.connect(database, isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")  # another writer holds the database (the node, the API)
        try:
            result = sipp(
                str(REGISTER), kamailio.registrar, timeout=20,
                extra=("-set", "user", "somchai", "-set", "contact_port", "5999",
                       "-au", "somchai", "-ap", "somchai-pass"),
            )  # fmt: skip
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert isinstance(result, SippResult)
        assert result.returncode == 0, result.output + result.errors  # 200, not 500
        # the binding reaches the location table (ticketing's view) at a later write-back
        deadline = time.monotonic() + 20
        rows: list[tuple[str]] = []
        while time.monotonic() < deadline and not rows:
            with sqlite3.connect(database) as reader:
                rows = reader.execute("SELECT username FROM location").fetchall()
            time.sleep(0.2)
        assert rows == [("somchai",)]
