"""An IVR node: load the call flow and prompts, build the services, serve calls until stopped."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import FrameType

from config.settings import Settings
from ivr.call_session import SessionOptions, run_call
from ivr.callback_worker import CallbackWorker
from ivr.channel import CallChannel
from ivr.conversation import DiallerLike
from ivr.flow.menu import FlowConfig, MenuError, load_flow, menu_path
from ivr.kamailio import announce_restart
from ivr.metrics import exported
from ivr.prompts.library import PromptError, PromptLibrary
from ivr.prompts.manifest import ManifestError, load_manifest, manifest_path
from ivr.recorder import repair_wav
from ivr.result_dialler import NodeResultCalls
from ticketing.call_signals import UrgentWatch
from ticketing.container import Services
from ticketing.logformat import log_context
from ticketing.runtime import configure_logging, running_services
from ticketing.sip_accounts import IVR_PASSWORD_FILE

log = logging.getLogger(__name__)

HEARTBEAT_LEAVE_SECONDS = 5.0  # a leave is one Redis round trip (0.5 s timeout on a node)


@dataclass(frozen=True)
class NodeAssets:
    flow: FlowConfig
    prompts: PromptLibrary


def load_assets(settings: Settings) -> NodeAssets:
    """Menu file and prompts, checked against each other; raises MenuError / ManifestError /
    PromptError with a message a deployer can act on (prompts are never rendered at call time)."""
    flow = load_flow(menu_path(settings.config_dir))
    manifest = load_manifest(manifest_path(settings.config_dir))
    flow.check_prompts(manifest.ids)
    prompts = PromptLibrary.load(settings.prompts_dir, manifest)
    return NodeAssets(flow=flow, prompts=prompts)


def node_name(settings: Settings) -> str:
    """Stored on each call record; host and SIP port tell apart several nodes on one host."""
    return f"{socket.gethostname()}:{settings.sip_port}"


def run_node(settings: Settings, stop: threading.Event | None = None) -> int:
    configure_logging(settings)
    try:
        assets = load_assets(settings)
    except (MenuError, ManifestError, PromptError) as exc:
        print(f"hotline1567 ivr: {exc}", file=sys.stderr)
        return 2
    stop = stop or threading.Event()
    _stop_on_signals(stop)
    # Imported here: only the adapter imports pyVoIP, and the flow's tests never need it.
    from ivr.sip.adapter import SipNode

    name = node_name(settings)
    settings = with_generated_sip_password(settings)
    # A short Redis timeout: a hung Redis must cost a caller half a second, not seconds.
    with running_services(
        settings, redis_timeout=0.5, db_connections=settings.sip_options.db_connections
    ) as services:
        close_orphaned_calls(services, name)
        if settings.sip_registrar is not None:
            # Before the SIP socket is bound: sent from the node's own SIP address.
            announce_restart(settings.sip_registrar, (settings.sip_bind, settings.sip_port))

        urgent = UrgentWatch(services.redis)
        sip: list[SipNode] = []  # the node is the Dialler of its calls (ivr.outbound)

        def on_call(channel: CallChannel) -> None:
            with log_context(call_id=channel.call_id, node=name):  # JSON logs carry them
                options = SessionOptions(node=name, dialler=sip[0], urgent=urgent.urgent)
                run_call(channel, services, assets.flow, assets.prompts, options)

        sip.append(SipNode(settings, on_call))
        heartbeat = start_heartbeat(services, name)
        workers = start_queue_workers(services, sip[0], urgent, name, stop)
        log.info("IVR node %s serving (registrar %s)", name, settings.sip_registrar)
        results = NodeResultCalls(services, assets.prompts, name)  # issue 12: result calls
        results.on_started(sip[0])
        try:
            with exported(sip[0]):  # the node's figures on the role's /metrics (ivr.metrics)
                sip[0].run(stop)
        finally:
            results.stop()
            heartbeat()  # after the calls: a node stopping cleanly takes its beat out
            for worker in workers:
                worker.join(timeout=5)
    log.info("IVR node %s stopped", name)
    return 0


def start_heartbeat(services: Services, node: str) -> Callable[[], None]:
    """The node's heartbeat (``ticketing.node_liveness``): while it beats, the scheduler's
    reconciler leaves the node's calls alone. Returns what stops it once the node's calls are
    over: the beat is taken out before that returns, so before the services (and their Redis
    client) close — closed under it, the leave failed and the node stayed "stopped"."""
    stop = threading.Event()
    thread = threading.Thread(
        target=services.node_liveness.run, args=(node, stop), name="heartbeat", daemon=True
    )
    thread.start()

    def stop_and_leave() -> None:
        stop.set()
        thread.join(timeout=HEARTBEAT_LEAVE_SECONDS)

    return stop_and_leave


def start_queue_workers(
    services: Services, dialler: DiallerLike, urgent: UrgentWatch, node: str, stop: threading.Event
) -> list[threading.Thread]:
    """The node's share of the queue: the urgency follower (danger in live transcripts) and the
    callback worker with the queue's housekeeping (wrap-up ends, dead entries, due callbacks)."""
    queue = services.settings.queue
    ring = queue.ring_timeout_seconds or services.presence.store.config.no_answer_seconds
    worker = CallbackWorker(services, dialler, node=node, settings=queue, ring_timeout=ring)
    threads = [
        threading.Thread(target=urgent.run, args=(stop,), name="urgency", daemon=True),
        threading.Thread(target=worker.run, args=(stop,), name="callbacks", daemon=True),
    ]
    for thread in threads:
        thread.start()
    return threads


def with_generated_sip_password(settings: Settings) -> Settings:
    """Unless HOTLINE_SIP_PASSWORD is set, the password ``hotline1567 run`` generated into the
    data dir (the embedded Kamailio knows its HA1)."""
    path = settings.data_dir / IVR_PASSWORD_FILE
    if settings.sip_password_set or not path.exists():
        return settings
    return replace(settings, sip_password=path.read_text(encoding="utf-8").strip())


def close_orphaned_calls(services: Services, node: str) -> int:
    """A node that starts holds no call: calls its last run left open (killed mid-call) are
    closed, their WAV files repaired and their recordings kept as partial."""
    try:
        orphans = services.calls.open_calls_of_node(node)
    except Exception as exc:
        log.error("node %s: cannot look for calls left open: %s", node, exc)
        return 0
    for orphan in orphans:
        seconds: dict[int, float] = {}
        for recording in orphan["recordings"]:
            length = repair_wav(services.settings.data_dir / recording["path"])
            seconds[recording["id"]] = length or 0.0
        try:
            services.calls.close_orphaned_call(orphan["call_id"], seconds)
        except Exception as exc:
            log.error("call %s: closing it after a crash failed: %s", orphan["call_id"], exc)
    if orphans:
        log.warning("node %s: closed %d call(s) left open by its last run", node, len(orphans))
    return len(orphans)


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread (tests run nodes in threads)

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping the IVR node after current calls", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
