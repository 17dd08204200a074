"""The outbox backlog the 'outbox backlog' alert watches: counted, aged, and exported by web."""

from __future__ import annotations

from datetime import timedelta

from starlette.testclient import TestClient

from agent_ui.app import create_app
from config.settings import Settings
from tests.ops.probes import metric_families
from ticketing.container import Services
from ticketing.events import record_event
from ticketing.outbox_stats import outbox_backlog
from ticketing.timeutil import utcnow


def _write_event(services: Services) -> None:
    with services.sessions.begin() as session:
        record_event(session, "ticket.created", {"reference": "690000001"})


def test_backlog_counts_unrelayed_events_and_ages_the_oldest(services: Services) -> None:
    assert outbox_backlog(services.sessions).pending == 0
    _write_event(services)
    later = outbox_backlog(services.sessions, now=lambda: utcnow() + timedelta(minutes=10))
    assert later.pending == 1
    assert 590 < later.oldest_seconds < 700
    services.relay.drain_once()
    assert outbox_backlog(services.sessions).pending == 0
    assert outbox_backlog(services.sessions).oldest_seconds == 0.0


def test_web_metrics_export_the_backlog(settings: Settings, services: Services) -> None:
    _write_event(services)
    with TestClient(create_app(settings, services)) as client:
        families = metric_families(client.get("/metrics").text)
    assert families["hotline_outbox_pending"].samples[0].value == 1
    assert families["hotline_outbox_oldest_seconds"].type == "gauge"
