"""``GET /recordings/{id}``: the WAV for the player, to signed-in roles that may listen, with
byte ranges so the player can seek (Starlette's FileResponse streams them from the file); every
listen is logged once, however its bytes are asked for (PDPA)."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from agent_ui.api.errors import error_response
from agent_ui.console.auth_session import signed_in_actor
from agent_ui.console.ranges import UnsatisfiableRange, parse_range
from ticketing.container import Services
from ticketing.listens import log_listen

log = logging.getLogger(__name__)

LISTENERS = ("agent", "supervisor")  # admins manage accounts; they do not listen to callers
MAX_ID = 2**63 - 1  # the database's integer; a larger id names no recording


def _starts_at_zero(header: str | None, size: int) -> bool | None:
    """Whether the request reads from byte 0; None when the range can't be served (416)."""
    try:
        wanted = parse_range(header, size)
    except UnsatisfiableRange:
        return None
    return wanted is None or wanted[0] == 0


async def recording(request: Request) -> Response:
    actor = await signed_in_actor(request)
    if actor is None:
        return error_response(401, "unauthenticated", "sign in to listen to recordings")
    if actor.role not in LISTENERS:
        return error_response(403, "forbidden", "your role may not listen to recordings")
    services: Services = request.app.state.services
    text = request.path_params["recording_id"]
    if not (text.isascii() and text.isdigit()) or int(text) > MAX_ID:
        return error_response(404, "not_found", "no such recording")
    recording_id = int(text)
    info = await run_in_threadpool(services.console_reads.recording_info, recording_id)
    if info is None:
        return error_response(404, "not_found", f"no recording {recording_id}")
    if not actor.may_see_province(info.province_code):
        return error_response(403, "forbidden", "this recording is outside your provinces")
    base = services.settings.data_dir.resolve()
    path = (base / info.path).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        log.warning("recording %s: file %s missing or outside the data dir", info.id, info.path)
        return error_response(404, "not_found", f"the file of recording {recording_id} is missing")
    stat = path.stat()
    from_start = _starts_at_zero(request.headers.get("range"), stat.st_size)
    if from_start is not None:
        logged = await run_in_threadpool(
            lambda: log_listen(services.sessions, info.id, actor.user_id, from_start=from_start)
        )
        if logged:
            log.info("recording %s played by %s", info.id, actor.name)
    return FileResponse(
        path,
        media_type="audio/wav",
        headers={"Cache-Control": "private, no-store"},
        filename=f"recording-{info.id}.wav",
        stat_result=stat,
        content_disposition_type="inline",
    )
