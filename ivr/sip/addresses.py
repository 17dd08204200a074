"""Addresses of the node: where INVITEs may come from, what to advertise, a number for the log."""

from __future__ import annotations

import logging
import socket

from config.settings import Settings

log = logging.getLogger(__name__)


def proxy_addresses(settings: Settings) -> set[str]:
    """Where INVITEs may come from: HOTLINE_SIP_PROXIES, else the registrar and 127.0.0.1."""
    if settings.sip_proxies:
        return {_resolve(host) for host in settings.sip_proxies}
    found = {"127.0.0.1"}
    if settings.sip_registrar is not None:
        found.add(_resolve(settings.sip_registrar[0]))
    return found


def _resolve(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        log.warning("SIP proxy %r does not resolve; INVITEs are matched on the name", host)
        return host


def mask_number(number: str | None) -> str:
    """A caller number for the log: enough to tell calls apart, not enough to call back."""
    if not number:
        return "unknown"
    return number[:3] + "*" * max(len(number) - 5, 0) + number[-2:]


def advertise_address(settings: Settings) -> str:
    """The address to put in Contact/SDP: the bind address, or the route towards the registrar."""
    if settings.sip_bind not in ("0.0.0.0", ""):
        return settings.sip_bind
    target = settings.sip_registrar or ("192.0.2.1", 5060)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(target)
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"
