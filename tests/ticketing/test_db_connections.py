"""The IVR node's capped connection pool: with every connection in use, the next thread waits
(blocked) for one to come back instead of opening another or failing."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import text

from ticketing.db import make_engine


def test_a_capped_pool_makes_the_next_thread_wait_for_a_connection(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/cap.sqlite3", connections=2)
    try:
        held = [engine.connect(), engine.connect()]
        got = threading.Event()

        def third() -> None:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
                got.set()

        thread = threading.Thread(target=third, daemon=True)
        thread.start()
        assert not got.wait(0.5), "a third connection was opened past the cap"
        held.pop().close()
        assert got.wait(5), "the waiting thread never got the returned connection"
        thread.join(5)
        assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
        held.pop().close()
    finally:
        engine.dispose()


def test_without_a_cap_the_pool_overflows(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/free.sqlite3")
    try:
        held = [engine.connect() for _ in range(8)]
        assert engine.pool.checkedout() == 8  # type: ignore[attr-defined]
        for connection in held:
            connection.close()
    finally:
        engine.dispose()
