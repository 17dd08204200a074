"""Result calls over real SIP: the node dials ``tel:<number>``, Kamailio sends it to the trunk
(HOTLINE_SIP_TRUNK) and SIPp, as the trunk, answers as the citizen: rates 4 (RFC 2833), presses
0, hangs up during the announcement, is an answering machine, is busy (486), never answers (the
next attempt waits for the allowed time).

One Kamailio, one node (registered with digest) and one database for the module; each test
starts one SIPp as the trunk on the same port.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from config.citizen_settings import CitizenSettings
from config.sections import KamailioOptions
from config.settings import Settings
from ivr.channel import CallChannel
from ivr.kamailio import EmbeddedKamailio, IvrNode
from ivr.result_dialler import ResultDialler
from tests.ivr.fakes import fake_prompts
from tests.ivr.sip.sipkit import free_udp_port, running_node, sipp
from tests.ivr.sip.test_kamailio import with_accounts
from ticketing.container import Services, build_services, sync_agencies
from ticketing.embedded_redis import EmbeddedRedis
from ticketing.result_calls import ResultCalls

from .helpers import bangkok, resolved_ticket

pytestmark = pytest.mark.slow

SCENARIOS = Path(__file__).parent / "scenarios"
IVR_SCENARIOS = Path(__file__).parents[1] / "ivr" / "sip" / "scenarios"
MORNING = bangkok("2026-12-03 10:00")
NODE_PASSWORD = "node-ivr1-pw"


class Clock:
    def __init__(self) -> None:
        self.now = MORNING

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, redis_server: EmbeddedRedis
) -> Iterator[tuple[Services, ResultDialler, int, Clock]]:
    from ivr.prompts.manifest import load_manifest, manifest_path

    tmp = tmp_path_factory.mktemp("sipp-results")
    trunk, node_port = free_udp_port(), free_udp_port()
    settings = Settings(
        data_dir=tmp / "data",
        redis_url=redis_server.url,
        secret_key="test",
        kamailio=KamailioOptions(trunk=("127.0.0.1", trunk)),
        citizen=CitizenSettings(ring_timeout=2.0),
    )
    settings = with_accounts(settings, ivr1=NODE_PASSWORD)
    services = build_services(settings, start_relay=False)
    sync_agencies(services.sessions, services.catalog)

    def refuse(channel: CallChannel) -> None:
        channel.hangup()

    clock = Clock()
    listen = ("127.0.0.1", free_udp_port())
    nodes = [IvrNode("ivr1", "127.0.0.1", node_port)]
    with (
        EmbeddedKamailio(settings, listen=listen, nodes=nodes, ping_interval=1) as kamailio,
        running_node(
            refuse,
            sip_port=node_port,
            user="ivr1",
            registrar=kamailio.registrar,
            password=NODE_PASSWORD,
        ) as node,
    ):
        assert node.node.registered.wait(15), "digest REGISTER to Kamailio failed"
        prompts = fake_prompts(load_manifest(manifest_path(None)), seconds=0.05)
        calls = ResultCalls(services.sessions, services.catalog, settings.citizen)
        dialler = ResultDialler(calls, node.node, prompts, "ivr1", clock=clock)
        yield services, dialler, trunk, clock
    services.close()


def _trunk(scenario: str, port: int) -> subprocess.Popen[str]:
    path = SCENARIOS / scenario if (SCENARIOS / scenario).exists() else IVR_SCENARIOS / scenario
    proc = sipp(str(path), ("127.0.0.1", 5060), extra=("-p", str(port)), background=True)
    assert isinstance(proc, subprocess.Popen)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # SIPp gives no readiness signal but its bound port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                return proc
        time.sleep(0.05)
    raise AssertionError("SIPp did not start")


def _attempt(
    world: tuple[Services, ResultDialler, int, Clock], scenario: str, ref: str
) -> list[dict[str, object]]:
    services, dialler, trunk, clock = world
    phone = _trunk(scenario, trunk)
    assert dialler.run_once(clock()) == 1
    out, _ = phone.communicate(timeout=60)
    deadline = time.monotonic() + 20
    while dialler.active and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dialler.active == 0
    assert phone.returncode == 0, out[-2000:]
    return list(services.tickets.detail(ref)["result_calls"])


def _fresh(world: tuple[Services, ResultDialler, int, Clock]) -> str:
    services, _dialler, _trunk, clock = world
    clock.now = MORNING
    for row in services.result_calls.claim_due("sweep", limit=50, now=MORNING):  # none left
        services.result_calls.finish(row, "answered", now=MORNING)
    return resolved_ticket(services)


def test_the_citizen_rates_4(world: tuple[Services, ResultDialler, int, Clock]) -> None:
    ref = _fresh(world)
    [attempt] = _attempt(world, "citizen_rates_4.xml", ref)
    assert (attempt["outcome"], attempt["rating"]) == ("rated", 4)
    assert world[0].tickets.detail(ref)["rating"] == 4


def test_the_citizen_presses_0_for_an_officer(
    world: tuple[Services, ResultDialler, int, Clock],
) -> None:
    ref = _fresh(world)
    [attempt] = _attempt(world, "citizen_presses_0.xml", ref)
    assert (attempt["outcome"], attempt["rating"]) == ("wants_officer", None)


def test_the_citizen_hangs_up_during_the_announcement(
    world: tuple[Services, ResultDialler, int, Clock],
) -> None:
    ref = _fresh(world)
    [attempt] = _attempt(world, "citizen_hangs_up.xml", ref)
    assert (attempt["outcome"], attempt["rating"]) == ("answered", None)


def test_an_answering_machine_gets_a_message(
    world: tuple[Services, ResultDialler, int, Clock],
) -> None:
    ref = _fresh(world)
    [attempt] = _attempt(world, "citizen_machine.xml", ref)
    assert attempt["outcome"] == "message_left"


def test_busy_then_no_answer_then_the_next_attempt_waits_for_the_allowed_time(
    world: tuple[Services, ResultDialler, int, Clock],
) -> None:
    services, dialler, _trunk, clock = world
    ref = _fresh(world)
    clock.now = bangkok("2026-12-03 16:00")
    assert [a["outcome"] for a in _attempt(world, "agent_busy.xml", ref)] == ["busy"]
    assert dialler.run_once(clock.now + timedelta(hours=1)) == 0  # 2 h apart
    clock.now = bangkok("2026-12-03 18:00")
    outcomes = [a["outcome"] for a in _attempt(world, "agent_no_answer.xml", ref)]
    assert outcomes == ["busy", "no_answer"]
    # 20:00 is past the call hours: the third attempt is tomorrow at 08:00 Bangkok.
    [state] = services.result_calls.state_of(ref)
    assert state["next_attempt_at"] == "2026-12-04T01:00:00+00:00"
    assert dialler.run_once(bangkok("2026-12-03 21:00")) == 0
    clock.now = bangkok("2026-12-04 08:00")
    outcomes = [a["outcome"] for a in _attempt(world, "citizen_rates_4.xml", ref)]
    assert outcomes == ["busy", "no_answer", "rated"]
