"""The live presence store on a real redis-server, and the service's history, events, gauge."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import redis
from prometheus_client import REGISTRY

from config.agent_states import load_agent_states
from ticketing.container import Services
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.errors import ServiceUnavailable
from ticketing.presence import AgentPresence, AgentState, Presence, PresenceError
from ticketing.presence_store import INDEX_KEY, PresenceStore, agent_key, from_fields, to_fields

S = AgentState
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(redis_url: str) -> PresenceStore:
    return PresenceStore(redis.Redis.from_url(redis_url), load_agent_states())


def test_keys_share_one_cluster_slot() -> None:
    from redis.crc import key_slot

    assert key_slot(agent_key("somchai").encode()) == key_slot(INDEX_KEY.encode())
    assert key_slot(agent_key("a").encode()) == key_slot(agent_key("zz-other").encode())


def test_fields_round_trip() -> None:
    p = Presence("somchai", S.WRAP_UP, T0, None, "call-9", T0, T0 + timedelta(seconds=30))
    assert from_fields("somchai", {k.encode(): v.encode() for k, v in to_fields(p).items()}) == p
    assert from_fields("nobody", {}) == Presence("nobody")


def test_an_unknown_agent_is_offline_and_changes_are_stored(store: PresenceStore) -> None:
    assert store.get("somchai").state is S.OFFLINE
    presence, changes = store.apply("somchai", lambda m: m.request(S.AVAILABLE, T0))
    assert presence.state is S.AVAILABLE and len(changes) == 1
    assert store.get("somchai") == presence
    store.apply("somchai", lambda m: m.ring("call-1", T0))
    assert [p.username for p in store.all()] == ["somchai"]
    assert store.counts()["ringing"] == 1 and store.counts()["available"] == 0


def test_a_refused_event_stores_nothing(store: PresenceStore) -> None:
    store.apply("somchai", lambda m: m.request(S.AVAILABLE, T0))
    with pytest.raises(PresenceError):
        store.apply("somchai", lambda m: m.hang_up(T0))
    assert store.get("somchai").state is S.AVAILABLE


def test_two_nodes_ringing_one_agent_at_once_only_one_wins(redis_url: str) -> None:
    stores = [PresenceStore(redis.Redis.from_url(redis_url), load_agent_states()) for _ in "ab"]
    stores[0].apply("somchai", lambda m: m.request(S.AVAILABLE, T0))
    results: list[str] = []
    barrier = threading.Barrier(len(stores))

    def offer(store: PresenceStore, call: str) -> None:
        first = [True]

        def event(machine: AgentPresence) -> None:
            if first[0]:  # both read "available" before either writes
                first[0] = False
                barrier.wait(timeout=10)
            machine.ring(call, T0)

        try:
            store.apply("somchai", event)
            results.append(f"rang {call}")
        except PresenceError:
            results.append(f"refused {call}")

    threads = [threading.Thread(target=offer, args=(s, f"c{i}")) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert sorted(r.split()[0] for r in results) == ["rang", "refused"]
    winner = next(r.split()[1] for r in results if r.startswith("rang"))
    assert stores[1].get("somchai").call_id == winner


def test_redis_down_is_the_projects_error(
    store: PresenceStore, redis_server: EmbeddedRedis
) -> None:
    redis_server.stop()
    try:
        with pytest.raises(ServiceUnavailable, match="agent presence unavailable"):
            store.get("somchai")
        with pytest.raises(ServiceUnavailable):
            store.apply("somchai", lambda m: m.request(S.AVAILABLE, T0))
    finally:
        redis_server.start()


def _gauge(state: str) -> float | None:
    return REGISTRY.get_sample_value("hotline_agents", {"state": state})


def test_service_records_history_events_and_gauge(services: Services) -> None:
    services.users.add_user("somchai", "password-1234", "agent", display_name="สมชาย")
    services.users.add_user("malee", "password-1234", "agent")
    services.users.add_user("boss", "password-1234", "supervisor")
    services.bus.ensure_group("test", start="0")
    presence = services.presence
    presence.request_state("somchai", "agent", S.AVAILABLE)
    presence.ring("somchai", "call-1")
    presence.no_answer("somchai")
    assert presence.store.get("somchai").reason == "no_answer"
    assert _gauge("break") == 1 and _gauge("available") == 0

    listed = {a["username"]: a for a in presence.list_agents()}
    assert set(listed) == {"somchai", "malee"}  # supervisors have no presence
    assert listed["somchai"]["state"] == "break" and listed["somchai"]["display_name"] == "สมชาย"
    assert listed["malee"]["state"] == "offline" and listed["malee"]["since"] is None

    history = presence.history("somchai")
    assert [(h["previous"], h["state"]) for h in history] == [
        ("ringing", "break"),
        ("available", "ringing"),
        ("offline", "available"),
    ]
    assert history[0]["reason"] == "no_answer" and history[1]["call_id"] == "call-1"

    services.relay.drain_once()
    events = [e for e in services.bus.read_group("test", "c", block_ms=100)]
    assert [(e.type, e.data["state"]) for e in events] == [
        ("agent.state", "available"),
        ("agent.state", "ringing"),
        ("agent.state", "break"),
    ]
    assert events[2].data["previous"] == "ringing" and events[2].data["reason"] == "no_answer"


def test_reconcile_and_wrap_up_through_the_service(services: Services) -> None:
    clock = [T0]
    presence = services.presence
    presence._clock = lambda: clock[0]  # a fake clock at the seam
    presence.request_state("somchai", "agent", S.AVAILABLE)
    presence.ring("somchai", "call-2")
    presence.answer("somchai")
    # the node crashed: no call exists any more, the phone is still registered
    assert presence.reconcile("somchai", registered=True, call_in_progress=False).state is S.WRAP_UP
    clock[0] = T0 + timedelta(seconds=29)
    assert presence.tick_all() == 0
    clock[0] = T0 + timedelta(seconds=30)
    assert presence.tick_all() == 1
    assert presence.store.get("somchai").state is S.AVAILABLE
    assert (
        presence.reconcile("somchai", registered=False, call_in_progress=False).state is S.OFFLINE
    )


def test_only_agents_have_a_presence(services: Services) -> None:
    from ticketing.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.presence.request_state("boss", "supervisor", S.AVAILABLE)


def test_reconcile_all_against_registrations_and_calls(services: Services) -> None:
    presence = services.presence
    for name in ("a", "b", "c", "d"):
        presence.request_state(name, "agent", S.AVAILABLE)
    presence.ring("b", "call-b")
    presence.ring("c", "call-c")
    presence.answer("c")
    # a: registered, idle; b: rang on a node that died; c: talking; d: phone's registration gone
    assert presence.reconcile_all(registered={"a", "b", "c"}, in_call={"c"}) == 2
    states = {p.username: p.state for p in presence.store.all()}
    assert states == {"a": S.AVAILABLE, "b": S.AVAILABLE, "c": S.ON_CALL, "d": S.OFFLINE}


def test_the_scheduler_ends_overdue_wrap_ups(services: Services) -> None:
    from ticketing.scheduler_cli import scheduler_quick_jobs

    presence = services.presence
    presence.request_state("somchai", "agent", S.AVAILABLE)
    presence.ring("somchai", "call-3")
    presence.answer("somchai")
    presence.hang_up("somchai")
    jobs = dict(scheduler_quick_jobs(services.settings, services))
    jobs["wrap-up"](lambda session: None)
    assert presence.store.get("somchai").state is S.WRAP_UP  # 30 s not over yet
    presence._clock = lambda: datetime.now(UTC) + timedelta(seconds=31)
    jobs["wrap-up"](lambda session: None)
    assert presence.store.get("somchai").state is S.AVAILABLE


def test_a_history_write_that_fails_leaves_the_live_step_done(
    store: PresenceStore, caplog: pytest.LogCaptureFixture
) -> None:
    """The database timing out (SQLite's pool at 300 calls in bench/queue_load.py) must not
    make ``ring`` raise after the agent became ringing: the dispatcher would die with it."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    from ticketing.agents import AgentPresenceService

    class NoDatabase:
        def begin(self) -> None:
            raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    service = AgentPresenceService(store, NoDatabase())  # type: ignore[arg-type]
    service.apply("somchai", lambda m: m.request(S.AVAILABLE, T0))
    assert service.ring("somchai", "call-1").state is S.RINGING
    assert store.get("somchai").state is S.RINGING
    assert service.ring_cancelled("somchai").state is S.AVAILABLE
    assert "state ringing not written to the history: TimeoutError" in caplog.text
