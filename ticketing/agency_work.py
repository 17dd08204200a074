"""What an agency does with the tickets routed to it: its worklist, accept, return to the centre,
progress reports and the result. Every change writes its audit row and its events in the same
transaction (as ``TicketService`` does); an agency never learns that another agency's ticket
exists (404, not 403).

Returning is not in the status table's edges on purpose: only an agency may send a ticket back,
from routed or in progress, and it lands where call-takers route (``confirmed``), with the
agency and the reason on the ticket (``returned_by``), its audit trail and its timeline. The SLA
clocks keep running from the ticket's creation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import and_, case, select, update
from sqlalchemy.orm import Session, sessionmaker

from config.catalog import Catalog
from ticketing.actors import Actor
from ticketing.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ticketing.events import record_event
from ticketing.models import AuditEvent, CitizenUpdate, RoutingAssignment, Ticket, User
from ticketing.notify import Audience, notify
from ticketing.reference import InvalidReference, normalize_reference
from ticketing.serialize import iso, ticket_to_dict, update_to_dict
from ticketing.status import TicketStatus
from ticketing.ticket_base import ticket_transaction
from ticketing.tickets import TicketService
from ticketing.timeutil import utcnow
from ticketing.validation import clean_text

log = logging.getLogger(__name__)

S = TicketStatus
WORKING = (S.ROUTED, S.IN_PROGRESS, S.REOPENED)  # an agency's open queue
VISIBLE = (*WORKING, S.RESOLVED, S.CLOSED)
RETURNABLE = frozenset({S.ROUTED, S.IN_PROGRESS, S.REOPENED})
RESOLUTION_TYPES = ("resolved", "referred", "cannot_be_solved", "withdrawn")
"""resolved: the agency fixed it; referred: sent on to a court or another authority;
cannot_be_solved: outside any agency's power (the seeds' hard cases); withdrawn: by the citizen."""

AGENCY_UPDATE_CHANNEL = "agency"
TIMELINE_ACTIONS_WITH_TEXT = ("returned", "progress_report", "result")


def check_agency_actor(actor: Actor) -> str:
    if actor.role != "agency" or not actor.agency_code:
        raise PermissionDenied("this needs an agency user")
    return actor.agency_code


class AgencyWork:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        catalog: Catalog,
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._catalog = catalog
        self._after_commit = after_commit

    def _transaction(self) -> AbstractContextManager[Session]:
        return ticket_transaction(self._sessions, self._after_commit)

    # --- users ------------------------------------------------------------------------------
    def assign_user(self, username: str, agency_code: str) -> None:
        """Make a user (role agency) work for one agency of the catalog."""
        if agency_code not in self._catalog.agencies:
            raise InvalidInput(f"unknown agency {agency_code!r}", "agency_code")
        with self._sessions.begin() as session:
            user = session.scalars(select(User).where(User.username == username)).one_or_none()
            if user is None:
                raise NotFound(f"no user {username!r}")
            if user.role != "agency":
                raise InvalidInput(f"user {username!r} has the role {user.role}, not agency")
            user.agency_code = agency_code

    # --- reading ----------------------------------------------------------------------------
    def worklist(self, actor: Actor, *, limit: int = 200) -> list[dict[str, Any]]:
        """The agency's open tickets, the most urgent deadline first (so overdue ones lead)."""
        agency = check_agency_actor(actor)
        next_due = case(
            (
                and_(
                    Ticket.first_update_at.is_(None),
                    Ticket.progress_due_at.is_not(None),
                    Ticket.progress_due_at < Ticket.resolve_due_at,
                ),
                Ticket.progress_due_at,
            ),
            else_=Ticket.resolve_due_at,
        )
        query = (
            select(Ticket)
            .where(Ticket.agency_code == agency, Ticket.status.in_(WORKING))
            .order_by(next_due.is_(None), next_due, Ticket.id)
            .limit(max(1, min(limit, 500)))
        )
        with self._sessions() as session:
            return [self._item(t, actor) for t in session.scalars(query)]

    def detail(self, reference: str, actor: Actor) -> dict[str, Any]:
        with self._sessions() as session:
            ticket = self._own(session, reference, actor)
            data = self._item(ticket, actor)
            data["updates"] = [
                update_to_dict(u)
                for u in session.scalars(
                    select(CitizenUpdate)
                    .where(CitizenUpdate.ticket_id == ticket.id)
                    .order_by(CitizenUpdate.id)
                )
            ]
            data["timeline"] = self._timeline(session, ticket.id)
            return data

    def _item(self, ticket: Ticket, actor: Actor) -> dict[str, Any]:
        full = ticket_to_dict(ticket, actor)
        now = utcnow()
        progress_due = ticket.progress_due_at if ticket.first_update_at is None else None
        dues = [d for d in (progress_due, ticket.resolve_due_at) if d is not None]
        next_due = min(dues, key=lambda d: d.timestamp()) if dues else None
        keep = (
            "reference",
            "status",
            "version",
            "category",
            "urgent",
            "province_code",
            "district_code",
            "caller_phone",
            "citizen_id",
            "description",
            "agency_code",
            "resolution",
            "created_at",
            "routed_at",
            "first_update_at",
            "resolved_at",
            "progress_due_at",
            "resolve_due_at",
        )
        item = {k: full.get(k) for k in keep}
        item.update(
            {
                "resolution_type": ticket.resolution_type,
                "escalation_level": ticket.escalation_level,
                "next_due_at": iso(next_due),
                "overdue": next_due is not None
                and ticket.status in WORKING
                and next_due.timestamp() < now.timestamp(),
                "agency_name": self._agency_name(ticket.agency_code),
            }
        )
        for extra in ("sla", "masked"):
            if extra in full:
                item[extra] = full[extra]
        return item

    def _agency_name(self, code: str | None) -> str | None:
        agency = self._catalog.agencies.get(code or "")
        return agency.name_th if agency else None

    @staticmethod
    def _timeline(session: Session, ticket_id: int) -> list[dict[str, Any]]:
        """What happened, without before/after values (they hold personal data)."""
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.ticket_id == ticket_id).order_by(AuditEvent.id)
        )
        timeline = []
        for row in rows:
            entry: dict[str, Any] = {"action": row.action, "actor": row.actor, "at": iso(row.at)}
            if row.action in TIMELINE_ACTIONS_WITH_TEXT:
                entry["text"] = row.after.get("reason") or row.after.get("message") or ""
            if row.action in ("routed", "returned"):
                entry["agency_code"] = row.after.get("agency_code") or row.before.get("agency_code")
            timeline.append(entry)
        return timeline

    # --- changes ----------------------------------------------------------------------------
    def accept(self, reference: str, actor: Actor) -> dict[str, Any]:
        with self._transaction() as session:
            ticket = self._own(session, reference, actor, for_update=True)
            if ticket.status not in (S.ROUTED, S.REOPENED):
                raise Conflict(f"ticket {ticket.reference} is {ticket.status}; nothing to accept")
            before = TicketService._snapshot(ticket)
            ticket.status = S.IN_PROGRESS
            ticket.updated_at = utcnow()
            self._changed(session, ticket, actor, "status:in_progress", before, {})
            record_event(
                session,
                "ticket.transitioned",
                {
                    **TicketService._event_data(ticket),
                    "from": before["status"],
                    "to": "in_progress",
                },
            )
            session.flush()
            return self._item(ticket, actor)

    def return_to_centre(self, reference: str, actor: Actor, reason: str) -> dict[str, Any]:
        text = clean_text(reason, "reason", 2000, required=True)
        with self._transaction() as session:
            ticket = self._own(session, reference, actor, for_update=True)
            if ticket.status not in RETURNABLE:
                raise Conflict(f"ticket {ticket.reference} is {ticket.status}; it cannot go back")
            before = TicketService._snapshot(ticket)
            agency = ticket.agency_code
            session.execute(
                update(RoutingAssignment)
                .where(RoutingAssignment.ticket_id == ticket.id, RoutingAssignment.active)
                .values(active=False)
            )
            now = utcnow()
            ticket.status = S.CONFIRMED
            ticket.agency_code = None
            ticket.returned_by = agency
            ticket.returned_at = now
            ticket.updated_at = now
            self._changed(session, ticket, actor, "returned", before, {"reason": text})
            record_event(
                session,
                "ticket.returned",
                {**TicketService._event_data(ticket), "agency_code": agency, "reason": text},
            )
            notify(
                session,
                self._catalog,
                ticket.id,
                Audience(
                    province_supervisors=ticket.province_code, central=not ticket.province_code
                ),
                kind="returned",
                title=f"เรื่อง {ticket.reference} ถูกส่งคืนจาก {agency}",
                body=text,
                mail_agencies=[self._centre_of(ticket.province_code)],
            )
            log.info(
                "ticket %s returned to the centre by %s (%s)", ticket.reference, actor.name, agency
            )
            session.flush()
            out = ticket_to_dict(ticket, actor)
            return {"reference": out["reference"], "status": out["status"], "returned_by": agency}

    def progress_report(self, reference: str, actor: Actor, message: str) -> dict[str, Any]:
        """A citizen-facing update from the agency; the first one meets the progress clock."""
        text = clean_text(message, "message", 5000, required=True)
        with self._transaction() as session:
            ticket = self._own(session, reference, actor, for_update=True)
            if ticket.status not in WORKING:
                raise Conflict(f"ticket {ticket.reference} is {ticket.status}; no report now")
            row = CitizenUpdate(
                ticket_id=ticket.id,
                message=text,
                channel=AGENCY_UPDATE_CHANNEL,
                created_by=actor.name,
            )
            session.add(row)
            now = utcnow()
            if ticket.first_update_at is None:
                ticket.first_update_at = now
            ticket.updated_at = now
            self._changed(session, ticket, actor, "progress_report", {}, {"message": text})
            record_event(session, "ticket.updated", TicketService._event_data(ticket))
            session.flush()
            return update_to_dict(row)

    def post_result(
        self, reference: str, actor: Actor, resolution: str, resolution_type: str = "resolved"
    ) -> dict[str, Any]:
        text = clean_text(resolution, "resolution", 20_000, required=True)
        if resolution_type not in RESOLUTION_TYPES:
            raise InvalidInput(
                f"resolution_type must be one of {', '.join(RESOLUTION_TYPES)}", "resolution_type"
            )
        with self._transaction() as session:
            ticket = self._own(session, reference, actor, for_update=True)
            if ticket.status not in WORKING:
                raise Conflict(f"ticket {ticket.reference} is {ticket.status}; no result now")
            before = TicketService._snapshot(ticket)
            now = utcnow()
            ticket.status = S.RESOLVED
            ticket.resolution = text
            ticket.resolution_type = resolution_type
            ticket.resolved_at = now
            ticket.updated_at = now
            after = {"message": text, "resolution_type": resolution_type}
            self._changed(session, ticket, actor, "result", before, after)
            record_event(
                session,
                "ticket.transitioned",
                {**TicketService._event_data(ticket), "from": before["status"], "to": "resolved"},
            )
            session.flush()
            return self._item(ticket, actor)

    # --- helpers ----------------------------------------------------------------------------
    def _own(
        self, session: Session, reference: str, actor: Actor, *, for_update: bool = False
    ) -> Ticket:
        """The ticket, if it is routed to the actor's agency; any other ticket does not exist."""
        agency = check_agency_actor(actor)
        try:
            digits = normalize_reference(reference)
        except InvalidReference as exc:
            raise NotFound(f"no ticket {reference!r}") from exc
        query = select(Ticket).where(
            Ticket.reference == digits, Ticket.agency_code == agency, Ticket.status.in_(VISIBLE)
        )
        if for_update and session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        ticket = session.scalars(query).one_or_none()
        if ticket is None:
            raise NotFound(f"no ticket {digits} in your agency's work")
        return ticket

    def _centre_of(self, province_code: str | None) -> str:
        code = f"DAMRONG-{province_code}"
        return code if code in self._catalog.agencies else self._catalog.fallback_agency

    @staticmethod
    def _changed(
        session: Session,
        ticket: Ticket,
        actor: Actor,
        action: str,
        before: dict[str, Any],
        extra: dict[str, Any],
    ) -> None:
        after = {**TicketService._snapshot(ticket), **extra}
        TicketService._audit(session, ticket, actor, action, before, after)


def routing_notifier(catalog: Catalog) -> Callable[[Session, Ticket], None]:
    """A ``TicketService.route_hooks`` entry: the agency hears of a ticket routed to it."""

    def on_routed(session: Session, ticket: Ticket) -> None:
        code = ticket.agency_code or ""
        agency = catalog.agencies.get(code)
        category = catalog.categories.get(ticket.category or "")
        title = f"เรื่องใหม่ {ticket.reference} ส่งถึง {agency.name_th if agency else code}"
        due = iso(ticket.resolve_due_at) or "-"
        body = (
            f"ประเภท: {category.name_th if category else ticket.category}\n"
            f"จังหวัด: {catalog.provinces.get(ticket.province_code or '', '-')}\n"
            f"กำหนดแจ้งผล: {due}"
        )
        notify(
            session,
            catalog,
            ticket.id,
            Audience(agency=code),
            kind="routed",
            title=title,
            body=body,
            mail_agencies=[code],
        )

    return on_routed
