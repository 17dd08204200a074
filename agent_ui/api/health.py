"""Health and Prometheus metrics (names follow ARCHITECTURE.md: hotline_*)."""

from __future__ import annotations

import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from agent_ui.api import schemas
from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.contract import reply
from ticketing.container import Services
from ticketing.db import ping_database
from ticketing.errors import BusUnavailable, DomainError
from ticketing.events import bus_errors
from ticketing.observability import Readiness, metrics_text
from ticketing.outbox_stats import outbox_backlog, outbox_text
from ticketing.queue_metrics import queue_metrics_text

log = logging.getLogger(__name__)


def _check_database(services: Services) -> str:
    try:
        ping_database(services.engine)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def _check_redis(services: Services) -> str:
    try:
        services.bus.ping()
    except BusUnavailable as exc:
        return f"error: {type(exc.__cause__ or exc).__name__}"  # e.g. ConnectionError, as before
    return "ok"


async def healthz(request: Request) -> JSONResponse:
    services = services_of(request)
    database = await run_in_threadpool(_check_database, services)
    bus = await run_in_threadpool(_check_redis, services)
    healthy = database == "ok" and bus == "ok"
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "database": database, "redis": bus},
        status_code=200 if healthy else 503,
    )


def collect_metrics(services: Services) -> dict[str, Any]:
    figures: dict[str, Any] = dict(services.metrics.summary())
    figures["backlog_by_age"] = services.metrics.backlog_by_age()
    figures["backlog_by_category"] = services.metrics.backlog_by("category")
    try:
        with bus_errors():  # Redis errors as BusUnavailable, whatever the queue raises
            figures["asr"] = services.audio.backlog()
    except BusUnavailable:
        figures["asr"] = {"waiting": 0, "pending": 0, "oldest_seconds": 0.0}
    return figures


def prometheus_text(figures: dict[str, Any]) -> str:
    lines: list[str] = []

    def gauge(name: str, help_text: str, value: float, labels: str = "") -> None:
        if not any(line.startswith(f"# HELP {name} ") for line in lines):
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
        lines.append(f"{name}{labels} {value}")

    gauge("hotline_calls_in_ivr", "Calls in the IVR now.", figures["calls_in_ivr"])
    gauge("hotline_calls_today", "Calls started since midnight UTC.", figures["calls_today"])
    gauge(
        "hotline_calls_abandoned_today",
        "Calls that left before recording a complaint.",
        figures["abandoned_today"],
    )
    gauge(
        "hotline_drafts_waiting",
        "Draft tickets waiting for a call-taker.",
        figures["drafts_waiting"],
    )
    gauge(
        "hotline_oldest_draft_seconds",
        "Age of the oldest waiting draft.",
        figures["oldest_draft_seconds"],
    )
    gauge(
        "hotline_confirm_seconds_avg",
        "Average draft-to-confirmed time, last 24 h.",
        figures["avg_confirm_seconds_24h"],
    )
    gauge("hotline_urgent_open", "Open urgent tickets.", figures["urgent_open"])
    gauge(
        "hotline_sla_breaches", "Open tickets past their resolve-by time.", figures["sla_breaches"]
    )
    gauge("hotline_open_tickets", "Open tickets.", figures["open_tickets"])
    gauge(
        "hotline_recording_failures_24h",
        "Recordings the IVR could not store in the last 24 h (storage trouble when > 0).",
        figures["recording_failures_24h"],
    )
    for bucket, count in figures["backlog_by_age"].items():
        gauge(
            "hotline_backlog_tickets",
            "Open tickets by age in days.",
            count,
            f'{{age_days="{bucket}"}}',
        )
    for category, count in figures["backlog_by_category"].items():
        gauge(
            "hotline_backlog_by_category",
            "Open tickets by category.",
            count,
            f'{{category="{category}"}}',
        )
    asr = figures["asr"]
    gauge(
        "hotline_asr_queue_depth",
        "ASR jobs waiting or in progress.",
        asr["waiting"] + asr["pending"],
    )
    gauge(
        "hotline_asr_queue_seconds", "Age of the oldest unfinished ASR job.", asr["oldest_seconds"]
    )
    return "\n".join(lines) + "\n"


def _refresh_agents(services: Services) -> None:
    try:
        services.presence.refresh_gauge()
    except DomainError as exc:
        log.warning("hotline_agents not refreshed: %s", exc)  # the last values stay


async def metrics(request: Request) -> PlainTextResponse:
    figures = await run_in_threadpool(collect_metrics, services_of(request))
    services = services_of(request)
    outbox = await run_in_threadpool(outbox_backlog, services.sessions)
    # The SLA gauges are prometheus-client objects; refresh them before the registry is read.
    await run_in_threadpool(services.sla_reports.refresh_gauges)
    queue = await run_in_threadpool(queue_metrics_text, services.queue_reads)
    # hotline_agents{state}: every process's gauge follows its own changes only; the agents
    # change state on the IVR nodes too, so read the live store at each scrape.
    await run_in_threadpool(_refresh_agents, services)
    # The database figures above, then this process's default registry (prometheus_client).
    body = prometheus_text(figures) + outbox_text(outbox) + queue + metrics_text().decode()
    return PlainTextResponse(body, media_type="text/plain; version=0.0.4; charset=utf-8")


async def livez(request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive", "role": "web"})


async def readyz(request: Request) -> JSONResponse:
    services = services_of(request)
    readiness = Readiness(lambda: ping_database(services.engine), services.bus.ping)
    report = await run_in_threadpool(readiness.report)
    return JSONResponse(report.as_json(), status_code=report.http_status)


async def metrics_summary(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, "supervisor", "admin")
    figures = await run_in_threadpool(collect_metrics, services_of(request))
    return reply(schemas.MetricsSummary, figures)


routes = [Route("/metrics/summary", metrics_summary, methods=["GET"])]
root_routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/livez", livez, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
