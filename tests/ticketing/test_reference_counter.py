"""Ticket numbers on PostgreSQL are drawn outside the creating transaction: a creation in
progress does not hold up every other one (it did: the counter row stayed locked until commit)."""

from __future__ import annotations

import threading
import time

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.reference import is_valid_reference
from ticketing.tickets import NewTicket

AGENT = Actor(name="somchai", role="agent", user_id=None)


def test_a_creation_in_progress_does_not_hold_up_the_next_one(services: Services) -> None:
    dialect = services.engine.dialect.name
    holding, release = threading.Event(), threading.Event()
    held: list[str] = []

    def slow_creation() -> None:  # a draft created in a transaction that takes its time
        with services.sessions.begin() as session:
            ticket = services.tickets.create_in_session(session, NewTicket(description="a"), AGENT)
            held.append(ticket.reference)
            holding.set()
            release.wait(10)

    slow = threading.Thread(target=slow_creation)
    slow.start()
    try:
        assert holding.wait(10)
        done: list[str] = []
        other = threading.Thread(
            target=lambda: done.append(
                services.tickets.create(NewTicket(description="b"), AGENT)["reference"]
            )
        )
        started = time.monotonic()
        other.start()
        other.join(3)
        if dialect == "postgresql":
            assert done and time.monotonic() - started < 3  # not behind the open transaction
        else:
            assert not done  # SQLite: one writer at a time, the second waits its turn
    finally:
        release.set()
        slow.join(10)
    other.join(10)
    assert len(done) == 1 and done[0] != held[0]
    assert all(is_valid_reference(r) for r in (*held, *done))


def test_a_failed_creation_leaves_a_gap_on_postgresql_and_nothing_reused(
    services: Services,
) -> None:
    first = services.tickets.create(NewTicket(description="a"), AGENT)["reference"]
    try:
        with services.sessions.begin() as session:
            services.tickets.create_in_session(session, NewTicket(description="b"), AGENT)
            raise RuntimeError("the creating transaction fails")
    except RuntimeError:
        pass
    third = services.tickets.create(NewTicket(description="c"), AGENT)["reference"]
    step = int(third[2:-1]) - int(first[2:-1])  # year, sequence, check digit
    # PostgreSQL: the failed one's number is gone (like a sequence); SQLite: rolled back with it
    assert step == (2 if services.engine.dialect.name == "postgresql" else 1)
