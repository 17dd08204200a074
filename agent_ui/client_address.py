"""The client's address: the socket peer, unless that peer is a trusted reverse proxy
(``HOTLINE_TRUSTED_PROXIES``); then the nearest address in X-Forwarded-For that is not one of the
trusted proxies (a client can write anything on the left of that header, never on the right)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import cache

from starlette.requests import HTTPConnection

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _parse(networks: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in networks)


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(connection: HTTPConnection, trusted_proxies: tuple[str, ...]) -> str:
    peer = connection.client.host if connection.client else ""
    networks = _parse(trusted_proxies)
    if not networks or not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in connection.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed([h for h in hops if h]):
        if not _trusted(hop, networks):
            return hop[:64]
    return peer
