"""``GET /recordings/{id}``: the WAV for the player, to signed-in roles that may listen, with
byte ranges so the player can seek; every listen is logged (PDPA)."""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from agent_ui.api.errors import error_response
from agent_ui.console.queries import recording_info
from agent_ui.console.ranges import UnsatisfiableRange, parse_range
from agent_ui.console.session import signed_in_actor
from ticketing.container import Services

log = logging.getLogger(__name__)

LISTENERS = ("agent", "supervisor")  # admins manage accounts; they do not listen to callers
MAX_CHUNK = 8 * 1024 * 1024


def _read_slice(path: Path, start: int, length: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(start)
        return handle.read(length)


async def recording(request: Request) -> Response:
    actor = await signed_in_actor(request)
    if actor is None:
        return error_response(401, "unauthenticated", "sign in to listen to recordings")
    if actor.role not in LISTENERS:
        return error_response(403, "forbidden", "your role may not listen to recordings")
    services: Services = request.app.state.services
    try:
        recording_id = int(request.path_params["recording_id"])
    except ValueError:
        return error_response(404, "not_found", "no such recording")
    info = await run_in_threadpool(recording_info, services.sessions, recording_id)
    if info is None:
        return error_response(404, "not_found", f"no recording {recording_id}")
    if not actor.may_see_province(info.province_code):
        return error_response(403, "forbidden", "this recording is outside your provinces")
    base = services.settings.data_dir.resolve()
    path = (base / info.path).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        log.warning("recording %s: file %s missing or outside the data dir", info.id, info.path)
        return error_response(404, "not_found", f"the file of recording {recording_id} is missing")
    size = path.stat().st_size
    headers = {
        "Accept-Ranges": "bytes",
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'inline; filename="recording-{info.id}.wav"',
    }
    try:
        wanted = parse_range(request.headers.get("range"), size)
    except UnsatisfiableRange:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    start, end = wanted if wanted is not None else (0, size - 1)
    end = min(end, start + MAX_CHUNK - 1)
    if start == 0:
        # The player asks from byte 0 once per listen; seeks ask from later bytes.
        await run_in_threadpool(services.calls.log_recording_access, info.id, actor.user_id)
        log.info("recording %s played by %s", info.id, actor.name)
    body = await run_in_threadpool(_read_slice, path, start, end - start + 1) if size else b""
    if wanted is None and end == size - 1:
        return Response(body, media_type="audio/wav", headers=headers)
    headers["Content-Range"] = f"bytes {start}-{start + len(body) - 1}/{size}"
    return Response(body, status_code=206, media_type="audio/wav", headers=headers)
