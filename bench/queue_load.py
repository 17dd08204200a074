"""Queue benchmark: callers bridged to agents' phones, callers waiting, IVR-only callers, at once.

One system on this machine: the embedded Kamailio (auth_db, usrloc, dispatcher), one IVR node
(``hotline1567 ivr``: the real call flow, queue, Dialler, media process) on SQLite and its own
redis-server, and no ASR worker (the node queues ASR jobs; their backlog is printed: the calls
must not depend on it). Agents: users and SIP passwords created, one SIPp answering for all of
them (every agent REGISTERs with digest through Kamailio, Contact = that SIPp's port), made
available through the presence service the console uses.

Each run: SIPp callers through Kamailio, ramped at ``--rate`` calls/s in total: ``--bridged`` +
``--queued`` callers press 0 (tests/ivr/queue/scenarios/caller_officer.xml) and speak for
``--hold`` s: the first ``--bridged`` are bridged to an agent (the agent's phone streams back
until the node's BYE), the rest wait in the queue (every agent busy, then in wrap-up) and hang up;
``--ivr`` callers take the menu's record-a-complaint path (tests/ivr/sip/scenarios/uac.xml).
Beside it the same run with every agent on break: the would-be-bridged callers wait in the queue
too (alternating with ``--repeat``). Steady window (all calls up): loopback RTP on the node's ports
is captured with kernel timestamps (dumpcap, snap length 64) and the node's and media process's
CPU taken from /proc. Every caller and agent streams G.711 (PCMU) whose frames carry a mark (kind,
counter; bench/rtp_capture.py), so each packet the node relays is matched with the one it came
from: the relay's added one-way delay = out time - in time (both directions); the interval
deviation |interval - 20 ms| of what the node sends to agents (relayed) and to IVR-only callers
(its own paced prompts / silence). Failed calls: SIPp's counts and the node's call records
(outcomes answered / abandoned_in_queue / ivr_only as expected, none left open).

    bench/queue_load.sh --bridged 100 --queued 100 --ivr 100 --hold 60 --rate 15

(needs dumpcap: ``apt-get install -y tshark`` for the bench; not part of dev.sh). Develop with
``--bridged 10 --queued 10 --ivr 10 --hold 25``. SIPp's own RTP has an interval deviation p99
of 20 ms (its rtp_stream sends ~2.4 % of packets back to back, idle or loaded), which the
cut-through relay passes on: ``relay_added_jitter_p99_ms`` is the relay's share.
``BENCH_SIPP_RTPRIO=20`` runs every SIPp under SCHED_RR (it did not change SIPp's deviation);
``HOTLINE_IVR_MEDIA_REALTIME=0`` runs the node's media process at nice -10 only.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import rtp_capture as cap  # noqa: E402
from sip_load import (  # noqa: E402
    child_pids,
    cpu_seconds,
    group_pids,
    run_sipp,
    sipp,
    start_real_node,
)

from config.queue_settings import QueueSettings  # noqa: E402
from config.settings import Settings  # noqa: E402
from ivr.kamailio import EmbeddedKamailio, IvrNode  # noqa: E402
from ticketing.audio_queue import JOBS_STREAM  # noqa: E402
from ticketing.container import build_services  # noqa: E402
from ticketing.db import upgrade_schema  # noqa: E402
from ticketing.embedded_redis import EmbeddedRedis  # noqa: E402
from ticketing.models import Role  # noqa: E402
from ticketing.presence import AgentState, PresenceError  # noqa: E402
from ticketing.sip_accounts import SipAccountService  # noqa: E402
from ticketing.timeutil import utcnow  # noqa: E402

IVR_PASSWORD = "bench-ivr-password"
CALLER_OFFICER = ROOT / "tests/ivr/queue/scenarios/caller_officer.xml"
CALLER_IVR = ROOT / "tests/ivr/sip/scenarios/uac.xml"
SPEECH = ROOT / "tests/ivr/sip/fixtures/speech.wav"
SCENARIOS = ROOT / "bench/scenarios"
KIND_OFFICER, KIND_AGENT, KIND_IVR = 1, 2, 3
KAMAILIO_PORT, NODE_PORT, AGENT_PORT = 45260, 45262, 45264
RTP_LOW, RTP_HIGH = 30000, 31998  # the node's RTP ports (SIPp's own stay below 30000)
NODE_PORTS = range(RTP_LOW, RTP_HIGH + 2)
SETTLE = 4.0  # s after the ramp before the window: the last callers pressed 0, were bridged


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


def black_hole() -> socket.socket:
    """Where every SDP points the node's audio: bound (no ICMP), never read (the kernel drops)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind(("127.0.0.1", 0))
    return sock


def audio_dir(workdir: Path, name: str, kind: int, seconds: float) -> Path:
    """A directory holding the marked speech.wav one SIPp process streams."""
    directory = workdir / name
    directory.mkdir()
    (directory / "speech.wav").write_bytes(cap.marked_wav(SPEECH, kind, seconds))
    return directory


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def metrics(port: int) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as response:
            text = response.read().decode()
    except OSError:
        return {}
    found = {}
    for name in ("hotline_ivr_active_calls", "hotline_ivr_media_late_ticks",
                 "hotline_ivr_calls_rejected_busy"):  # fmt: skip
        match = re.search(rf"^{name}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
        if match:
            found[name] = float(match.group(1))
    return found


class Capture:
    """dumpcap on lo, the node's RTP ports, 64-byte snap length, classic pcap."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.proc = subprocess.Popen(
            ["dumpcap", "-i", "lo", "-f", f"udp portrange {RTP_LOW}-{RTP_HIGH + 1}",
             "-s", str(cap.SNAPLEN), "-B", "64", "-P", "-w", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stderr is not None
        for line in self.proc.stderr:  # "Capturing on 'Loopback: lo'": the capture runs
            if line.startswith("Capturing on"):
                break

    def stop(self) -> dict[str, int]:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        got = re.search(r"received/dropped on interface '[^']*': (\d+)/(\d+)", err)
        return {"captured": int(got.group(1)), "dropped": int(got.group(2))} if got else {}


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.agents = [f"agent{n:03d}" for n in range(1, args.bridged + 1)]
        self.seen: set[str] = set()
        self.hole = black_hole()
        self.hole_port = int(self.hole.getsockname()[1])
        seconds = min(args.hold + 60, cap.MAX_FRAMES * cap.FRAME_SECONDS)
        self.officer_audio = audio_dir(workdir, "officer", KIND_OFFICER, seconds)
        self.ivr_audio = audio_dir(workdir, "ivr", KIND_IVR, seconds)
        self.agent_audio = audio_dir(workdir, "agent", KIND_AGENT, seconds)

    # --- the system ---------------------------------------------------------------------------
    def set_up_accounts(self, settings: Settings) -> None:
        upgrade_schema(settings.effective_database_url)
        self.services = build_services(settings, start_relay=False)
        accounts = SipAccountService(self.services.sessions)
        accounts.set_password("ivr1", IVR_PASSWORD, kind="ivr")
        for name in self.agents:
            password = f"{name}-sip-pass"
            self.services.users.add_user(name, f"{name}-login-pass", Role.AGENT)
            accounts.set_password(name, password, kind="agent")

    def start_phones(self) -> subprocess.Popen[str]:
        """One SIPp answering for every agent, then each agent's digest REGISTER (Contact: it)."""
        phone = subprocess.Popen(
            sipp("-sf", str(SCENARIOS / "agent_phone.xml"), "-i", "127.0.0.1",
             "-p", str(AGENT_PORT), "-mp", "26000", "-set", "sink_ip", "127.0.0.1",
             "-set", "sink_port", str(self.hole_port), "-nostdin", "-trace_stat",
             "-stf", str(self.workdir / "agents-stat.csv"), "-fd", "1", "-trace_err",
             "-error_file", str(self.workdir / "agents-err.log")),
            cwd=self.agent_audio, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        return phone

    def register_phones(self) -> None:
        failed = []
        for batch in range(0, len(self.agents), 10):  # 10 phones register at a time
            registering = [(name, self.register(name)) for name in self.agents[batch : batch + 10]]
            failed += [name for name, proc in registering if proc.wait(timeout=60) != 0]
        if failed:
            raise SystemExit(f"REGISTER failed for {failed} (see {self.workdir}/register-*.log)")

    def register(self, name: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            sipp("-sf", str(SCENARIOS / "agent_register.xml"), f"127.0.0.1:{KAMAILIO_PORT}",
             "-i", "127.0.0.1", "-p", str(free_port()), "-set", "user", name,
             "-set", "contact_port", str(AGENT_PORT), "-au", name, "-ap", f"{name}-sip-pass",
             "-m", "1", "-nostdin", "-recv_timeout", "10000", "-trace_err",
             "-error_file", str(self.workdir / f"register-{name}.log")),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip

    # --- one run ------------------------------------------------------------------------------
    def set_agents(self, state: AgentState) -> list[str]:
        """Every agent to ``state`` as the console would; the agents refused (stuck) listed."""
        reason = "meal" if state is AgentState.BREAK else None
        stuck = []
        for name in self.agents:
            try:
                self.services.presence.apply(name, lambda m: m.request(state, utcnow(), reason))
            except PresenceError:
                stuck.append(name)
        return stuck

    def agent_states(self) -> dict[str, int]:
        states = Counter(self.services.presence.store.get(n).state.value for n in self.agents)
        return dict(states)

    def new_calls(self) -> list[dict[str, Any]]:
        calls = self.services.call_queue.recent_calls(limit=500)
        return [c for c in calls if c["id"] not in self.seen]

    def run(self, bridged: bool, index: int, pids: dict[str, list[int]]) -> dict[str, Any]:
        args = self.args
        self.seen |= {c["id"] for c in self.services.call_queue.recent_calls(limit=500)}
        stuck = self.set_agents(AgentState.AVAILABLE if bridged else AgentState.BREAK)
        stuck_states = dict(Counter(self.services.presence.store.get(n).state.value for n in stuck))
        officers, ivr = args.bridged + args.queued, args.ivr
        total = officers + ivr
        ramp = total / args.rate
        window = args.window or args.hold - ramp - SETTLE - 3
        if window < 5:
            raise SystemExit(f"--hold {args.hold} leaves a {window:.0f} s window: raise --hold")
        results: dict[str, dict[str, object]] = {}

        def caller(kind: str, calls: int, scenario: Path, audio: Path, port: int) -> None:
            rate = args.rate * calls / total
            media = 20000 if kind == "officer" else 23500  # SIPp's RTP ports, below the node's
            results[kind] = run_sipp(
                ("127.0.0.1", KAMAILIO_PORT), calls, rate, args.hold, self.hole_port,
                port, media, self.workdir, scenario=scenario, cwd=audio,
            )  # fmt: skip

        started = time.monotonic()
        threads = []
        for kind, calls, scenario, audio, port in (
            ("officer", officers, CALLER_OFFICER, self.officer_audio, 46100 + 10 * index),
            ("ivr", ivr, CALLER_IVR, self.ivr_audio, 46105 + 10 * index),
        ):
            if calls:
                thread = threading.Thread(target=caller, args=(kind, calls, scenario, audio, port))
                thread.start()
                threads.append(thread)
        deadline = started + ramp + SETTLE
        while time.monotonic() < deadline:
            time.sleep(0.2)
        on_call = self.agent_states().get("on_call", 0)
        before = metrics(self.metrics_port)
        pcap = self.workdir / f"run{index}.pcap"
        capture = Capture(pcap)
        node0, media0 = cpu_seconds(pids["node"]), cpu_seconds(pids["media"])
        kamailio0 = cpu_seconds(pids["kamailio"])
        t0 = time.monotonic()
        while time.monotonic() < t0 + window:
            time.sleep(0.2)
        node_cpu = cpu_seconds(pids["node"]) - node0
        media_cpu = cpu_seconds(pids["media"]) - media0
        kamailio_cpu = cpu_seconds(pids["kamailio"]) - kamailio0
        measured = time.monotonic() - t0
        captured = capture.stop()
        during = metrics(self.metrics_port)
        load = os.getloadavg()
        for thread in threads:
            thread.join()
        calls = self.wait_calls_ended(total)
        outcomes = Counter(str(c["outcome"]) for c in calls)
        expected = Counter(
            {
                "answered": args.bridged if bridged else 0,
                "abandoned_in_queue": args.queued + (0 if bridged else args.bridged),
                "ivr_only": ivr,
            }
        )
        wrong = sum((expected - outcomes).values()) + sum((outcomes - expected).values())
        sipp_failed = sum(int(r.get("failed") or 0) for r in results.values())
        sipp_ok = sum(int(r.get("ok") or 0) for r in results.values())
        row: dict[str, Any] = {
            "run": index,
            "bridging": bridged,
            "calls": total,
            "bridged_target": args.bridged if bridged else 0,
            "agents_on_call_in_window": on_call,
            "active_calls_in_window": during.get("hotline_ivr_active_calls"),
            "sipp_ok": sipp_ok,
            "sipp_failed": sipp_failed,
            "sipp": results,
            "outcomes": dict(outcomes),
            "outcomes_not_as_expected": wrong // 2 + wrong % 2,
            "calls_left_open": sum(1 for c in calls if c["ended_at"] is None),
            "calls_recorded": len(calls),
            "agents_after": self.agent_states(),
            "agents_refused_at_start": stuck_states,  # left ringing / on call by the run before
            "window_s": round(measured, 1),
            "node_cpu_s": round(node_cpu, 2),
            "media_cpu_s": round(media_cpu, 2),
            "kamailio_cpu_s": round(kamailio_cpu, 2),
            "node_media_cpu_pct_per_call": round(
                100 * (node_cpu + media_cpu) / measured / total, 3
            ),
            "late_ticks_in_window": during.get("hotline_ivr_media_late_ticks", 0)
            - before.get("hotline_ivr_media_late_ticks", 0),
            "rejected_503": during.get("hotline_ivr_calls_rejected_busy"),
            "asr_jobs_queued_no_worker": int(self.services.redis.xlen(JOBS_STREAM)),
            "capture": captured,
            "load_avg_1m": round(load[0], 2),
            **self.analyse(pcap),
        }
        if not self.args.keep_pcap:
            pcap.unlink(missing_ok=True)
        row["failed_calls"] = sipp_failed + row["outcomes_not_as_expected"] + row["calls_left_open"]
        return row

    def wait_calls_ended(self, total: int) -> list[dict[str, Any]]:
        deadline = time.monotonic() + 60
        calls = self.new_calls()
        while time.monotonic() < deadline:
            calls = self.new_calls()
            if len(calls) >= total and all(c["ended_at"] is not None for c in calls):
                break
            time.sleep(0.5)
        return calls

    def analyse(self, pcap: Path) -> dict[str, Any]:
        flows = cap.read_pcap(pcap)
        to_agent = cap.relay_delays(flows, NODE_PORTS, KIND_OFFICER)
        to_caller = cap.relay_delays(flows, NODE_PORTS, KIND_AGENT)
        delays = np.concatenate([to_agent.delays_ms, to_caller.delays_ms])
        paired_in = {i for i, _ in to_agent.pairs}
        agent_out = [flows[o] for _, o in to_agent.pairs]
        ivr_ports = {k[3] for k, f in flows.items() if k[3] in NODE_PORTS and f.kind == KIND_IVR}
        queued_ports = {
            k[3] for k, f in flows.items()
            if k[3] in NODE_PORTS and f.kind == KIND_OFFICER and k not in paired_in
        }  # fmt: skip
        ivr_out = [f for k, f in flows.items() if k[1] in ivr_ports]
        queued_out = [f for k, f in flows.items() if k[1] in queued_ports]
        bridged_dev = cap.interval_deviations(agent_out)
        source_dev = cap.interval_deviations([flows[i] for i, _ in to_agent.pairs])
        added = np.concatenate([to_agent.added_jitter_ms, to_caller.added_jitter_ms])
        ivr_dev = cap.interval_deviations(ivr_out)
        queued_dev = cap.interval_deviations(queued_out)
        return {
            "bridged_pairs_seen": len(to_agent.pairs),
            "relayed_packets_matched": len(delays),
            "relayed_unmatched": to_agent.unmatched + to_caller.unmatched,
            "relay_delay_p50_ms": cap.pct(delays, 50),
            "relay_delay_p99_ms": cap.pct(delays, 99),
            "relay_delay_max_ms": cap.pct(delays, 100),
            "relay_delay_p99_to_agent_ms": cap.pct(to_agent.delays_ms, 99),
            "relay_delay_p99_to_caller_ms": cap.pct(to_caller.delays_ms, 99),
            "bridged_interval_dev_p99_ms": cap.pct(bridged_dev, 99),
            "bridged_source_interval_dev_p99_ms": cap.pct(source_dev, 99),
            "relay_added_jitter_p99_ms": cap.pct(added, 99),
            "ivr_interval_dev_p99_ms": cap.pct(ivr_dev, 99),
            "queued_interval_dev_p99_ms": cap.pct(queued_dev, 99),
            "streams_to_ivr_callers": len(ivr_out),
            "streams_to_queued_callers": len(queued_out),
        }


def summary(rows: list[dict[str, Any]], bridged: int) -> None:
    on = [r for r in rows if r["bridging"]]
    off = [r for r in rows if not r["bridging"]]
    keys = ("calls", "failed_calls", "sipp_failed", "outcomes_not_as_expected", "calls_left_open",
            "agents_on_call_in_window", "relay_delay_p50_ms", "relay_delay_p99_ms",
            "relay_delay_p99_to_agent_ms", "relay_delay_p99_to_caller_ms",
            "bridged_interval_dev_p99_ms", "bridged_source_interval_dev_p99_ms",
            "relay_added_jitter_p99_ms", "ivr_interval_dev_p99_ms", "queued_interval_dev_p99_ms",
            "node_cpu_s", "media_cpu_s", "window_s", "node_media_cpu_pct_per_call",
            "kamailio_cpu_s", "late_ticks_in_window", "asr_jobs_queued_no_worker",
            "load_avg_1m")  # fmt: skip
    print(f"\n{'':32} {'with bridging':>14} {'without':>14}")
    for key in keys:
        cells = []
        for group in (on, off):
            values = [r[key] for r in group if isinstance(r.get(key), int | float)]
            cells.append(f"{np.mean(values):14.3f}" if values else f"{'-':>14}")
        print(f"{key:32} {cells[0]} {cells[1]}")
    if on and off and bridged:
        cpu_on = np.mean([(r["node_cpu_s"] + r["media_cpu_s"]) / r["window_s"] for r in on])
        cpu_off = np.mean([(r["node_cpu_s"] + r["media_cpu_s"]) / r["window_s"] for r in off])
        print(f"node + media CPU: {100 * cpu_on:.1f} % vs {100 * cpu_off:.1f} % of a core; "
              f"per bridged call {100 * (cpu_on - cpu_off) / bridged:.3f} % of a core; "
              f"ratio {cpu_on / cpu_off:.2f}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--bridged", type=int, default=100, help="callers bridged (= agents)")
    parser.add_argument("--queued", type=int, default=100, help="callers waiting in the queue")
    parser.add_argument("--ivr", type=int, default=100, help="IVR-only callers (record path)")
    parser.add_argument("--hold", type=int, default=60, help="s each caller speaks")
    parser.add_argument("--rate", type=float, default=15, help="new calls per second, in total")
    parser.add_argument("--window", type=float, help="steady window, s (default: what fits)")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs (alternating)")
    parser.add_argument("--keep-pcap", action="store_true")
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="a PostgreSQL server (postgresql://postgres@127.0.0.1:5432): a fresh database on it "
        "instead of SQLite, dropped afterwards",
    )
    parser.add_argument("--json", type=Path, help="write the rows here too")
    args = parser.parse_args()
    if shutil.which("dumpcap") is None:
        raise SystemExit("dumpcap missing: apt-get install -y tshark (for the bench only)")
    raise_fd_limit()
    workdir = Path(tempfile.mkdtemp(prefix="queueload-"))
    redis_server = EmbeddedRedis(workdir / "redis")
    redis_server.start()
    atexit.register(redis_server.stop)  # also when set-up fails (stop is idempotent)
    total = args.bridged + args.queued + args.ivr
    database_url = None
    if args.postgres:
        name = f"queue_bench_{os.getpid()}"
        subprocess.run(["psql", f"{args.postgres}/postgres", "-qc", f"CREATE DATABASE {name}"],
                       check=True)  # fmt: skip
        database_url = f"{args.postgres}/{name}"
    settings = Settings(
        data_dir=workdir / "data", redis_url=redis_server.url, database_url=database_url,
        kamailio_trusted=("127.0.0.1/32",), queue=QueueSettings(wrap_up_seconds=3600),
    )  # fmt: skip
    bench = Bench(args, workdir)
    bench.set_up_accounts(settings)
    bench.metrics_port = free_port()
    node = IvrNode("ivr1", "127.0.0.1", NODE_PORT)
    rows: list[dict[str, Any]] = []
    procs: list[subprocess.Popen[str]] = []
    with EmbeddedKamailio(
        settings, listen=("127.0.0.1", KAMAILIO_PORT), nodes=[node], max_calls=100000
    ) as kamailio:
        try:
            proc = start_real_node(
                workdir, node, KAMAILIO_PORT, total + args.bridged + 50,
                f"{RTP_LOW}-{RTP_HIGH}",
                {"HOTLINE_REDIS_URL": redis_server.url, "HOTLINE_QUEUE_WRAP_UP_SECONDS": "3600",
                 "HOTLINE_IVR_METRICS_PORT": str(bench.metrics_port),
                 # BENCH_LOG_LEVEL=INFO: every call's steps in node.log (costs CPU)
                 "HOTLINE_LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
                 # HOTLINE_IVR_MAX_OUTBOUND: the default, half the call limit
                 "HOTLINE_DATABASE_URL": settings.effective_database_url},
            )  # fmt: skip
            procs.append(proc)
            probes = 0
            while probes < 30:
                probes += 1
                time.sleep(2)
                probe = run_sipp(kamailio.registrar, 1, 1, 1, bench.hole_port, 46090, 22900,
                                 workdir)  # fmt: skip
                if probe["ok"] == 1:
                    break
            print(json.dumps({"ready_after_probe_calls": probes, "workdir": str(workdir)}))
            procs.append(bench.start_phones())
            bench.register_phones()
            pids = {
                "node": [proc.pid],
                "media": child_pids([proc.pid]),
                "kamailio": group_pids(kamailio._process.pid),  # type: ignore[union-attr]
            }
            for n in range(args.repeat):
                for bridged in (True, False) if n % 2 == 0 else (False, True):
                    row = bench.run(bridged, len(rows), pids)
                    rows.append(row)
                    print(json.dumps(row), flush=True)
        finally:
            for proc in reversed(procs):
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=30)
                if proc.poll() is None:
                    proc.kill()
            bench.services.close()
            redis_server.stop()
            if args.postgres:
                subprocess.run(["psql", f"{args.postgres}/postgres", "-qc",
                                f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"])  # fmt: skip
    summary(rows, args.bridged)
    print(f"database {settings.effective_database_url.split('@')[-1]}")
    print(f"load average {os.getloadavg()}; work dir (SIPp stats, node.log): {workdir}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
