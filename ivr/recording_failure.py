"""A recording that cannot be stored: counted, written on the draft, a callback on request.

The call flow tells the caller (``recording_failed`` prompt) and offers a callback; this module
does the bookkeeping so that nobody is misled: the ``hotline_recording_failures_total`` counter
on the IVR's /metrics, the reason on the recording row (the supervisor dashboard counts those),
and a draft that says "recording failed".
"""

from __future__ import annotations

import logging

from prometheus_client import Counter

from ticketing.actors import Actor
from ticketing.container import Services

log = logging.getLogger(__name__)

IVR = Actor.system("ivr")
CALLBACK_NOTE = "ขอให้เจ้าหน้าที่โทรกลับ (callback request left in the IVR; see the recording)"
RECORDING_FAILED_NOTE = "บันทึกเสียงไม่สำเร็จ — recording failed (storage error); no complaint audio"
RECORDING_FAILURES = Counter(
    "hotline_recording_failures",
    "Recordings the IVR could not store (the caller was told and offered a callback).",
    ["stage"],  # create | write
)


def report_storage_failure(
    services: Services, call_id: str, recording_id: int | None, stage: str, reason: str
) -> None:
    """Never raises: the call goes on whatever else is broken."""
    RECORDING_FAILURES.labels(stage=stage).inc()
    if recording_id is None:
        log.error("call %s: recording failed (%s) and no draft could be made", call_id, reason)
        return
    try:
        services.calls.recording_failed(recording_id, reason, note=RECORDING_FAILED_NOTE)
    except Exception as exc:
        log.error("call %s: storing the recording failure failed: %s", call_id, exc)


def mark_callback_after_failure(services: Services, call_id: str, reference: str | None) -> None:
    if reference is None:
        log.error("call %s: a callback was asked for but there is no draft", call_id)
        return
    note = f"{CALLBACK_NOTE}\n{RECORDING_FAILED_NOTE}"
    try:
        services.tickets.update_fields(reference, {"category": "INFO", "description": note}, IVR)
    except Exception as exc:
        log.error("call %s: marking draft %s for a callback failed: %s", call_id, reference, exc)
