"""Ticket and related rows as JSON-ready dicts, with personal data masked by role."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ticketing.actors import Actor
from ticketing.models import AuditEvent, CitizenUpdate, RoutingAssignment, Ticket
from ticketing.sla import sla_view
from ticketing.timeutil import as_utc, utcnow


def iso(moment: datetime | None) -> str | None:
    return as_utc(moment).isoformat() if moment is not None else None


def mask_digits(value: str | None, keep: int = 4) -> str | None:
    if not value:
        return value
    return "•" * max(len(value) - keep, 0) + value[-keep:]


def ticket_to_dict(ticket: Ticket, actor: Actor | None = None) -> dict[str, Any]:
    full = actor is None or actor.sees_personal_data
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
        "description": ticket.description,
        "transcript": ticket.transcript,
        "transcript_words": ticket.transcript_words,
        "field_confidence": ticket.field_confidence or {},
        "asr_status": ticket.asr_status,
        "asr_error": ticket.asr_error,
        "call_id": ticket.call_id,
        "recording_id": ticket.recording_id,
        "agency_code": ticket.agency_code,
        "duplicate_of": ticket.duplicate_of.reference if ticket.duplicate_of else None,
        "reject_reason": ticket.reject_reason,
        "resolution": ticket.resolution,
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


def audit_to_dict(event: AuditEvent) -> dict[str, Any]:
    return {
        "actor": event.actor,
        "action": event.action,
        "before": event.before,
        "after": event.after,
        "at": iso(event.at),
    }


def update_to_dict(update: CitizenUpdate) -> dict[str, Any]:
    return {
        "message": update.message,
        "channel": update.channel,
        "created_by": update.created_by,
        "created_at": iso(update.created_at),
    }


def assignment_to_dict(assignment: RoutingAssignment) -> dict[str, Any]:
    return {
        "agency_code": assignment.agency_code,
        "suggested_agency": assignment.suggested_agency,
        "note": assignment.note,
        "assigned_by": assignment.assigned_by,
        "assigned_at": iso(assignment.assigned_at),
        "active": assignment.active,
    }
