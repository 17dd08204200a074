"""JSON endpoints the console pages need beyond /api/v1: queue, claims, history, dashboard."""

from __future__ import annotations

import asyncio
import csv
import io
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent_ui.api.auth import current_actor, require_role, services_of
from agent_ui.api.errors import error_response
from ticketing.actors import Actor
from ticketing.errors import BusUnavailable, Conflict
from ticketing.events import bus_errors
from ticketing.metrics import MetricsService
from ticketing.survey_metrics import EXPORT_HEADER
from ticketing.timeutil import utcnow

CLAIM_MINUTES = 10
WORKERS = ("agent", "supervisor")
WATCHERS = ("supervisor", "admin")


async def queue(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WORKERS)
    items = await run_in_threadpool(services_of(request).console_reads.draft_queue, actor)
    return JSONResponse({"items": items, "server_time": utcnow().isoformat(), "me": actor.user_id})


async def claim(request: Request) -> Response:
    actor = await current_actor(request)
    require_role(actor, *WORKERS)
    services = services_of(request)
    reference = request.path_params["reference"]
    try:
        ticket = await run_in_threadpool(
            lambda: services.tickets.claim(reference, actor, minutes=CLAIM_MINUTES)
        )
    except Conflict as exc:
        holder = await run_in_threadpool(services.console_reads.claim_holder, reference)
        return error_response(409, "claimed", str(exc), holder=holder)
    return JSONResponse({"ticket": ticket, "claim_minutes": CLAIM_MINUTES})


async def release(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WORKERS)
    services = services_of(request)
    reference = request.path_params["reference"]
    await run_in_threadpool(services.tickets.release, reference, actor)
    return JSONResponse({"released": reference})


async def caller_history(request: Request) -> JSONResponse:
    """The caller's other tickets, found by the real number even when the viewer sees it masked."""
    actor = await current_actor(request)
    require_role(actor, *WORKERS)
    services = services_of(request)
    reference = request.path_params["reference"]
    items = await run_in_threadpool(services.tickets.caller_history, reference, actor)
    return JSONResponse({"items": items})


def live_figures(services: Any, actor: Actor | None = None) -> dict[str, Any]:
    metrics: MetricsService = services.metrics
    figures: dict[str, Any] = {"summary": metrics.summary(actor)}
    try:
        with bus_errors():  # Redis errors as BusUnavailable, whatever the queue raises
            figures["asr"] = services.audio.backlog()
    except BusUnavailable:
        figures["asr"] = {"waiting": 0, "pending": 0, "oldest_seconds": 0.0, "unavailable": True}
    return figures


def chart_figures(services: Any, actor: Actor | None = None) -> dict[str, Any]:
    """A scoped supervisor's charts count their provinces only (issue 9: scope holds for reads)."""
    return {
        "backlog_by_age": services.metrics.backlog_by_age(actor),
        "over_time": services.console_reads.charts_over_time(actor=actor),
        "activity": services.console_reads.activity_today(),
    }


async def dashboard(request: Request) -> JSONResponse:
    actor = await current_actor(request)
    require_role(actor, *WATCHERS)
    services = services_of(request)
    # Two connections at once: the tiles and the charts are independent reads, and the
    # database driver releases the GIL while a query runs.
    live, charts = await asyncio.gather(
        run_in_threadpool(live_figures, services, actor),
        run_in_threadpool(chart_figures, services, actor),
    )
    return JSONResponse({**live, **charts, "generated_at": utcnow().isoformat()})


async def wallboard(request: Request) -> JSONResponse:
    """The live wallboard's figures (the page reloads them when a call or agent event arrives)."""
    actor = await current_actor(request)
    require_role(actor, *WATCHERS)
    figures = await run_in_threadpool(services_of(request).queue_reads.wallboard, actor)
    return JSONResponse(figures, headers={"Cache-Control": "no-store"})


async def export_csv(request: Request) -> Response:
    actor = await current_actor(request)
    require_role(actor, *WATCHERS)
    reads = services_of(request).console_reads
    survey = services_of(request).survey  # the ticket rows with their ratings (issue 12)
    rows = await run_in_threadpool(lambda: survey.export_rows(actor=actor))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    writer.writerows(rows)
    stamp = reads.today_label().isoformat()
    return Response(
        "\ufeff" + out.getvalue(),  # the BOM makes spreadsheet programs read Thai as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="hotline1567-{stamp}.csv"'},
    )
