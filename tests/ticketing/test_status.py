from __future__ import annotations

import itertools

import pytest

from ticketing.status import (
    ALLOWED_TRANSITIONS,
    OPEN_STATUSES,
    IllegalTransition,
    TicketStatus,
    check_transition,
)

S = TicketStatus

EXPECTED_ALLOWED = {
    (S.DRAFT, S.CONFIRMED),
    (S.DRAFT, S.REJECTED),
    (S.DRAFT, S.DUPLICATE),
    (S.CONFIRMED, S.ROUTED),
    (S.CONFIRMED, S.RESOLVED),
    (S.CONFIRMED, S.DUPLICATE),
    (S.ROUTED, S.IN_PROGRESS),
    (S.ROUTED, S.RESOLVED),
    (S.ROUTED, S.DUPLICATE),
    (S.ROUTED, S.ROUTED),
    (S.IN_PROGRESS, S.RESOLVED),
    (S.IN_PROGRESS, S.DUPLICATE),
    (S.RESOLVED, S.CLOSED),
    (S.RESOLVED, S.REOPENED),
    (S.CLOSED, S.REOPENED),
    (S.REOPENED, S.ROUTED),
    (S.REOPENED, S.IN_PROGRESS),
    (S.REOPENED, S.RESOLVED),
    (S.REOPENED, S.DUPLICATE),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(S, S)))
def test_transition_table(current: TicketStatus, target: TicketStatus) -> None:
    if (current, target) in EXPECTED_ALLOWED:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition):
            check_transition(current, target)


def test_every_open_status_can_become_a_duplicate() -> None:
    for status in OPEN_STATUSES:
        assert S.DUPLICATE in ALLOWED_TRANSITIONS[status]


def test_final_statuses_have_no_way_out() -> None:
    assert ALLOWED_TRANSITIONS[S.REJECTED] == frozenset()
    assert ALLOWED_TRANSITIONS[S.DUPLICATE] == frozenset()


def test_message_lists_what_is_allowed() -> None:
    with pytest.raises(IllegalTransition) as error:
        check_transition(S.CLOSED, S.DRAFT)
    assert str(error.value) == "cannot go from closed to draft; allowed: reopened"
