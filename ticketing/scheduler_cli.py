"""Subcommands ``scheduler`` (the role) and ``sla check [--at ISO-TIME]`` (one pass)."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import UTC, datetime
from typing import Any

from config.catalog import CatalogError, load_catalog
from config.holidays import load_calendar
from config.settings import Settings
from ticketing.db import make_engine, make_sessionmaker
from ticketing.escalation import SlaPass
from ticketing.mail import MailSender
from ticketing.observability import role_observability
from ticketing.open311_client import Open311Client
from ticketing.presence_reconcile import PresenceReconciler, phone_registrations
from ticketing.runtime import configure_logging, running_services
from ticketing.scheduler import Scheduler
from ticketing.scheduler_lock import SchedulerLock


def register(sub: Any) -> None:
    scheduler = sub.add_parser(
        "scheduler", help="SLA passes, escalation and outboxes (one instance acts)"
    )
    scheduler.set_defaults(handler=run_scheduler)
    sla = sub.add_parser("sla", help="SLA clocks")
    sla_sub = sla.add_subparsers(dest="sla_command", required=True, metavar="ACTION")
    check = sla_sub.add_parser("check", help="run one SLA pass now (or as if at --at)")
    check.add_argument("--at", default=None, help="ISO time, e.g. 2026-12-01T09:00:00+07:00")
    check.set_defaults(handler=sla_check)


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(
            f"--at {text!r}: expected an ISO time like 2026-12-01T09:00+07:00"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def sla_check(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    try:
        moment = _moment(args.at)
        catalog = load_catalog(settings.config_dir)
        calendar = load_calendar(settings.config_dir)
    except (ValueError, CatalogError) as exc:
        print(f"hotline1567: {exc}", file=sys.stderr)
        return 2
    engine = make_engine(settings.effective_database_url)
    result = SlaPass(make_sessionmaker(engine), catalog, calendar).run(moment)
    for reference, clock, level in result.marks:
        print(f"{reference}\t{clock}\t{level}")
    print(f"{result.examined} ticket(s) examined, {len(result.marks)} new mark(s)", file=sys.stderr)
    engine.dispose()
    return 0


def run_scheduler(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(settings)
    try:
        calendar = load_calendar(settings.config_dir)
    except CatalogError as exc:
        print(f"hotline1567: configuration error: {exc}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    port, variable = settings.scheduler_metrics_port, "HOTLINE_SCHEDULER_METRICS_PORT"
    with (
        role_observability(settings, "scheduler", port, variable),
        running_services(settings) as services,
    ):
        sla = SlaPass(
            services.sessions, services.catalog, calendar, after_commit=services.relay.kick
        )
        scheduler = Scheduler(
            SchedulerLock(services.bus, ttl_seconds=max(30.0, settings.scheduler_interval * 3)),
            jobs=[
                ("sla", lambda fence: sla.run(fence=fence)),
                ("gauges", lambda fence: services.sla_reports.refresh_gauges()),
            ],
            interval=settings.scheduler_interval,
            quick_interval=min(5.0, settings.scheduler_interval),
            quick_jobs=scheduler_quick_jobs(settings, services),
        )
        scheduler.run_forever(stop)
    return 0


def scheduler_quick_jobs(settings: Settings, services: Any) -> list[Any]:
    """Outbox jobs (mail, Open311) that run between SLA passes, the end of agents' wrap-up, and
    the presence reconciler (no agent stuck ringing / on a call)."""
    mail = MailSender(services.sessions, settings.smtp_url, settings.mail_from)
    open311 = Open311Client(services.sessions, services.catalog, after_commit=services.relay.kick)
    reconciler = PresenceReconciler(
        services.presence,
        services.sessions,
        registered_users=phone_registrations(services.sessions),
        registration_grace_seconds=settings.queue.registration_grace_seconds,
        liveness=services.node_liveness,
        calls=services.calls,
        live_queue=services.live_queue,
    )
    return [
        ("mail", lambda fence: mail.drain_once(fence=fence)),
        ("open311", lambda fence: open311.run_once(fence=fence)),
        ("wrap-up", lambda fence: services.presence.tick_all()),
        ("presence-reconcile", reconciler.run),
    ]
