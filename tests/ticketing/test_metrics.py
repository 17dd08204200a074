from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from ticketing.actors import Actor
from ticketing.container import Services
from ticketing.models import Ticket
from ticketing.tickets import NewTicket
from ticketing.timeutil import bangkok_day_start

AGENT = Actor(name="somchai", role="agent")


def test_thai_day_starts_at_17_utc() -> None:
    assert bangkok_day_start(datetime(2026, 11, 22, 3, 0, tzinfo=UTC)) == datetime(
        2026, 11, 21, 17, 0, tzinfo=UTC
    )
    assert bangkok_day_start(datetime(2026, 11, 22, 18, 0, tzinfo=UTC)) == datetime(
        2026, 11, 22, 17, 0, tzinfo=UTC
    )


def _age(services: Services, reference: str, days: float) -> None:
    created = datetime.now(UTC) - timedelta(days=days)
    with services.sessions.begin() as session:
        session.execute(
            update(Ticket)
            .where(Ticket.reference == reference)
            .values(created_at=created, resolve_due_at=created + timedelta(days=30))
        )


def test_summary_and_backlog_figures(services: Services) -> None:
    refs = [
        services.tickets.create(
            NewTicket(description="x", category="NUISANCE", province_code="50", urgent=n == 0),
            AGENT,
        )["reference"]
        for n in range(5)
    ]
    _age(services, refs[1], 10)
    _age(services, refs[2], 20)
    _age(services, refs[3], 45)  # overdue: 30 days to resolve
    services.tickets.transition(refs[4], "confirmed", AGENT)
    services.tickets.route(refs[4], None, AGENT)
    done = services.tickets.create(NewTicket(description="y", category="INFO"), AGENT)
    services.tickets.transition(done["reference"], "confirmed", AGENT)
    services.tickets.transition(done["reference"], "resolved", AGENT)
    _age(services, done["reference"], 60)  # finished tickets are not backlog nor breaches
    services.calls.start_call("c1")
    services.calls.start_call("c2")
    services.calls.end_call("c2", "bye", abandoned=True)

    summary = services.metrics.summary()
    assert summary["drafts_waiting"] == 4
    assert summary["oldest_draft_seconds"] >= 45 * 86400
    assert summary["open_tickets"] == 5
    assert summary["urgent_open"] == 1
    assert summary["sla_breaches"] == 1
    assert summary["calls_in_ivr"] == 1
    assert summary["calls_today"] == 2
    assert summary["abandoned_today"] == 1
    # two confirmations today: one at once, one of a ticket created 60 days ago
    assert abs(summary["avg_confirm_seconds_24h"] - 30 * 86400) < 60
    assert services.metrics.backlog_by_age() == {"0-7": 2, "8-15": 1, "16-30": 1, "31+": 1}
    assert services.metrics.backlog_by("category") == {"NUISANCE": 5}
    assert services.metrics.backlog_by("agency_code") == {"unknown": 4, "LOCAL_ADMIN-50": 1}
    assert services.metrics.overdue_count() == 1


def test_recording_listens_are_logged(services: Services) -> None:
    from sqlalchemy import select

    from ticketing.models import RecordingAccess

    services.calls.start_call("c1")
    recording_id, _ticket = services.calls.start_recording("c1", "recordings/c1.wav")
    services.calls.log_recording_access(recording_id, None)
    with services.sessions() as session:
        rows = list(session.scalars(select(RecordingAccess)))
    assert [(r.recording_id, r.purpose) for r in rows] == [(recording_id, "listen")]
