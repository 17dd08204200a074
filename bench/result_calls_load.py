"""Result calls under inbound load (issue 12): N outbound result calls while M inbound calls run
on one IVR node, in one process (the node, its media process, the result dialler, SQLite and an
embedded Redis); SIPp plays the trunk answering as citizens (hello, then key 4) and the callers
(tests/ivr/sip/scenarios/uac.xml: key 1, speech, #, BYE) straight to the node (no Kamailio).

    .venv/bin/python bench/result_calls_load.py --outbound 50 --inbound 200 --hold 10

Prints one JSON object: inbound calls succeeded/failed (SIPp's count), result-call outcomes,
wall seconds, the process's CPU seconds. Share the machine? Say so next to the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import time as clock_time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from config.citizen_settings import CitizenSettings  # noqa: E402
from config.sections import SipOptions  # noqa: E402
from config.settings import Settings  # noqa: E402
from ivr.call_session import run_call  # noqa: E402
from ivr.channel import CallChannel  # noqa: E402
from ivr.flow.menu import FlowConfig  # noqa: E402
from ivr.prompts.library import PromptLibrary  # noqa: E402
from ivr.prompts.manifest import load_manifest, manifest_path  # noqa: E402
from ivr.result_dialler import ResultDialler  # noqa: E402
from ticketing.actors import Actor  # noqa: E402
from ticketing.container import build_services, sync_agencies  # noqa: E402
from ticketing.db import upgrade_schema  # noqa: E402
from ticketing.embedded_redis import EmbeddedRedis  # noqa: E402
from ticketing.result_call_model import ResultCallAttempt  # noqa: E402
from ticketing.tickets import NewTicket  # noqa: E402

FIXTURES = ROOT / "tests/ivr/sip/fixtures"
UAC = ROOT / "tests/ivr/sip/scenarios/uac.xml"
TRUNK = ROOT / "tests/citizen/scenarios/citizen_rates_4.xml"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def silent_prompts(seconds: float) -> PromptLibrary:
    manifest = load_manifest(manifest_path(None))
    pcm = bytes(int(16000 * seconds) // 320 * 320)
    return PromptLibrary({prompt_id: pcm for prompt_id in manifest.entries})


def resolved_tickets(services: object, count: int) -> None:
    svc = services  # Services
    agent = Actor(name="bench", role="agent")
    svc.users.add_user("bench_agency", "bench-agency-password-1", "agency")  # type: ignore[attr-defined]
    agency = None
    for n in range(count):
        ticket = svc.tickets.create(  # type: ignore[attr-defined]
            NewTicket(
                description=f"ถนนพัง {n}",
                category="INFRASTRUCTURE",
                province_code="50",
                caller_phone=f"08{n:08d}",
            ),
            agent,
        )
        ref = ticket["reference"]
        svc.tickets.transition(ref, "confirmed", agent)  # type: ignore[attr-defined]
        routed = svc.tickets.route(ref, None, agent)  # type: ignore[attr-defined]
        if agency is None:
            svc.agency_work.assign_user("bench_agency", routed["agency_code"])  # type: ignore[attr-defined]
            agency = svc.users.authenticate("bench_agency", "bench-agency-password-1")  # type: ignore[attr-defined]
        svc.agency_work.post_result(ref, agency, "ซ่อมแล้ว")  # type: ignore[attr-defined]


def sipp(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["sipp", *args, "-i", "127.0.0.1", "-nostdin", "-timeout", "240s", "-timeout_error"],
        cwd=FIXTURES,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def counts(output: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in output.splitlines():
        for name in ("Successful call", "Failed call"):
            if line.strip().startswith(name):
                found[name] = int(line.split("|")[2].strip() or 0)
    return found


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outbound", type=int, default=50)
    parser.add_argument("--inbound", type=int, default=200)
    parser.add_argument("--hold", type=float, default=10.0, help="seconds of caller speech")
    parser.add_argument("--rate", type=float, default=20.0, help="inbound calls per second")
    opts = parser.parse_args()
    from ivr.sip.adapter import SipNode

    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp) / "redis") as redis:
        url = f"sqlite:///{tmp}/bench.sqlite3"
        upgrade_schema(url)
        trunk_port, sip_port = free_port(), free_port()
        base = 30000 + (os.getpid() % 100) * 200
        settings = Settings(
            data_dir=Path(tmp) / "data",
            database_url=url,
            redis_url=redis.url,
            secret_key="bench",
            sip_port=sip_port,
            sip_options=SipOptions.from_env(
                {
                    "HOTLINE_RTP_PORTS": f"{base}-{base + 1199}",
                    "HOTLINE_IVR_MAX_CALLS": str(opts.inbound + 50),
                    "HOTLINE_IVR_MAX_OUTBOUND": str(max(1, opts.outbound)),
                    "HOTLINE_SIP_OUTBOUND_PROXY": f"127.0.0.1:{trunk_port}",
                    "HOTLINE_IVR_ANSWER_DELAY": "0.05",
                }
            ),
            citizen=CitizenSettings(
                call_start=clock_time(0),
                call_end=None,
                concurrency=max(1, opts.outbound),
                ring_timeout=10.0,
            ),
        )
        services = build_services(settings)
        sync_agencies(services.sessions, services.catalog)
        resolved_tickets(services, opts.outbound)
        prompts = silent_prompts(0.25)
        flow = FlowConfig()

        def on_call(channel: CallChannel) -> None:
            run_call(channel, services, flow, prompts, node="bench")

        node = SipNode(settings, on_call)
        stop = threading.Event()
        runner = threading.Thread(target=node.run, args=(stop,), daemon=True)
        runner.start()
        assert node.ready.wait(10)
        trunk = sipp(
            [
                "-sf", str(TRUNK), "-p", str(trunk_port), "-m", str(opts.outbound),
                "-set", "sink_ip", "127.0.0.1", "-set", "sink_port", str(free_port()),
                "-mp", str(base + 1400),
            ]
        )  # fmt: skip
        time.sleep(1.0)  # SIPp binds its port
        callers = sipp(
            [
                "-sf", str(UAC), f"127.0.0.1:{sip_port}", "-s", "1567", "-p", str(free_port()),
                "-m", str(opts.inbound), "-l", str(opts.inbound), "-r", str(opts.rate),
                "-d", str(int(opts.hold * 1000)), "-mp", str(base + 1300),
                "-set", "sink_ip", "127.0.0.1", "-set", "sink_port", str(base + 1300),
            ]
        )  # fmt: skip
        peak = {"inbound": 0}
        sampling = threading.Event()

        def sample() -> None:  # calls in progress: the adapter runs each in a "call-" thread
            while not sampling.wait(0.2):
                live = sum(1 for t in threading.enumerate() if t.name.startswith("call-"))
                peak["inbound"] = max(peak["inbound"], live)

        threading.Thread(target=sample, daemon=True).start()
        started = time.monotonic()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        time.sleep(opts.inbound / opts.rate / 2)  # the inbound calls are ramping up
        dialler = ResultDialler(services.result_calls, node, prompts, "bench")
        placed = dialler.run_once() if opts.outbound else 0
        peak_outbound = dialler.active
        callers_out, _ = callers.communicate(timeout=600)
        if opts.outbound:
            trunk_out, _ = trunk.communicate(timeout=600)
        else:
            trunk.kill()
            trunk_out, _ = trunk.communicate()
        while dialler.active:
            time.sleep(0.1)
        wall = time.monotonic() - started
        sampling.set()
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        with services.sessions() as session:
            outcomes = Counter(a.outcome for a in session.query(ResultCallAttempt))
        stop.set()
        runner.join(15)
        services.close()
    inbound = counts(callers_out)
    print(
        json.dumps(
            {
                "inbound_calls": opts.inbound,
                "inbound_successful": inbound.get("Successful call", 0),
                "inbound_failed": inbound.get("Failed call", 0),
                "inbound_concurrent_peak": peak["inbound"],
                "outbound_result_calls": placed,
                "outbound_concurrent_peak": peak_outbound,
                "result_call_outcomes": dict(outcomes),
                "trunk_sipp": counts(trunk_out),
                "wall_seconds": round(wall, 1),
                "cpu_seconds_this_process": round(
                    (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime), 1
                ),
            }
        )
    )
    return 0 if inbound.get("Failed call", 1) == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
