"""The ASR result merged into a draft: fields a person already edited are never touched."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from ticketing.actors import Actor
from ticketing.channel_transcript_model import ChannelTranscript
from ticketing.errors import InvalidInput, NotFound
from ticketing.events import record_event
from ticketing.models import (
    Call,
    Ticket,
)
from ticketing.serialize import (
    ticket_to_dict,
)
from ticketing.status import TicketStatus
from ticketing.ticket_base import EDITABLE_FIELDS, TicketServiceBase
from ticketing.timeutil import utcnow

log = logging.getLogger(__name__)


class TranscriptMerge(TicketServiceBase):
    def apply_transcript(
        self,
        ticket_id: int,
        *,
        transcript: str | None,
        words: list[dict[str, Any]] | None,
        extracted: dict[str, Any],
        confidence: dict[str, float],
        asr_status: str,
        asr_error: str | None = None,
        actor: Actor | None = None,
        channel: str = "mono",
    ) -> dict[str, Any]:
        """Store the ASR result on a draft. Fields a call-taker already edited are not touched.
        ``channel``: the side of the call the transcript is (``mono``/``caller``); the text so
        far (``streaming``) is also an ``asr.partial`` event with it."""
        actor = actor or Actor.system("asr")
        if asr_status not in ("pending", "streaming", "done", "failed", "no_model"):
            raise InvalidInput(f"unknown asr status {asr_status!r}", "asr_status")
        with self._transaction() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket with id {ticket_id}")
            before = self._snapshot(ticket)
            edited = self._fields_edited_by_people(session, ticket.id)
            machine_description = not ticket.description or ticket.description == (
                ticket.transcript or ""
            )
            ticket.transcript = transcript
            ticket.transcript_words = words
            ticket.asr_status = asr_status
            ticket.asr_error = asr_error
            if ticket.status is TicketStatus.DRAFT:
                self._merge_fields(ticket, extracted, confidence, edited)
                # The description follows the transcript (partial, then final) until a person
                # writes one.
                if transcript and machine_description and "description" not in edited:
                    ticket.description = transcript
                self._drop_inconsistent_place(ticket)
                self._set_due_times(ticket)
            ticket.updated_at = utcnow()
            after = self._snapshot(ticket)
            changed = {k: v for k, v in before.items() if after.get(k) != v}
            self._audit(
                session,
                ticket,
                actor,
                f"asr:{asr_status}",
                changed,
                {k: after[k] for k in changed},
            )
            event = {"done": "asr.done", "failed": "asr.failed"}.get(asr_status)
            if event:
                record_event(session, event, {**self._event_data(ticket), "error": asr_error})
            if asr_status == "streaming" and transcript:
                # the call-taker on the call, the one console that gets the partial unmasked
                agent = ticket.call_id and session.scalar(
                    select(Call.agent_username).where(Call.id == ticket.call_id)
                )
                data = {**self._event_data(ticket), "channel": channel, "text": transcript}
                record_event(session, "asr.partial", {**data, "agent": agent or None})
            record_event(session, "ticket.updated", self._event_data(ticket))
            session.flush()
            return ticket_to_dict(ticket, actor)

    def _merge_fields(
        self,
        ticket: Ticket,
        extracted: dict[str, Any],
        confidence: dict[str, float],
        edited: set[str],
    ) -> None:
        merged = dict(ticket.field_confidence or {})
        for name, value in extracted.items():
            if name not in EDITABLE_FIELDS or name in edited or value is None:
                continue
            if name == "category" and value not in self._catalog.categories:
                continue
            setattr(ticket, name, value)
            merged[name] = float(confidence.get(name, 0.0))
        ticket.field_confidence = merged

    def apply_channel_fields(
        self,
        ticket_id: int,
        *,
        extracted: dict[str, Any],
        confidence: dict[str, float],
        actor: Actor | None = None,
    ) -> dict[str, Any]:
        """Fields read from another side of the conversation (the numbers a call-taker reads
        back) onto a draft, by the same rules; the draft's transcript is not touched."""
        actor = actor or Actor.system("asr")
        with self._transaction() as session:
            ticket = session.get(Ticket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket with id {ticket_id}")
            if ticket.status is not TicketStatus.DRAFT or not extracted:
                return ticket_to_dict(ticket, actor)
            before = self._snapshot(ticket)
            self._merge_fields(
                ticket, extracted, confidence, self._fields_edited_by_people(session, ticket.id)
            )
            ticket.updated_at = utcnow()
            after = self._snapshot(ticket)
            changed = {k: v for k, v in before.items() if after.get(k) != v}
            if changed:
                self._audit(
                    session, ticket, actor, "asr:read_back", changed, {k: after[k] for k in changed}
                )
                record_event(session, "ticket.updated", self._event_data(ticket))
            session.flush()
            return ticket_to_dict(ticket, actor)

    def store_channel_transcript(
        self,
        ticket_id: int,
        recording_id: int,
        *,
        channel: str,
        transcript: str,
        words: list[dict[str, Any]] | None,
    ) -> dict[str, str]:
        """Keep one side's final transcript; returns every side's text for the ticket so far."""
        with self._transaction() as session:
            row = session.get(ChannelTranscript, recording_id)
            if row is None:
                row = ChannelTranscript(recording_id=recording_id, ticket_id=ticket_id)
                session.add(row)
            row.channel = channel
            row.transcript = transcript
            row.words = words
            row.updated_at = utcnow()
            session.flush()
            rows = session.scalars(
                select(ChannelTranscript).where(ChannelTranscript.ticket_id == ticket_id)
            ).all()
            return {r.channel: r.transcript for r in rows}
