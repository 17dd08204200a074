"""Open311 client: tickets routed to an agency that runs its own GeoReport v2 server
(``open311_endpoint`` + ``open311_api_key`` in ``agencies.toml``) are sent there as
``POST requests.json`` and followed with ``GET requests/{id}.json``.

The hand-over is an outbox row written in the routing transaction, so a server that is down
delays it and loses nothing (retried with growing delays). The status read back moves our
ticket: ``open`` → ``in_progress``, ``closed`` → ``resolved`` with ``status_notes`` as the
resolution. Both go through the audit trail and the events like any other change.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.catalog import Agency, Catalog
from ticketing.actors import Actor
from ticketing.events import record_event
from ticketing.mail import backoff
from ticketing.models import Open311Outbound, Ticket
from ticketing.status import TicketStatus
from ticketing.tickets import TicketService
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)

POLL_EVERY = timedelta(minutes=5)
S = TicketStatus
FOLLOWED = (S.ROUTED, S.IN_PROGRESS, S.REOPENED)


class Open311Unavailable(Exception):
    """The agency's server did not answer, or answered with an error."""


def open311_handover(catalog: Catalog) -> Callable[[Session, Ticket], None]:
    """A ``TicketService.route_hooks`` entry: queue the hand-over for Open311 agencies."""

    def on_routed(session: Session, ticket: Ticket) -> None:
        agency = catalog.agencies.get(ticket.agency_code or "")
        if agency is None or not agency.open311_endpoint or not agency.open311_api_key:
            return
        session.add(
            Open311Outbound(
                ticket_id=ticket.id,
                agency_code=agency.code,
                state="pending",
                attempts=0,
                next_attempt_at=utcnow(),
            )
        )

    return on_routed


def http_json(method: str, url: str, form: dict[str, str] | None, timeout: float) -> Any:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:500].decode("utf-8", "replace")
        raise Open311Unavailable(f"HTTP {exc.code}: {detail}") from exc
    except (OSError, ValueError) as exc:
        raise Open311Unavailable(str(exc)) from exc


class Open311Client:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        catalog: Catalog,
        *,
        after_commit: Callable[[], None] = lambda: None,
        timeout: float = 10.0,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._after_commit = after_commit
        self._timeout = timeout

    def run_once(self, now: datetime | None = None, fence: object = None) -> int:
        """Send due hand-overs and read back due statuses; returns how many rows moved."""
        moment = now or utcnow()
        with self._sessions() as session:
            due = list(
                session.scalars(
                    select(Open311Outbound.id)
                    .where(
                        Open311Outbound.state.in_(("pending", "open")),
                        Open311Outbound.next_attempt_at <= moment,
                    )
                    .order_by(Open311Outbound.id)
                    .limit(100)
                )
            )
        moved = 0
        for row_id in due:
            moved += self._one(row_id, moment, fence)
        return moved

    def _one(self, row_id: int, moment: datetime, fence: object) -> int:
        # The network call happens outside any transaction; the result is written after.
        with self._sessions() as session:
            row = session.get(Open311Outbound, row_id)
            ticket = session.get(Ticket, row.ticket_id) if row else None
            if row is None or ticket is None:
                return 0
            agency = self._catalog.agencies.get(row.agency_code)
            state, remote_id = row.state, row.remote_id
            form = self._form(ticket, agency) if agency else None
        if agency is None or not agency.open311_endpoint:
            return self._record(row_id, fence, error="the agency no longer has an Open311 endpoint")
        base = agency.open311_endpoint.rstrip("/")
        try:
            if state == "pending":
                reply = http_json("POST", f"{base}/requests.json", form, self._timeout)
                new_id = _first(reply).get("service_request_id")
                if not new_id:
                    raise Open311Unavailable(f"no service_request_id in {str(reply)[:200]}")
                log.info(
                    "ticket %s sent to %s as request %s", ticket.reference, agency.code, new_id
                )
                sent = self._record(row_id, fence, remote_id=str(new_id), moment=moment)
                return sent + self._one(row_id, moment, fence)  # read its status back at once
            path = urllib.parse.quote(str(remote_id), safe="")
            reply = http_json("GET", f"{base}/requests/{path}.json", None, self._timeout)
            return self._record(row_id, fence, status=_first(reply), moment=moment)
        except Open311Unavailable as exc:
            log.warning("Open311 %s for %s: %s", state, agency.code, exc)
            return self._record(row_id, fence, error=str(exc), moment=moment)

    def _form(self, ticket: Ticket, agency: Agency | None) -> dict[str, str]:
        form = {
            "api_key": (agency.open311_api_key or "") if agency else "",
            "service_code": ticket.category or "OTHER",
            "description": f"[1567 {ticket.reference}] {ticket.description}"[:4000],
        }
        if ticket.latitude is not None and ticket.longitude is not None:
            form["lat"], form["long"] = str(ticket.latitude), str(ticket.longitude)
        else:
            form["address_string"] = self._place(ticket) or "ไม่ระบุ"
        if ticket.caller_phone:
            form["phone"] = ticket.caller_phone  # the responsible agency calls the citizen back
        return form

    def _place(self, ticket: Ticket) -> str:
        district = self._catalog.districts.get(ticket.district_code or "")
        province = self._catalog.provinces.get(ticket.province_code or "")
        parts = []
        if district:
            name = district[1]
            parts.append(name if name.startswith("เขต") else f"อำเภอ{name}")
        if province:
            parts.append(f"จังหวัด{province}")
        return " ".join(parts)

    def _record(
        self,
        row_id: int,
        fence: object,
        *,
        remote_id: str | None = None,
        status: dict[str, Any] | None = None,
        error: str | None = None,
        moment: datetime | None = None,
    ) -> int:
        now = moment or utcnow()
        with self._sessions.begin() as session:
            if callable(fence):
                fence(session)
            row = session.get(Open311Outbound, row_id)
            if row is None:
                return 0
            row.attempts += 1
            if error is not None:
                row.last_error = error[:2000]
                row.next_attempt_at = now + backoff(row.attempts)
                return 0
            row.last_error = None
            if remote_id is not None:
                row.remote_id, row.state = remote_id, "open"
                row.next_attempt_at = now
            elif status is not None:
                self._apply(session, row, status, now)
        self._after_commit()
        return 1

    def _apply(
        self, session: Session, row: Open311Outbound, status: dict[str, Any], now: datetime
    ) -> None:
        ticket = session.get(Ticket, row.ticket_id)
        remote = str(status.get("status") or "")
        row.remote_status = remote[:16]
        row.next_attempt_at = now + POLL_EVERY
        if ticket is None or ticket.agency_code != row.agency_code or ticket.status not in FOLLOWED:
            row.state = "done"  # re-routed, returned or finished here: stop following
            return
        actor = Actor.system(f"open311:{row.agency_code}")
        before = TicketService._snapshot(ticket)
        if remote == "closed":
            notes = str(status.get("status_notes") or "").strip()
            ticket.status = S.RESOLVED
            ticket.resolution = notes or "ปิดเรื่องโดยหน่วยงาน (Open311)"
            ticket.resolution_type = "resolved"
            ticket.resolved_at = now
            row.state = "done"
        elif remote == "open" and ticket.status is not S.IN_PROGRESS:
            ticket.status = S.IN_PROGRESS
        else:
            return
        ticket.updated_at = now
        after = {**TicketService._snapshot(ticket), "remote_id": row.remote_id}
        TicketService._audit(session, ticket, actor, f"status:{ticket.status.value}", before, after)
        record_event(
            session,
            "ticket.transitioned",
            {
                **TicketService._event_data(ticket),
                "from": before["status"],
                "to": ticket.status.value,
            },
        )


def _first(reply: Any) -> dict[str, Any]:
    item = reply[0] if isinstance(reply, list) and reply else reply
    if not isinstance(item, dict):
        raise Open311Unavailable(f"unexpected answer {str(reply)[:200]}")
    return item
