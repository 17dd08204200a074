"""One place wires every shared object from the settings (the composition of ticketing)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import redis
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from config.agent_states import AgentStatesConfig, load_agent_states
from config.catalog import Catalog, load_catalog
from config.holidays import load_calendar
from config.hubs import load_hubs
from config.settings import Settings
from ticketing.agency_work import AgencyWork, routing_notifier
from ticketing.agents import AgentPresenceService
from ticketing.audio_queue import AudioQueue
from ticketing.call_commands import CallCommands
from ticketing.call_queue import CallQueueRecords
from ticketing.callbacks import CallbackService
from ticketing.calls import CallService
from ticketing.citizen_loop import install as install_citizen_loop
from ticketing.console_reads import ConsoleReads
from ticketing.db import make_engine, make_sessionmaker
from ticketing.events import EventBus, OutboxRelay
from ticketing.live_queue import LiveQueue
from ticketing.metrics import MetricsService
from ticketing.models import Agency
from ticketing.node_liveness import NodeLiveness
from ticketing.notify import NotificationService
from ticketing.open311_client import open311_handover
from ticketing.open311_keys import Open311Keys
from ticketing.open311_service import Open311Service
from ticketing.presence_store import PresenceStore
from ticketing.queue_reads import QueueReads
from ticketing.result_calls import ResultCalls
from ticketing.sla_report import SlaReports
from ticketing.survey_metrics import SurveyMetrics
from ticketing.tickets import TicketService
from ticketing.users import UserService

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    catalog: Catalog
    engine: Engine
    sessions: sessionmaker[Session]
    redis: redis.Redis
    bus: EventBus
    relay: OutboxRelay
    tickets: TicketService
    calls: CallService
    users: UserService
    metrics: MetricsService
    audio: AudioQueue
    agency_work: AgencyWork
    notifications: NotificationService
    sla_reports: SlaReports
    open311: Open311Service
    open311_keys: Open311Keys
    presence: AgentPresenceService
    live_queue: LiveQueue
    call_queue: CallQueueRecords
    callbacks: CallbackService
    call_commands: CallCommands
    console_reads: ConsoleReads
    result_calls: ResultCalls
    survey: SurveyMetrics
    queue_reads: QueueReads
    node_liveness: NodeLiveness

    def close(self) -> None:
        self.relay.stop()
        self.relay.drain_once_quietly()
        self.redis.close()
        self.engine.dispose()


def redis_connections(settings: Settings) -> int:
    """The Redis client's pool size. redis-py 6+ caps a pool at 100 connections and fails the
    101st concurrent caller at once ("Too many connections"); an IVR node has a thread per call
    and per waiting caller's dispatcher, each calling Redis (the queue benchmark at 300 calls,
    100 of them waiting, hit it). Four per call the node admits, never under 100."""
    return max(100, 4 * settings.sip_options.max_calls)


def build_services(
    settings: Settings,
    *,
    redis_url: str | None = None,
    catalog: Catalog | None = None,
    start_relay: bool = True,
    redis_timeout: float = 5.0,
    db_connections: int | None = None,
) -> Services:
    """Build the services for one process. ``redis_url`` overrides the settings' (embedded).

    ``redis_timeout`` bounds each Redis call: the IVR passes a short one, so a hung Redis costs a
    caller half a second, not seconds (the WAV file is the durable copy)."""
    catalog = catalog or load_catalog(settings.config_dir)
    engine = make_engine(settings.effective_database_url, connections=db_connections)
    sessions = make_sessionmaker(engine)
    install_citizen_loop(sessions, catalog, settings.citizen)
    url = redis_url or settings.redis_url
    if url is None:
        raise ValueError("no Redis URL: start the embedded Redis first or set HOTLINE_REDIS_URL")
    client = redis.Redis.from_url(
        url,
        socket_timeout=redis_timeout,
        socket_connect_timeout=min(2.0, redis_timeout),
        health_check_interval=30,
        max_connections=redis_connections(settings),
    )
    bus = EventBus(client)
    relay = OutboxRelay(sessions, bus)
    tickets = TicketService(sessions, catalog, after_commit=relay.kick)
    tickets.route_hooks.append(routing_notifier(catalog))
    live_queue = LiveQueue(client)
    tickets.route_hooks.append(open311_handover(catalog))
    presence = AgentPresenceService(
        PresenceStore(client, _agent_states(settings)), sessions, after_commit=relay.kick
    )
    call_queue = CallQueueRecords(sessions, tickets, after_commit=relay.kick)
    liveness = NodeLiveness(
        client,
        interval_seconds=settings.queue.node_heartbeat_seconds,
        ttl_seconds=settings.queue.node_heartbeat_ttl,
    )
    callbacks = CallbackService(
        sessions,
        live_queue,
        after_commit=relay.kick,
        max_attempts=settings.queue.callback_attempts,
        retry_seconds=settings.queue.callback_retry_seconds,
    )
    services = Services(
        settings=settings,
        catalog=catalog,
        engine=engine,
        sessions=sessions,
        redis=client,
        bus=bus,
        relay=relay,
        tickets=tickets,
        calls=CallService(sessions, tickets, after_commit=relay.kick),
        users=UserService(sessions),
        metrics=MetricsService(sessions),
        audio=AudioQueue(client),
        agency_work=AgencyWork(sessions, catalog, after_commit=relay.kick),
        notifications=NotificationService(sessions),
        sla_reports=SlaReports(sessions),
        open311=Open311Service(sessions, catalog, tickets, after_commit=relay.kick),
        result_calls=ResultCalls(
            sessions,
            catalog,
            settings.citizen,
            load_calendar(settings.config_dir).holidays,
            after_commit=relay.kick,
        ),
        survey=SurveyMetrics(sessions),
        open311_keys=Open311Keys(sessions, bus),
        presence=presence,
        live_queue=live_queue,
        call_queue=call_queue,
        callbacks=callbacks,
        console_reads=ConsoleReads(sessions),
        queue_reads=QueueReads(
            sessions,
            live_queue,
            presence.store,
            call_queue,
            callbacks,
            sl_seconds=settings.queue.sl_seconds,
            liveness=liveness,
        ),
        node_liveness=liveness,
        call_commands=CallCommands(sessions, client, load_hubs(settings.config_dir)),
    )
    if start_relay:
        relay.start()
    return services


def _agent_states(settings: Settings) -> AgentStatesConfig:
    """agent_states.toml, with the queue's HOTLINE_QUEUE_* overrides when they are set."""
    states = load_agent_states(settings.config_dir)
    queue = settings.queue
    if queue.wrap_up_seconds is not None:
        states = replace(states, wrap_up_seconds=queue.wrap_up_seconds)
    if queue.ring_timeout_seconds is not None:
        states = replace(states, no_answer_seconds=int(queue.ring_timeout_seconds))
    return states


def sync_agencies(sessions: sessionmaker[Session], catalog: Catalog) -> int:
    """Make the agencies table match the catalog (agencies no longer listed are deactivated)."""
    with sessions.begin() as session:
        existing = {a.code: a for a in session.scalars(select(Agency))}
        for code, agency in catalog.agencies.items():
            row = existing.get(code)
            if row is None:
                session.add(
                    Agency(
                        code=code,
                        name_th=agency.name_th,
                        name_en=agency.name_en,
                        province_code=agency.province_code,
                        active=True,
                    )
                )
            else:
                row.name_th, row.name_en = agency.name_th, agency.name_en
                row.province_code, row.active = agency.province_code, True
        for code, row in existing.items():
            if code not in catalog.agencies:
                row.active = False
        return len(catalog.agencies)
