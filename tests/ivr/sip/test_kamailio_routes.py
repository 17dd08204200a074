"""Kamailio's outbound routes with a real node: agents' phones by registration, numbers to the
trunk, nothing of either for outside sources; registrations readable by ticketing.

One Kamailio and one IVR node (registered with digest) for the module. SIPp plays the agent's
phone (digest REGISTER, then answers), the trunk (a UAS behind HOTLINE_SIP_TRUNK), the caller
of 1567 and an outside source on 127.0.0.2 trying to reach the trunk or an agent.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.sections import KamailioOptions
from config.settings import Settings
from ivr.channel import CallChannel
from ivr.kamailio import EmbeddedKamailio, IvrNode
from ivr.outbound import DialOutcome, DialResult
from ivr.sip import g711
from ticketing.db import make_engine, make_sessionmaker
from ticketing.sip_registrations import SipRegistrations

from .sipkit import (
    Node,
    RtpSink,
    free_udp_port,
    relayed_fidelity,
    running_node,
    sipp,
    speech_pcm16,
)
from .test_kamailio import with_accounts

pytestmark = pytest.mark.slow

AGENT_PASSWORD = "agent-alice-pw"
NODE_PASSWORD = "node-ivr1-pw"


@dataclass
class System:
    kamailio: EmbeddedKamailio
    node: Node
    settings: Settings
    trunk_port: int
    flow: list[Callable[[CallChannel], None]] = field(default_factory=list)

    @property
    def listen(self) -> tuple[str, int]:
        return self.kamailio.registrar


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tmp: Path = tmp_path_factory.mktemp("kamailio-routes")
    trunk_port = free_udp_port()
    node_port = free_udp_port()
    base = Settings(data_dir=tmp, kamailio=KamailioOptions(trunk=("127.0.0.1", trunk_port)))
    settings = with_accounts(base, ivr1=NODE_PASSWORD, alice=AGENT_PASSWORD, bob="agent-bob-pw")
    listen = ("127.0.0.1", free_udp_port())
    nodes = [IvrNode("ivr1", "127.0.0.1", node_port)]
    flows: list[Callable[[CallChannel], None]] = []

    def on_call(channel: CallChannel) -> None:
        flows[-1](channel)

    with (
        EmbeddedKamailio(settings, listen=listen, nodes=nodes, ping_interval=1) as kamailio,
        running_node(
            on_call,
            sip_port=node_port,
            user="ivr1",
            registrar=kamailio.registrar,
            password=NODE_PASSWORD,
        ) as node,
    ):
        assert node.node.registered.wait(15), "digest REGISTER to Kamailio failed"
        yield System(kamailio, node, settings, trunk_port, flows)


def wait_for(predicate: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def wait_bound(port: int) -> None:
    def taken() -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return True
            return False

    wait_for(taken)


def register_agent(system: System, user: str, password: str) -> int:
    port = free_udp_port()
    result = sipp(
        "agent_register.xml",
        system.listen,
        service=user,
        extra=("-p", str(port), "-au", user, "-ap", password),
        timeout=10,
    )
    assert result.returncode == 0, result.output + result.errors  # type: ignore[union-attr]
    return port


def registrations(system: System) -> dict[str, datetime]:
    engine = make_engine(system.settings.effective_database_url)
    try:
        return SipRegistrations(make_sessionmaker(engine)).registered_users(datetime.now(UTC))
    finally:
        engine.dispose()


def dial_from_node(system: System, target: str, ring_timeout: float = 5.0) -> DialResult:
    """A dial straight from the node (as the citizen loop's result calls do), leg hung up."""
    result = system.node.node.dial(target, caller_id="1567", ring_timeout=ring_timeout)
    if result.channel is not None:
        result.channel.hangup()
    return result


def test_agent_registers_with_digest_and_ticketing_sees_it(system: System) -> None:
    register_agent(system, "alice", AGENT_PASSWORD)
    # on SQLite usrloc writes registrations back on its timer (5 s)
    wait_for(lambda: {"alice", "ivr1"} <= set(registrations(system)), timeout=20)
    found = registrations(system)
    assert timedelta(minutes=4) < found["alice"] - datetime.now(UTC) <= timedelta(minutes=5)
    assert "bob" not in found  # an account, but no phone registered
    assert "ivr1" in found  # the node registers too


def test_caller_bridged_to_a_registered_agent_through_kamailio(system: System) -> None:
    port = register_agent(system, "alice", AGENT_PASSWORD)
    records: list[dict[str, object]] = []
    done = threading.Event()

    def flow(channel: CallChannel) -> None:
        record: dict[str, object] = {}
        records.append(record)
        try:
            result = system.node.node.dial("agent:alice", caller_id="1567", ring_timeout=5.0)
            record["result"] = result
            if result.channel is None:
                return
            bridge = system.node.node.bridge(channel, result.channel)
            ended = bridge.wait(30)
            record["ended"] = ended
            (result.channel if ended == "a" else channel).hangup()
        finally:
            channel.hangup()
            done.set()

    system.flow.append(flow)
    caller_sink, agent_sink = RtpSink(), RtpSink()
    try:
        phone = sipp(
            "agent_answer.xml",
            system.listen,
            sink=agent_sink.address,
            extra=("-p", str(port)),
            background=True,
        )
        wait_bound(port)
        caller = sipp("uac.xml", system.listen, hold_ms=4000, sink=caller_sink.address)
        out, _ = phone.communicate(timeout=30)  # type: ignore[union-attr]
        assert phone.returncode == 0, out[-2000:]  # type: ignore[union-attr]
        assert caller.returncode == 0, caller.output + caller.errors  # type: ignore[union-attr]
        assert done.wait(10)
        system.node.wait_idle()
    finally:
        caller_sink.close()
        agent_sink.close()
    (record,) = records
    result = record["result"]
    assert isinstance(result, DialResult) and result.outcome is DialOutcome.ANSWERED
    assert record["ended"] == "a"
    # Each side's speech reached the other, re-packetised: relayed_fidelity is the share of 200 ms
    # blocks that are bit-exact copies of the speech (noise or a tone score 0; on a loaded machine
    # the relay's jitter queue drops or pads a frame now and then, which spoils that block only).
    speech = speech_pcm16()
    to_agent = agent_sink.voice(g711.PCMA)
    assert relayed_fidelity(to_agent, speech) > 0.5
    assert relayed_fidelity(caller_sink.voice(g711.PCMU), speech) > 0.5


def test_unregistered_and_unknown_users_are_unreachable(system: System) -> None:
    bob = dial_from_node(system, "agent:bob")  # an account without a registered phone
    assert (bob.outcome, bob.status) == (DialOutcome.UNREACHABLE, 480)
    nobody = dial_from_node(system, "agent:nobody")
    assert (nobody.outcome, nobody.status) == (DialOutcome.UNREACHABLE, 404)
    system.node.wait_idle()


def test_a_number_goes_to_the_trunk(system: System) -> None:
    sink = RtpSink()
    try:
        trunk = sipp(
            "agent_answer.xml",
            system.listen,
            sink=sink.address,
            extra=("-p", str(system.trunk_port)),
            background=True,
        )
        wait_bound(system.trunk_port)
        result = dial_from_node(system, "tel:0812345678")
        out, _ = trunk.communicate(timeout=20)  # type: ignore[union-attr]
        assert trunk.returncode == 0, out[-2000:]  # type: ignore[union-attr]
    finally:
        sink.close()
    assert (result.outcome, result.status) == (DialOutcome.ANSWERED, 200)
    system.node.wait_idle()


@pytest.mark.parametrize("target", ["0812345678", "alice"])
def test_an_outside_source_reaches_neither_the_trunk_nor_an_agent(system: System, target: str):
    result = sipp(
        "uac_refused.xml",
        system.listen,
        service=target,
        extra=("-i", "127.0.0.2"),
        timeout=10,
    )
    assert result.returncode == 0, result.output + result.errors  # type: ignore[union-attr]
