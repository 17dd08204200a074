"""SIP load benchmark: ramp concurrent calls through Kamailio into one IVR node.

Each call (SIPp, tests/ivr/sip/scenarios/uac.xml): INVITE 1567 via Kamailio, key 1, ``--hold``
seconds of Thai speech, key #, BYE. The IVR node runs in its own process (``node`` sub-command:
the adapter with a small flow — prompt, wait for 1, record until #, goodbye — or, with
``--real-node``, ``hotline1567 ivr``). The SDP of every call points the IVR's audio at a UDP sink
in a third process, which measures the interval between consecutive packets of each stream (the
receiving side's view of the 20 ms pacing). CPU comes from /proc for the node processes, their
media processes (children) and Kamailio.

    .venv/bin/python bench/sip_load.py --steps 50,100,150,200 --hold 30
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import multiprocessing
import os
import re
import resource
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.sections import SipOptions  # noqa: E402
from config.settings import Settings  # noqa: E402
from ivr.channel import CallChannel, CallEnded  # noqa: E402
from ivr.kamailio import EmbeddedKamailio, IvrNode  # noqa: E402
from ticketing.db import make_engine, make_sessionmaker, upgrade_schema  # noqa: E402
from ticketing.sip_accounts import SipAccountService  # noqa: E402

BENCH_SIP_PASSWORD = "bench-ivr-password"

SCENARIO = ROOT / "tests/ivr/sip/scenarios/uac.xml"
FIXTURES = ROOT / "tests/ivr/sip/fixtures"
BINS = 2000  # 0.1 ms bins up to 200 ms


def sipp(*args: str) -> list[str]:
    """A SIPp command line; with BENCH_SIPP_RTPRIO=N, under ``chrt -r N`` (SCHED_RR: callers and
    phones scheduled before the node, as separate devices would be)."""
    priority = os.environ.get("BENCH_SIPP_RTPRIO", "").strip()
    return ["chrt", "-r", priority, "sipp", *args] if priority else ["sipp", *args]


def percentile(histogram: np.ndarray, q: float) -> float:
    total = int(histogram.sum())
    if not total:
        return float("nan")
    return float(np.searchsorted(np.cumsum(histogram), q / 100 * total)) / 10


def deviation_p99(histogram: np.ndarray) -> float:
    """p99 of |interval - 20 ms| (late packets and the early ones that catch up)."""
    total = int(histogram.sum())
    if not total:
        return float("nan")
    deviation = np.abs(np.arange(len(histogram)) / 10 - 20)
    order = np.argsort(deviation, kind="stable")
    cumulative = np.cumsum(histogram[order])
    return float(deviation[order][np.searchsorted(cumulative, 0.99 * total)])


# ---------------------------------------------------------------------------------- RTP sink
def sink_main(port: int, control: Connection) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", port))
    last: dict[bytes, float] = {}
    jitter: dict[bytes, float] = {}
    histogram = np.zeros(BINS + 1, dtype=np.int64)
    packets = 0
    while True:
        ready, _, _ = select.select([sock, control], [], [], 0.5)
        if control in ready:
            command = control.recv()
            if command == "stats":
                values = list(jitter.values()) or [float("nan")]
                control.send(
                    {
                        "packets": packets,
                        "histogram": histogram.tolist(),
                        "rfc3550_mean": float(np.mean(values)),
                        "rfc3550_max": float(np.max(values)),
                    }
                )
                histogram[:] = 0
                packets = 0
                last.clear()
                jitter.clear()
            elif command == "quit":
                return
        if sock in ready:
            for _ in range(500):
                try:
                    data = sock.recv(2048, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                now = time.monotonic()
                ssrc = data[8:12]
                previous = last.get(ssrc)
                if previous is not None:
                    gap = now - previous
                    histogram[min(int(gap * 10_000), BINS)] += 1
                    # RFC 3550 interarrival jitter, in ms (packets are sent every 20 ms)
                    j = jitter.get(ssrc, 0.0)
                    jitter[ssrc] = j + (abs(gap * 1000 - 20) - j) / 16
                last[ssrc] = now
                packets += 1


# ---------------------------------------------------------------------------------- node
def tone(seconds: float, hz: float) -> bytes:
    t = np.arange(int(8000 * seconds)) / 8000
    return (6000 * np.sin(2 * np.pi * hz * t)).astype("<i2").tobytes()


def simple_flow(channel: CallChannel) -> None:
    """Prompt (3 s), wait for 1, beep, record until # (discarding audio), goodbye, hang up."""
    try:
        channel.play(tone(3.0, 440))
        key = channel.next_dtmf(15)
        if key != "1":
            return
        channel.stop_playback()
        channel.play(tone(0.3, 880))
        received = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            received += len(channel.read_audio(0.02))
            if channel.next_dtmf(0) == "#":
                break
        channel.play(tone(1.0, 660))
        while channel.playback_pending() > 0 and not channel.ended:
            time.sleep(0.05)
    except CallEnded:
        pass


def node_main(args: argparse.Namespace) -> int:
    import logging

    from ivr.sip.adapter import SipNode

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    host, port = args.registrar.rsplit(":", 1)
    settings = Settings(
        sip_registrar=(host, int(port)),
        sip_port=args.sip_port,
        sip_user=args.user,
        sip_password=BENCH_SIP_PASSWORD,
        sip_options=SipOptions.from_env(
            {
                "HOTLINE_RTP_PORTS": args.rtp_ports,
                "HOTLINE_IVR_MAX_CALLS": str(args.max_calls),
                "HOTLINE_IVR_ANSWER_DELAY": "0.05",
            }
        ),
    )
    node = SipNode(settings, simple_flow)
    stop = threading.Event()
    thread = threading.Thread(target=node.run, args=(stop,), name="node")
    thread.start()
    for line in sys.stdin:
        if line.strip() == "stats":
            stats = node.media.send_stats()
            node.media.reset_send_stats()
            print(
                json.dumps(
                    {
                        "adapter_p50": stats.percentile_ms(50),
                        "adapter_p99": stats.percentile_ms(99),
                        "adapter_max": stats.percentile_ms(100),
                        "adapter_intervals": stats.count,
                        "answered": node.answered_total,
                        "rejected_503": node.rejected_busy,
                        "active": node.active_calls,
                        "late_ticks": node.media.late_ticks,
                        "threads": threading.active_count(),
                    }
                ),
                flush=True,
            )
        elif line.strip() == "quit":
            break
    stop.set()
    thread.join()
    return 0


# ---------------------------------------------------------------------------------- driver
def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def child_pids(parents: list[int]) -> list[int]:
    """Descendants of ``parents`` (the media process of each node, multiprocessing's helpers)."""
    by_parent: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                by_parent.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = list(parents)
    while todo:
        children = by_parent.get(todo.pop(), [])
        found += children
        todo += children
    return found


def group_pids(pgid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    pids.append(int(entry.name))
    return pids


def run_sipp(
    target: tuple[str, int],
    calls: int,
    rate: float,
    hold: int,
    sink_port: int,
    local_port: int,
    media_port: int,
    workdir: Path,
    *,
    scenario: Path = SCENARIO,
    cwd: Path = FIXTURES,
) -> dict[str, object]:
    """One SIPp caller run (``calls`` at ``rate``), blocking; its counts. ``cwd`` holds the
    speech.wav its scenario streams."""
    stat_file = workdir / f"sipp-{calls}-{local_port}.csv"
    args = sipp(
        "-sf",
        str(scenario),
        f"{target[0]}:{target[1]}",
        "-s",
        "1567",
        "-i",
        "127.0.0.1",
        "-p",
        str(local_port),
        "-mp",
        str(media_port),
        "-m",
        str(calls),
        "-l",
        str(calls),
        "-r",
        str(rate),
        "-d",
        str(hold * 1000),
        "-set",
        "sink_ip",
        "127.0.0.1",
        "-set",
        "sink_port",
        str(sink_port),
        "-recv_timeout",
        "60000",
        "-nostdin",
        "-trace_stat",
        "-stf",
        str(stat_file),
        "-fd",
        "5",
        "-trace_err",
        "-error_file",
        str(workdir / f"sipp-{calls}-{local_port}-err.log"),
    )
    started = time.monotonic()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=hold + 600)
    elapsed = time.monotonic() - started
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    sipp_cpu = children.ru_utime + children.ru_stime - children0.ru_utime - children0.ru_stime
    rows = list(csv.reader(stat_file.open(), delimiter=";")) if stat_file.exists() else []
    ok = failed = peak = None
    if len(rows) >= 2:
        header, last = rows[0], rows[-1]
        ok = int(last[header.index("SuccessfulCall(C)")])
        failed = int(last[header.index("FailedCall(C)")])
    match = re.search(r"Peak was (\d+) calls", out.stdout)
    if match:
        peak = int(match.group(1))
    return {
        "rc": out.returncode,
        "ok": ok,
        "failed": failed,
        "peak": peak,
        "seconds": round(elapsed, 1),
        "sipp_cpu_s": round(sipp_cpu, 1),
    }


def start_node(
    args: argparse.Namespace, workdir: Path, index: int, node: IvrNode, kamailio_port: int
) -> subprocess.Popen[str]:
    rtp = f"{30000 + 2000 * index}-{31998 + 2000 * index}"
    if args.real_node:
        return start_real_node(workdir / node.user, node, kamailio_port, args.max_calls, rtp)
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "node",
            "--sip-port",
            str(node.port),
            "--user",
            node.user,
            "--registrar",
            f"127.0.0.1:{kamailio_port}",
            "--max-calls",
            str(args.max_calls),
            "--rtp-ports",
            rtp,
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def start_real_node(
    workdir: Path,
    node: IvrNode,
    kamailio_port: int,
    max_calls: int,
    rtp: str,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """``hotline1567 ivr`` with its data in ``workdir``/data (``extra_env`` overrides)."""
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HOTLINE_DATA_DIR": str(workdir / "data"),
        "HOTLINE_REDIS_URL": "redis://127.0.0.1:6379/12",
        "HOTLINE_SIP_REGISTRAR": f"127.0.0.1:{kamailio_port}",
        "HOTLINE_SIP_PORT": str(node.port),
        "HOTLINE_SIP_USER": node.user,
        "HOTLINE_SIP_PASSWORD": BENCH_SIP_PASSWORD,
        "HOTLINE_RTP_PORTS": rtp,
        "HOTLINE_IVR_MAX_CALLS": str(max_calls),
        "HOTLINE_LOG_LEVEL": "WARNING",
        **(extra_env or {}),
    }
    cli = str(ROOT / ".venv/bin/hotline1567")
    subprocess.run([cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([cli, "prompts", "build"], env=env, check=True, capture_output=True)
    log = (workdir / "node.log").open("w")
    return subprocess.Popen([cli, "ivr"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    node = sub.add_parser("node", help="(internal) run one IVR node with the simple flow")
    node.add_argument("--sip-port", type=int, required=True)
    node.add_argument("--registrar", required=True)
    node.add_argument("--rtp-ports", default="30000-31998")
    node.add_argument("--max-calls", type=int, default=150)
    node.add_argument("--user", default="ivr1")
    parser.add_argument("--steps", default="50,100,150,200")
    parser.add_argument("--hold", type=int, default=30, help="seconds of speech per call")
    parser.add_argument("--rate", type=float, default=10, help="new calls per second")
    parser.add_argument(
        "--max-calls", type=int, default=200, help="node limit (HOTLINE_IVR_MAX_CALLS)"
    )
    parser.add_argument(
        "--overload",
        type=int,
        default=20,
        help="extra calls above --max-calls in the last step (0: skip)",
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument("--nodes", type=int, default=1, help="IVR node processes")
    parser.add_argument(
        "--real-node",
        action="store_true",
        help="bench `hotline1567 ivr` (call flow, recorder, SQLite, Redis DB 12)",
    )
    args = parser.parse_args()
    if args.command == "node":
        return node_main(args)

    workdir = Path(tempfile.mkdtemp(prefix="sipload-"))
    kamailio_port, sink_port = 45160, 45170
    # SIPp is one source carrying every call, like a trunk: trusted, so not limited per source.
    settings = Settings(data_dir=workdir, kamailio_trusted=("127.0.0.1/32",))
    parent, child = multiprocessing.Pipe()
    sink = multiprocessing.Process(target=sink_main, args=(sink_port, child), daemon=True)
    sink.start()
    results: list[dict[str, object]] = []
    nodes = [IvrNode(f"ivr{i + 1}", "127.0.0.1", 45162 + 2 * i) for i in range(args.nodes)]
    upgrade_schema(settings.effective_database_url)  # Kamailio reads the nodes' SIP accounts
    accounts = SipAccountService(make_sessionmaker(make_engine(settings.effective_database_url)))
    for node in nodes:
        accounts.set_password(node.user, BENCH_SIP_PASSWORD)
    with EmbeddedKamailio(
        settings, listen=("127.0.0.1", kamailio_port), nodes=nodes, max_calls=100000
    ) as kamailio:
        procs = [
            start_node(args, workdir, index, node, kamailio_port)
            for index, node in enumerate(nodes)
        ]

        def node_stats() -> list[dict[str, object]]:
            stats = []
            for proc in procs:
                if proc.stdin is None or proc.stdout is None:
                    continue
                proc.stdin.write("stats\n")
                proc.stdin.flush()
                stats.append(json.loads(proc.stdout.readline()))
            return stats

        # Ready when a probe call goes through (registered, dispatcher probed, media running):
        # a node slow to start under load must not count as failed calls of the first step.
        probes = 0
        while probes < 30:
            probes += 1
            time.sleep(2)
            probe = run_sipp(kamailio.registrar, 1, 1, 1, sink_port, 46950, 47950, workdir)
            if probe["ok"] == 1:
                break
        print(json.dumps({"ready_after_probe_calls": probes, "ok": probe["ok"]}), flush=True)
        kamailio_pids = group_pids(kamailio._process.pid)  # type: ignore[union-attr]
        node_pids = [proc.pid for proc in procs]
        steps = [int(s) for s in args.steps.split(",")]
        if args.overload:
            steps.append(args.max_calls * args.nodes + args.overload)
        node_stats()
        parent.send("stats")
        parent.recv()
        for index, calls in enumerate(steps):
            media_pids = child_pids(node_pids)
            cpu_node0, cpu_k0 = cpu_seconds(node_pids), cpu_seconds(kamailio_pids)
            cpu_media0 = cpu_seconds(media_pids)
            wall0 = time.monotonic()
            sipp = run_sipp(
                kamailio.registrar,
                calls,
                args.rate,
                args.hold,
                sink_port,
                46000 + index,
                47000 + 10 * index,
                workdir,
            )
            wall = time.monotonic() - wall0
            cpu_node = cpu_seconds(node_pids) - cpu_node0
            cpu_media = cpu_seconds(media_pids) - cpu_media0
            cpu_k = cpu_seconds(kamailio_pids) - cpu_k0
            stats = node_stats()
            parent.send("stats")
            sink_stats = parent.recv()
            histogram = np.array(sink_stats["histogram"])
            call_seconds = calls * (args.hold + 2.5)
            row = {
                "calls": calls,
                **sipp,
                "nodes": stats,
                "rx_packets": sink_stats["packets"],
                "rx_p50_ms": percentile(histogram, 50),
                "rx_p99_ms": percentile(histogram, 99),
                "rx_p999_ms": percentile(histogram, 99.9),
                "rx_max_ms": percentile(histogram, 100),
                "rx_dev_p99_ms": deviation_p99(histogram),
                "rx_rfc3550_jitter_mean_ms": round(sink_stats["rfc3550_mean"], 2),
                "rx_rfc3550_jitter_max_ms": round(sink_stats["rfc3550_max"], 2),
                "node_cpu_s": round(cpu_node, 1),
                "media_cpu_s": round(cpu_media, 1),
                "kamailio_cpu_s": round(cpu_k, 1),
                "node_cpu_pct_of_core_per_call": round(100 * cpu_node / call_seconds, 3),
                "media_cpu_pct_of_core_per_call": round(100 * cpu_media / call_seconds, 3),
                "node_cpu_pct_avg": round(100 * cpu_node / wall, 1),
                "media_cpu_pct_avg": round(100 * cpu_media / wall, 1),
                "load_avg": os.getloadavg()[0],
            }
            results.append(row)
            print(json.dumps(row), flush=True)
            time.sleep(3)
        # After the overload step: is the node still answering?
        after = run_sipp(kamailio.registrar, 1, 1, 2, sink_port, 46900, 47900, workdir)
        print(json.dumps({"after_overload_single_call": after}), flush=True)
        results.append({"after_overload_single_call": after})
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.write("quit\n")
                proc.stdin.flush()
            else:
                proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    parent.send("quit")
    sink.join(timeout=5)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print(f"work dir (SIPp stats/errors): {workdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
