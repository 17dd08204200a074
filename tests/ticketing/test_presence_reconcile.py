"""The reconciler un-sticks agents (issue 13): a call that ended without the agent's BYE, a node
that died with the agent ringing, an expired phone registration; a live call is left alone.
Real Redis (the presence store) and SQLite (calls, state history)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from ticketing.container import Services
from ticketing.models import AgentStateChange, Call, SipLocation
from ticketing.presence import AgentState
from ticketing.presence_reconcile import PresenceReconciler


def _on_call(services: Services, agent: str, call_id: str) -> None:
    services.calls.start_call(call_id, caller_number="0812345678", node="n1")
    services.call_queue.queued(call_id, priority="normal", reference=None)
    services.presence.request_state(agent, "agent", AgentState.AVAILABLE)
    services.presence.ring(agent, call_id)
    services.call_queue.bridged(call_id, agent)
    services.presence.answer(agent)


def _whys(services: Services, agent: str) -> list[str]:
    with services.sessions() as session:
        return list(
            session.scalars(
                select(AgentStateChange.why)
                .where(AgentStateChange.username == agent)
                .order_by(AgentStateChange.id)
            )
        )


def test_a_lost_bye_and_a_dead_ring_are_corrected(services: Services) -> None:
    _on_call(services, "somchai", "c1")
    _on_call(services, "malee", "c2")
    reconciler = PresenceReconciler(services.presence, services.sessions)
    assert reconciler.run() == 0  # both calls are up: nothing to do
    services.calls.end_call("c1", "bye", abandoned=False)  # the node never told presence
    assert reconciler.run() == 1
    assert services.presence.store.get("somchai").state is AgentState.WRAP_UP
    assert services.presence.store.get("malee").state is AgentState.ON_CALL
    assert _whys(services, "somchai")[-1].startswith("reconciled:")

    # ringing for a call whose node died: the call never ends, the ring is long over
    services.calls.start_call("c3", node="n2")
    services.presence.request_state("lek", "agent", AgentState.AVAILABLE)
    services.presence.ring("lek", "c3")
    later = datetime.now(UTC) + timedelta(seconds=60)
    late = PresenceReconciler(services.presence, services.sessions, clock=lambda: later)
    assert late.run() == 1
    assert services.presence.store.get("lek").state is AgentState.AVAILABLE
    assert _whys(services, "lek")[-1] == "reconciled: the offered call is gone"


def test_a_call_taken_by_another_agent_or_stale(services: Services) -> None:
    _on_call(services, "somchai", "c1")
    with services.sessions.begin() as session:
        session.execute(update(Call).where(Call.id == "c1").values(agent_username="malee"))
    PresenceReconciler(services.presence, services.sessions).run()
    assert services.presence.store.get("somchai").state is AgentState.WRAP_UP
    _on_call(services, "lek", "c2")
    with services.sessions.begin() as session:  # three hours old and never ended: a dead node
        old = datetime.now(UTC) - timedelta(hours=3)
        session.execute(update(Call).where(Call.id == "c2").values(started_at=old))
    assert PresenceReconciler(services.presence, services.sessions).run() == 1
    assert services.presence.store.get("lek").state is AgentState.WRAP_UP


def test_no_registered_phone_means_offline_once_the_call_is_over(services: Services) -> None:
    services.presence.request_state("somchai", "agent", AgentState.AVAILABLE)
    _on_call(services, "malee", "c1")
    registered: set[str] = set()
    reconciler = PresenceReconciler(
        services.presence, services.sessions, registered_users=lambda: registered
    )
    assert reconciler.run() == 1  # somchai; malee's call goes on first
    assert services.presence.store.get("somchai").state is AgentState.OFFLINE
    assert services.presence.store.get("malee").state is AgentState.ON_CALL
    assert _whys(services, "somchai")[-1] == "reconciled: phone registration expired"
    registered.add("malee")
    services.calls.end_call("c1", "bye", abandoned=False)
    reconciler.run()
    assert services.presence.store.get("malee").state is AgentState.WRAP_UP
    # unknown registrations (no source): nobody is made offline on a guess
    services.presence.request_state("somchai", "agent", AgentState.AVAILABLE)
    assert PresenceReconciler(services.presence, services.sessions).run() == 0


def test_the_scheduler_runs_the_reconciler_each_quick_pass(services: Services) -> None:
    """With Kamailio's location table as the registration source (what the scheduler uses)."""
    from ticketing.scheduler_cli import scheduler_quick_jobs

    _on_call(services, "somchai", "c1")
    services.presence.request_state("malee", "agent", AgentState.AVAILABLE)
    with services.sessions.begin() as session:  # somchai's phone is registered, malee's is not
        later = datetime.now(UTC) + timedelta(minutes=10)
        session.add(SipLocation(username="somchai", contact="sip:somchai@127.0.0.9", expires=later))
    services.calls.end_call("c1", "bye", abandoned=False)
    settings = replace(
        services.settings, queue=replace(services.settings.queue, registration_grace_seconds=0)
    )
    jobs = dict(scheduler_quick_jobs(settings, services))
    assert jobs["presence-reconcile"](lambda session: None) == 2
    assert services.presence.store.get("somchai").state is AgentState.WRAP_UP
    assert services.presence.store.get("malee").state is AgentState.OFFLINE


def test_an_unreadable_registration_source_judges_no_one(services: Services) -> None:
    services.presence.request_state("somchai", "agent", AgentState.AVAILABLE)

    def broken() -> set[str]:
        raise RuntimeError("database hiccup")

    reconciler = PresenceReconciler(services.presence, services.sessions, registered_users=broken)
    assert reconciler.run() == 0
    assert services.presence.store.get("somchai").state is AgentState.AVAILABLE


def test_a_fresh_registration_not_yet_in_the_table_is_given_the_grace(services: Services) -> None:
    """usrloc writes REGISTERs back on a timer (SQLite): an agent who just went available is not
    made offline before the grace; one whose state is older than it is."""
    services.presence.request_state("somchai", "agent", AgentState.AVAILABLE)
    now = datetime.now(UTC)
    clock = [now + timedelta(seconds=5)]
    reconciler = PresenceReconciler(
        services.presence,
        services.sessions,
        registered_users=set,
        registration_grace_seconds=60,
        clock=lambda: clock[0],
    )
    assert reconciler.run() == 0
    assert services.presence.store.get("somchai").state is AgentState.AVAILABLE
    clock[0] = now + timedelta(seconds=61)
    assert reconciler.run() == 1
    assert services.presence.store.get("somchai").state is AgentState.OFFLINE
    assert _whys(services, "somchai")[-1] == "reconciled: phone registration expired"
    # the scheduler's reconciler has the grace from the settings (default 60 s)
    assert services.settings.queue.registration_grace_seconds == 60
