"""Ticket status: an explicit state machine with its table of allowed transitions."""

from __future__ import annotations

import enum


class TicketStatus(enum.StrEnum):
    DRAFT = "draft"  # created by the IVR or a call-taker; fields may be machine-filled
    CONFIRMED = "confirmed"  # a call-taker checked the fields
    ROUTED = "routed"  # assigned to the responsible agency
    IN_PROGRESS = "in_progress"  # the agency reported it is working on it
    RESOLVED = "resolved"  # a result exists (one-stop answer or the agency's report)
    CLOSED = "closed"  # the result was reported back to the citizen
    REJECTED = "rejected"  # a test or prank call (reason required)
    DUPLICATE = "duplicate"  # the same matter as another ticket (link required)
    REOPENED = "reopened"  # the citizen or a supervisor reopened a resolved/closed ticket


S = TicketStatus

OPEN_STATUSES: frozenset[TicketStatus] = frozenset(
    {S.DRAFT, S.CONFIRMED, S.ROUTED, S.IN_PROGRESS, S.REOPENED}
)

ALLOWED_TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    S.DRAFT: frozenset({S.CONFIRMED, S.REJECTED, S.DUPLICATE}),
    S.CONFIRMED: frozenset({S.ROUTED, S.RESOLVED, S.DUPLICATE}),
    S.ROUTED: frozenset({S.IN_PROGRESS, S.RESOLVED, S.DUPLICATE, S.ROUTED}),
    S.IN_PROGRESS: frozenset({S.RESOLVED, S.DUPLICATE}),
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REOPENED: frozenset({S.ROUTED, S.IN_PROGRESS, S.RESOLVED, S.DUPLICATE}),
    S.REJECTED: frozenset(),
    S.DUPLICATE: frozenset(),
}
"""Why these edges: a confirmed one-stop matter (INFO) is resolved without routing; a routed
ticket may be re-routed to another agency (ROUTED -> ROUTED); every open status may turn out to be
a duplicate; only resolved or closed tickets can be reopened; rejected and duplicate are final."""


class IllegalTransition(Exception):
    def __init__(self, current: TicketStatus, target: TicketStatus) -> None:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current])) or "none (final status)"
        super().__init__(f"cannot go from {current} to {target}; allowed: {allowed}")
        self.current = current
        self.target = target


def check_transition(current: TicketStatus, target: TicketStatus) -> None:
    if target not in ALLOWED_TRANSITIONS[current]:
        raise IllegalTransition(current, target)
