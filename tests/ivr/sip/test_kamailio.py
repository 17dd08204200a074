"""Real Kamailio in front of real IVR nodes, SIPp as the caller of 1567."""

from __future__ import annotations

import collections
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from config.settings import Settings, SettingsError
from ivr.channel import CallChannel, CallEnded
from ivr.kamailio import (
    EmbeddedKamailio,
    IvrNode,
    dispatcher_list,
    options_ping,
    parse_nodes,
    render_config,
)
from ticketing.db import make_engine, make_sessionmaker, upgrade_schema
from ticketing.sip_accounts import SipAccountService

from .sipkit import (
    Node,
    SippResult,
    best_correlation,
    free_udp_port,
    running_node,
    sipp,
    speech_pcm16,
    tone,
)


def with_accounts(settings: Settings, **passwords: str) -> Settings:
    """Migrate the settings' database and give each SIP user its password (auth_db reads it)."""
    url = settings.effective_database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_schema(url)
    engine = make_engine(url)
    accounts = SipAccountService(make_sessionmaker(engine))
    for user, password in passwords.items():
        accounts.set_password(user, password)
    engine.dispose()
    return settings


def test_parse_nodes_and_dispatcher_list():
    nodes = parse_nodes("ivr1@127.0.0.1:5062, 10.0.0.6:5070")
    assert nodes == [IvrNode("ivr1", "127.0.0.1", 5062), IvrNode("ivr2", "10.0.0.6", 5070)]
    assert dispatcher_list(nodes, 150).splitlines()[1:] == [
        "1 sip:127.0.0.1:5062 0 0 duid=ivr1;maxload=150",
        "1 sip:10.0.0.6:5070 0 0 duid=ivr2;maxload=150",
    ]
    with pytest.raises(SettingsError, match="expected \\[user@\\]host:port"):
        parse_nodes("ivr1@nohost")


def test_listen_setting_is_checked():
    with pytest.raises(SettingsError, match="HOTLINE_KAMAILIO_LISTEN='5060': expected host:port"):
        Settings.from_env({"HOTLINE_KAMAILIO_LISTEN": "5060"}, env_file=None)


def test_render_refuses_quotes_and_unfilled_placeholders():
    with pytest.raises(SettingsError, match="TRUSTED may not contain quotes"):
        render_config("x @@TRUSTED@@", {"TRUSTED": 'a"b'})
    with pytest.raises(RuntimeError, match="unfilled placeholder"):
        render_config("x @@PORT@@ @@HOST@@", {"PORT": "1"})


@pytest.mark.slow
def test_embedded_kamailio_answers_options_and_stops(tmp_path):
    listen = ("127.0.0.1", free_udp_port())
    settings = with_accounts(
        Settings.from_env(
            {
                "HOTLINE_DATA_DIR": str(tmp_path),
                "HOTLINE_KAMAILIO_LISTEN": f"127.0.0.1:{listen[1]}",
            },
            env_file=None,
        )
    )
    with EmbeddedKamailio(settings) as kamailio:  # listen address from the environment
        assert kamailio.registrar == listen
        assert options_ping(*listen) == 200
        assert (tmp_path / "kamailio" / "kamailio.cfg").exists()
    assert options_ping(*listen, timeout=0.3) is None


def flow(records: list[dict[str, object]], node_name: str):
    def on_call(channel: CallChannel) -> None:
        record: dict[str, object] = {"node": node_name, "keys": [], "caller": channel.caller_number}
        records.append(record)
        channel.play(tone(1.0))
        audio = bytearray()
        try:
            while True:
                key = channel.next_dtmf(0.02)
                if key:
                    record["keys"].append(key)  # type: ignore[attr-defined]
                audio += channel.read_audio(0.02)
        except CallEnded:
            pass
        record["audio"] = bytes(audio)
        record["reason"] = channel.end_reason

    return on_call


@pytest.mark.slow
def test_call_through_kamailio_registers_with_digest_and_follows_record_route(tmp_path):
    records: list[dict[str, object]] = []
    node_port = free_udp_port()
    listen = ("127.0.0.1", free_udp_port())
    settings = with_accounts(Settings(data_dir=tmp_path), ivr1="s3cret-long")
    nodes = [IvrNode("ivr1", "127.0.0.1", node_port)]
    with (
        EmbeddedKamailio(settings, listen=listen, nodes=nodes, ping_interval=1) as kamailio,
        running_node(
            flow(records, "ivr1"),
            sip_port=node_port,
            user="ivr1",
            registrar=kamailio.registrar,
            password="s3cret-long",
        ) as node,
    ):
        assert node.node.registered.wait(5), "digest REGISTER to Kamailio failed"
        # The dispatcher routes to the node once an OPTIONS probe has marked it active.
        wait_for(lambda: options_ping(*listen, user="1567") == 200, 10)
        result = sipp("uac.xml", listen, hold_ms=3000)
        assert result.returncode == 0, result.output + result.errors
        node.wait_idle()
        assert node.node.acks_received == 1  # the caller's ACK came through the proxy
        # A UA that dropped Record-Route sends in-dialog requests without Route: Kamailio
        # relays them by Request-URI to the node instead of answering them itself.
        assert in_dialog_without_route(listen, node_port) == 200
    (call,) = records
    assert call["keys"] == ["1", "#"]
    assert call["reason"] == "bye"
    assert call["caller"] == "+66812345678"
    assert best_correlation(call["audio"], speech_pcm16()) > 0.95  # type: ignore[arg-type]


def in_dialog_without_route(proxy: tuple[str, int], node_port: int) -> int | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.settimeout(2)
        sock.sendto(
            (
                f"OPTIONS sip:ivr1@127.0.0.1:{node_port} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKnoroute;rport\r\n"
                "Max-Forwards: 70\r\n"
                "From: <sip:0812345678@127.0.0.1>;tag=caller\r\n"
                "To: <sip:1567@127.0.0.1>;tag=ivr\r\n"
                "Call-ID: in-dialog-no-route\r\n"
                "CSeq: 5 OPTIONS\r\n"
                "Content-Length: 0\r\n\r\n"
            ).encode(),
            proxy,
        )
        reply = sock.recv(65535)
    status = reply.split(b" ", 2)[1]
    return int(status) if status.isdigit() else None


@pytest.mark.slow
def test_two_nodes_share_calls_and_a_dead_node_is_skipped(tmp_path):
    records: list[dict[str, object]] = []
    ports = [free_udp_port(), free_udp_port()]
    listen = ("127.0.0.1", free_udp_port())
    # SIPp stands for a trunk here (20 calls from one address): trusted, so not limited per source.
    settings = with_accounts(
        Settings(data_dir=tmp_path, kamailio_trusted=("127.0.0.1/32",)),
        ivr1="ivr-password",
        ivr2="ivr-password",
    )
    nodes = [IvrNode(f"ivr{i + 1}", "127.0.0.1", port) for i, port in enumerate(ports)]
    with (
        EmbeddedKamailio(settings, listen=listen, nodes=nodes, ping_interval=1) as kamailio,
        running_node(
            flow(records, "ivr1"),
            sip_port=ports[0],
            user="ivr1",
            registrar=kamailio.registrar,
            password="ivr-password",
        ) as first,
    ):
        second_ctx = running_node(
            flow(records, "ivr2"),
            sip_port=ports[1],
            user="ivr2",
            registrar=kamailio.registrar,
            password="ivr-password",
        )
        second = second_ctx.__enter__()
        try:
            probed = [answered_a_dispatcher_probe(first), answered_a_dispatcher_probe(second)]
            assert first.node.registered.wait(5) and second.node.registered.wait(5)
            # Both active in the dispatcher: each has answered one of its OPTIONS probes.
            assert all(event.wait(10) for event in probed), "a node was never probed"
            result = sipp("uac.xml", listen, calls=20, rate=10, hold_ms=2000)
            assert result.returncode == 0, result.output + result.errors
            second.wait_idle()
        finally:
            second_ctx.__exit__(None, None, None)  # node 2 dies (socket closed)
        shared = collections.Counter(r["node"] for r in records)
        assert shared["ivr1"] + shared["ivr2"] == 20
        assert min(shared["ivr1"], shared["ivr2"]) >= 5, shared
        records.clear()
        # Right after the kill, before any probe notices: failover on timeout still
        # gets every call to the live node.
        result = sipp("uac.xml", listen, calls=6, rate=5, hold_ms=1000)
        assert result.returncode == 0, result.output + result.errors
        first.wait_idle()
    assert collections.Counter(r["node"] for r in records) == {"ivr1": 6}
    assert all(r["keys"] == ["1", "#"] for r in records)


@pytest.mark.slow
def test_wrong_password_never_stops_the_node(tmp_path):
    listen = ("127.0.0.1", free_udp_port())
    settings = with_accounts(Settings(data_dir=tmp_path), ivr1="right-password")
    node_port = free_udp_port()
    nodes = [IvrNode("ivr1", "127.0.0.1", node_port)]
    with (
        EmbeddedKamailio(settings, listen=listen, nodes=nodes, ping_interval=1) as kamailio,
        running_node(
            flow([], "ivr1"),
            sip_port=node_port,
            user="ivr1",
            registrar=kamailio.registrar,
            password="wrong",
        ) as node,
    ):
        assert not node.node.registered.wait(3)
        assert node.thread.is_alive()
        assert options_ping("127.0.0.1", node_port) == 200  # still serving


FLOOD = Path(__file__).parents[1] / "scenarios" / "uac_flood.xml"


def free_udp_port_on(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def invite_flood(
    target: tuple[str, int], *, source: str, calls: int, rate: int
) -> subprocess.Popen[bytes]:
    """SIPp from ``source``: ``calls`` INVITEs at ``rate``/s, never ACKed, each held 20 s."""
    args = [
        "sipp", "-sf", str(FLOOD), f"{target[0]}:{target[1]}", "-s", "1567",
        "-i", source, "-p", str(free_udp_port_on(source)), "-mp", str(free_udp_port_on(source)),
        "-m", str(calls), "-r", str(rate), "-l", str(calls), "-d", "20000",
        "-nd", "-timeout", "40s", "-nostdin",
    ]  # fmt: skip
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_an_invite_flood_from_one_address_leaves_other_callers_answered(tmp_path, caplog):
    """The probe's attack: 300 INVITEs in 3 s from one address, never ACKed, against a node
    with room for 20 calls. Kamailio's per-source limits alone (no Timer H on the node) keep
    that address to its share, so a caller from another address is answered meanwhile."""
    listen = ("127.0.0.1", free_udp_port())
    node_port = free_udp_port()
    settings = with_accounts(Settings(data_dir=tmp_path), ivr1="flood-test-pw")
    nodes = [IvrNode("ivr1", "127.0.0.1", node_port)]
    records: list[dict[str, object]] = []
    with (
        EmbeddedKamailio(settings, listen=listen, nodes=nodes, ping_interval=1) as kamailio,
        running_node(
            flow(records, "ivr1"),
            sip_port=node_port,
            user="ivr1",
            registrar=kamailio.registrar,
            password="flood-test-pw",
            extra={"HOTLINE_IVR_MAX_CALLS": "20"},
        ) as node,
    ):
        assert node.node.registered.wait(5)
        wait_for(lambda: options_ping(*listen, user="1567") == 200, 10)  # dispatcher has it
        started = time.monotonic()
        attacker = invite_flood(listen, source="127.0.0.2", calls=300, rate=100)
        try:
            # the flood's own schedule: 300 INVITEs at 100/s take 3 s to send
            peak = 0
            while time.monotonic() - started < 3.5:
                peak = max(peak, node.node.active_calls)
                time.sleep(0.05)
            assert attacker.poll() is None, "the flood should still hold its calls"
            assert 1 <= peak <= settings.kamailio_max_calls_per_source, peak
            result = sipp("uac.xml", listen, hold_ms=1000)
            assert isinstance(result, SippResult)
            assert result.returncode == 0, result.output + result.errors
        finally:
            attacker.kill()
            attacker.wait()
    answered = [r for r in records if r["caller"] == "+66812345678"]
    assert len(answered) == 1 and answered[0]["keys"] == ["1", "#"]
    assert "calls from this address already" in caplog.text
    blocked = caplog.text.count("pike: 127.0.0.2 over 40 requests in 2 s")
    assert 1 <= blocked <= 3, blocked  # the flood is dropped, and logged once, not per request


def answered_a_dispatcher_probe(node: Node) -> threading.Event:
    """Set once the node has answered an OPTIONS probe of Kamailio's dispatcher (which then marks
    it active): the node's receive path observed, nothing replaced."""
    seen = threading.Event()
    agent = node.node.agent
    receive = agent.receive

    def observed(data: bytes, source: tuple[str, int], now: float) -> list[object]:
        actions = receive(data, source, now)
        if data.startswith(b"OPTIONS ") and b"dispatcher@hotline1567.invalid" in data:
            seen.set()
        return actions

    agent.receive = observed  # type: ignore[method-assign]
    return seen


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.slow
def test_register_needs_an_account_in_the_subscriber_table(tmp_path, database_url):
    """Any user name with the old shared password registered; now only sip_subscribers do
    (Kamailio reads the table through db_sqlite, or db_postgres on PostgreSQL)."""
    listen = ("127.0.0.1", free_udp_port())
    settings = with_accounts(
        Settings(data_dir=tmp_path, database_url=database_url, sip_password="shared-password"),
        ivr1="ivr1-password",
    )
    with (
        EmbeddedKamailio(settings, listen=listen, nodes=[], ping_interval=1) as kamailio,
        running_node(
            flow([], "x"), user="stranger", registrar=kamailio.registrar, password="shared-password"
        ) as stranger,
        running_node(
            flow([], "ivr1"), user="ivr1", registrar=kamailio.registrar, password="ivr1-password"
        ) as member,
    ):
        assert member.node.registered.wait(5)
        assert not stranger.node.registered.wait(2)


@pytest.mark.slow
def test_each_ended_call_gives_its_dispatcher_load_back(tmp_path, caplog):
    """maxload 1: a second call after the first is only routed if the first call's load (call
    load algorithm) was released when its dialog ended."""
    listen, node_port = ("127.0.0.1", free_udp_port()), free_udp_port()
    settings = with_accounts(Settings(data_dir=tmp_path), ivr1="load-test-pw")
    nodes = [IvrNode("ivr1", "127.0.0.1", node_port)]
    records: list[dict[str, object]] = []
    with (
        EmbeddedKamailio(settings, listen=listen, nodes=nodes, ping_interval=1, max_calls=1) as k,
        running_node(
            flow(records, "ivr1"),
            sip_port=node_port,
            user="ivr1",
            registrar=k.registrar,
            password="load-test-pw",
        ) as node,
    ):
        wait_for(lambda: options_ping(*listen, user="1567") == 200, 10)
        for _ in range(3):
            result = sipp("uac.xml", listen, hold_ms=300)
            assert isinstance(result, SippResult)
            assert result.returncode == 0, result.output + result.errors
            node.wait_idle()
    assert len(records) == 3
    assert "cannot find load" not in caplog.text


@pytest.mark.slow
def test_a_bye_the_node_answers_late_is_not_timed_out_by_kamailio(tmp_path):
    """The node's loop held up 3 s as the caller hangs up (100 callers hanging up together did
    that): Kamailio waits for the node's 200 to the BYE (8 s in a dialog) instead of answering
    the caller 408 after fr_timer's 2 s, which is for failing INVITEs over to another node."""
    records: list[dict[str, object]] = []
    node_port = free_udp_port()
    listen = ("127.0.0.1", free_udp_port())
    settings = with_accounts(Settings(data_dir=tmp_path), ivr1="s3cret-long")
    nodes = [IvrNode("ivr1", "127.0.0.1", node_port)]
    with (
        EmbeddedKamailio(settings, listen=listen, nodes=nodes, ping_interval=1) as kamailio,
        running_node(
            flow(records, "ivr1"),
            sip_port=node_port,
            user="ivr1",
            registrar=kamailio.registrar,
            password="s3cret-long",
        ) as node,
    ):
        assert node.node.registered.wait(5), "digest REGISTER to Kamailio failed"
        wait_for(lambda: options_ping(*listen, user="1567") == 200, 10)
        agent = node.node.agent
        receive = agent.receive
        delayed: list[float] = []

        def slow_on_bye(data: bytes, source: tuple[str, int], now: float) -> list[object]:
            if data.startswith(b"BYE ") and not delayed:
                delayed.append(now)
                time.sleep(3.0)  # the loop held up, as by the GIL under load
            return receive(data, source, now)

        agent.receive = slow_on_bye  # type: ignore[method-assign]
        result = sipp("uac.xml", listen, hold_ms=1000)
        assert delayed, "the caller's BYE never reached the node"
        assert result.returncode == 0, result.output + result.errors  # 200 for the BYE, no 408
        node.wait_idle()
    (call,) = records
    assert call["reason"] == "bye"
