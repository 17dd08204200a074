"""Ticket and related rows as JSON-ready dicts, with personal data masked by role."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ticketing.actors import Actor
from ticketing.masking import mask_digits, mask_mapping, mask_text, mask_words
from ticketing.models import AuditEvent, CitizenUpdate, RoutingAssignment, Ticket
from ticketing.sla import sla_view
from ticketing.timeutil import as_utc, utcnow

__all__ = [
    "assignment_to_dict",
    "audit_to_dict",
    "iso",
    "mask_digits",
    "sees_full",
    "ticket_to_dict",
    "update_to_dict",
]


def iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None


def sees_full(actor: Actor | None) -> bool:
    return actor is None or actor.sees_personal_data


def _text(value: str | None, full: bool) -> str | None:
    return value if full else mask_text(value)


def ticket_to_dict(ticket: Ticket, actor: Actor | None = None) -> dict[str, Any]:
    full = sees_full(actor)
    now = utcnow()
    due = ticket.resolve_due_at
    overdue = (
        due is not None
        and ticket.resolved_at is None
        and ticket.status.value not in ("rejected", "duplicate", "closed", "resolved")
        and as_utc(due) < now
    )
    return {
        "id": ticket.id,
        "reference": ticket.reference,
        "status": ticket.status.value,
        "version": ticket.version,
        "channel": ticket.channel,
        "category": ticket.category,
        "urgent": ticket.urgent,
        "province_code": ticket.province_code,
        "district_code": ticket.district_code,
        "caller_phone": ticket.caller_phone if full else mask_digits(ticket.caller_phone),
        "citizen_id": ticket.citizen_id if full else mask_digits(ticket.citizen_id),
        "description": ticket.description if full else mask_text(ticket.description) or "",
        "transcript": _text(ticket.transcript, full),
        "transcript_words": ticket.transcript_words
        if full
        else mask_words(ticket.transcript_words),
        "field_confidence": ticket.field_confidence or {},
        "asr_status": ticket.asr_status,
        "asr_error": _text(ticket.asr_error, full),
        "call_id": ticket.call_id,
        "recording_id": ticket.recording_id,
        "agency_code": ticket.agency_code,
        "duplicate_of": ticket.duplicate_of.reference if ticket.duplicate_of else None,
        "reject_reason": _text(ticket.reject_reason, full),
        "resolution": _text(ticket.resolution, full),
        "claimed_by": ticket.claimed_by,
        "claim_expires_at": iso(ticket.claim_expires_at),
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "confirmed_at": iso(ticket.confirmed_at),
        "routed_at": iso(ticket.routed_at),
        "first_update_at": iso(ticket.first_update_at),
        "resolved_at": iso(ticket.resolved_at),
        "closed_at": iso(ticket.closed_at),
        "confirm_due_at": iso(ticket.confirm_due_at),
        "progress_due_at": iso(ticket.progress_due_at),
        "resolve_due_at": iso(ticket.resolve_due_at),
        "overdue": overdue,
        "escalation_level": ticket.escalation_level or 0,
        "sla": sla_view(ticket, now),
        "resolution_type": ticket.resolution_type,
        "returned_by": ticket.returned_by,
    }


def audit_to_dict(event: AuditEvent, actor: Actor | None = None) -> dict[str, Any]:
    full = sees_full(actor)
    before, after = event.before or {}, event.after or {}
    return {
        "actor": event.actor,
        "action": event.action,
        "before": before if full else mask_mapping(before),
        "after": after if full else mask_mapping(after),
        "at": iso(event.at),
    }


def update_to_dict(update: CitizenUpdate, actor: Actor | None = None) -> dict[str, Any]:
    return {
        "message": _text(update.message, sees_full(actor)) or "",
        "channel": update.channel,
        "created_by": update.created_by,
        "created_at": iso(update.created_at),
    }


def assignment_to_dict(assignment: RoutingAssignment, actor: Actor | None = None) -> dict[str, Any]:
    return {
        "agency_code": assignment.agency_code,
        "suggested_agency": assignment.suggested_agency,
        "note": _text(assignment.note, sees_full(actor)) or "",
        "assigned_by": assignment.assigned_by,
        "assigned_at": iso(assignment.assigned_at),
        "active": assignment.active,
    }
