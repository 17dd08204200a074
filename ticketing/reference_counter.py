"""The next ticket number of a year: one counter row per year, drawn outside the ticket's
transaction on PostgreSQL.

Drawn inside the creating transaction (as it was), the counter row stayed locked until that
transaction committed, so every ticket creation in the country queued behind the slowest one in
progress, each holding a pooled connection while it waited: in the queue benchmark (300 calls on
one node) the pool ran dry and a database step of a waiting caller took up to 26 s. On PostgreSQL
the number now comes from a statement of its own on a small autocommit pool of its own (never the
main pool, so a transaction holding a main connection cannot wait for another one there): the
row is locked for that statement only. Like a database sequence, a number drawn by a creation
that then fails is not reused (a gap in the references, never a duplicate). SQLite has one writer
at a time anyway: there the number is drawn in the ticket's transaction as before.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ticketing.models import ReferenceCounter

COUNTER_POOL = 2  # connections (plus as many again in overflow) for drawing numbers

_pools: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def next_number(session: Session, year: int) -> int:
    """The year's next number (the counter row made on first use, race-free)."""
    bind = session.get_bind()
    if bind.dialect.name != "postgresql" or not isinstance(bind, Engine):
        return _draw(session.connection(), year, sqlite_insert)
    with _counter_pool(bind).connect() as connection:  # autocommit: one statement's lock
        return _draw(connection, year, postgresql_insert)


def _draw(connection: Connection, year: int, insert: Any) -> int:
    # A concurrent twin of the first insert waits for it and then does nothing; the UPDATE holds
    # the row lock until its transaction ends, so two draws never read the same value.
    connection.execute(
        insert(ReferenceCounter)
        .values(year_prefix=year, last_value=0)
        .on_conflict_do_nothing(index_elements=["year_prefix"])
    )
    value = connection.execute(
        update(ReferenceCounter)
        .where(ReferenceCounter.year_prefix == year)
        .values(last_value=ReferenceCounter.last_value + 1)
        .returning(ReferenceCounter.last_value)
    ).scalar_one()
    return int(value)


def _counter_pool(engine: Engine) -> Engine:
    with _pools_lock:
        pool = _pools.get(engine)
        if pool is None:
            pool = create_engine(
                engine.url,
                isolation_level="AUTOCOMMIT",
                pool_size=COUNTER_POOL,
                max_overflow=COUNTER_POOL,
                pool_pre_ping=True,
            )
            _pools[engine] = pool
            # The main engine's dispose (services closing) closes these connections too.
            event.listen(engine, "engine_disposed", lambda _engine: pool.dispose())
        return pool
