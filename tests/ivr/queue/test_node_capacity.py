"""``NodeDialler``'s outbound capacity (the real class on a stand-in node: its lock, its count of
outbound legs, its options) and the refusals on the IVR's /metrics."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

from ivr.metrics import IvrCollector
from ivr.outbound import DialOutcome, capacity_of
from ivr.sip.outbound_node import NodeDialler
from tests.ivr.sip.sipkit import running_node
from tests.ivr.sip.test_outbound_calls import SilentProxy


class _NoMedia:
    late_ticks = 0

    def send_stats(self, timeout: float = 0.5) -> Any:
        raise RuntimeError("no media process in this test")


def stand_in_node(limit: int) -> Any:
    node = SimpleNamespace(
        _lock=threading.RLock(),
        agent=SimpleNamespace(outbound_active=0),
        options=SimpleNamespace(max_outbound=limit, outbound_proxy=("127.0.0.1", 5060)),
        settings=SimpleNamespace(sip_registrar=None),
        ready=threading.Event(),
        _clock=time.monotonic,
        active_calls=0, answered_total=0, rejected_busy=0, acks_received=0, media=_NoMedia(),
    )  # fmt: skip
    node.ready.set()
    node.dialler = NodeDialler(node)  # type: ignore[arg-type]
    return node


def in_thread(work: Any) -> Any:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(work()))
    thread.start()
    thread.join(5)
    return box[0]


def test_a_reservation_counts_against_the_limit_and_refusals_once_per_episode() -> None:
    node = stand_in_node(limit=1)
    dialler: NodeDialler = node.dialler
    assert capacity_of(node) is dialler  # the queue finds it through the node
    assert dialler.reserve_outbound() and dialler.reserve_outbound()  # the same thread: one
    assert not dialler.outbound_free()
    assert in_thread(lambda: dialler.reserve_outbound()) is False  # another caller: refused
    assert in_thread(lambda: dialler.reserve_outbound(count_refusal=False)) is False
    assert dialler.refused_over_limit == 1
    refused = in_thread(lambda: dialler.dial("agent:bob", caller_id="1567", ring_timeout=1))
    assert refused.outcome is DialOutcome.FAILED and refused.channel is None  # not sent
    assert dialler.refused_over_limit == 2
    dialler.release_outbound()
    assert dialler.outbound_free() and in_thread(lambda: dialler.reserve_outbound())
    node.agent.outbound_active = 1  # a leg up (the reservation above went with its thread)
    assert not in_thread(lambda: dialler.reserve_outbound(count_refusal=False))


def test_a_waiting_dispatcher_wakes_when_the_reservation_is_given_back() -> None:
    node = stand_in_node(limit=1)
    dialler: NodeDialler = node.dialler
    assert dialler.reserve_outbound()
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(dialler.wait_for_capacity(30)))
    waiter.start()
    deadline = time.monotonic() + 5
    while not dialler._freed._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
        waiter.join(0.01)  # until it is really waiting on the condition
    dialler.release_outbound()
    waiter.join(5)
    assert woke == [True]  # woken by the release (it would wait 30 s, the join only 5)


def test_refusals_for_the_limit_are_on_the_metrics() -> None:
    node = stand_in_node(limit=1)
    node.dialler.refused_over_limit = 3
    collector = IvrCollector()
    collector.watch(node, 10)
    [family] = [f for f in collector.collect() if f.name == "hotline_ivr_outbound_refused"]
    [sample] = [s for s in family.samples if s.name.endswith("_total")]
    assert (sample.labels, sample.value) == ({"reason": "limit"}, 3)


def test_the_sip_node_wakes_a_waiter_when_its_outbound_leg_ends() -> None:
    """The real node (a UDP socket standing in for Kamailio): at the limit of 1 a reservation is
    refused while a dial rings; cancelling that dial frees the leg and wakes the waiter."""
    proxy = SilentProxy()
    extra = {
        "HOTLINE_SIP_OUTBOUND_PROXY": f"127.0.0.1:{proxy.address[1]}",
        "HOTLINE_IVR_MAX_OUTBOUND": "1",
    }
    cancel = threading.Event()
    try:
        with running_node(lambda channel: None, extra=extra) as running:
            node = running.node
            capacity = capacity_of(node)
            assert capacity is node.dialler
            ringing = threading.Thread(
                target=lambda: node.dial(
                    "tel:0812345678", caller_id="1567", ring_timeout=30, cancel=cancel
                )
            )
            ringing.start()
            deadline = time.monotonic() + 10
            while proxy.methods != ["INVITE"] and time.monotonic() < deadline:
                ringing.join(0.02)
            assert not capacity.reserve_outbound() and not capacity.outbound_free()
            woke: list[bool] = []
            waiter = threading.Thread(target=lambda: woke.append(capacity.wait_for_capacity(30)))
            waiter.start()
            while not node.dialler._freed._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
                waiter.join(0.01)
            cancel.set()
            waiter.join(10)
            ringing.join(10)
            assert woke == [True] and capacity.outbound_free()
            collector = IvrCollector()
            collector.watch(node, 1)
            [family] = [f for f in collector.collect() if f.name == "hotline_ivr_outbound_refused"]
            assert [s.value for s in family.samples if s.name.endswith("_total")] == [1]
            running.wait_idle()
    finally:
        proxy.close()
