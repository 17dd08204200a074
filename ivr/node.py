"""An IVR node: load the call flow and prompts, build the services, serve calls until stopped."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading
from dataclasses import dataclass
from types import FrameType

from config.settings import Settings
from ivr.channel import CallChannel
from ivr.flow.menu import FlowConfig, MenuError, load_flow, menu_path
from ivr.prompts.library import PromptError, PromptLibrary
from ivr.prompts.manifest import ManifestError, load_manifest, manifest_path
from ivr.session import run_call
from ticketing.logformat import log_context
from ticketing.runtime import configure_logging, running_services

log = logging.getLogger(__name__)


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
    from ivr.sip.adapter import serve

    name = node_name(settings)
    # A short Redis timeout: a hung Redis must cost a caller half a second, not seconds.
    with running_services(settings, redis_timeout=0.5) as services:

        def on_call(channel: CallChannel) -> None:
            with log_context(call_id=channel.call_id, node=name):  # JSON logs carry them
                run_call(channel, services, assets.flow, assets.prompts, node=name)

        log.info("IVR node %s serving (registrar %s)", name, settings.sip_registrar)
        serve(settings, on_call, stop)
    log.info("IVR node %s stopped", name)
    return 0


def _stop_on_signals(stop: threading.Event) -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread (tests run nodes in threads)

    def handler(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping the IVR node after current calls", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
