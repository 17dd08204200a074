"""Parsers for HOTLINE_* environment variables: each returns a typed value or raises
``SettingsError`` naming the variable. Every role's settings (``config.settings`` and its sections)
use these, so a wrong value reads the same whichever role finds it."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path


class SettingsError(ValueError):
    """A setting has a value the system cannot start with; the message names the variable."""


def url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    scheme = value.split(":", 1)[0].split("+", 1)[0]
    if "://" not in value or scheme not in schemes:
        raise SettingsError(f"{name}={value!r}: expected a URL starting with one of {schemes}")
    return value


def port(env: Mapping[str, str], name: str, default: int, *, allow_zero: bool = False) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    lowest = 0 if allow_zero else 1
    if not value.isdigit() or not lowest <= int(value) < 65536:
        off = " (0 = off)" if allow_zero else ""
        raise SettingsError(f"{name}={value!r}: expected a port number {lowest}-65535{off}")
    return int(value)


def host_port(env: Mapping[str, str], name: str) -> tuple[str, int] | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{name}={value!r}: expected host:port, e.g. 127.0.0.1:5060")
    return host, int(port)


def non_empty(env: Mapping[str, str], name: str, default: str) -> str:
    if name in env and not env[name].strip():
        raise SettingsError(f"{name} is set but empty")
    return env.get(name, default)


def optional_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    path = Path(value)
    if not path.exists():
        raise SettingsError(f"{name}={value!r}: no such file or directory")
    return path


def optional_dir(env: Mapping[str, str], name: str) -> Path | None:
    path = optional_path(env, name)
    if path is not None and not path.is_dir():
        raise SettingsError(f"{name}={str(path)!r}: not a directory")
    return path


def choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).upper()
    if value not in choices:
        raise SettingsError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


TRUE_WORDS = ("1", "true", "yes")
FALSE_WORDS = ("0", "false", "no")


def boolean(env: Mapping[str, str], name: str, default: bool) -> bool:
    """1/0, true/false, yes/no in any case; anything else stops start-up (``on`` is no guess)."""
    value = env.get(name, "").strip()
    if not value:
        return default
    if value.lower() in TRUE_WORDS:
        return True
    if value.lower() in FALSE_WORDS:
        return False
    raise SettingsError(f"{name}={value!r}: expected one of 1, 0, true, false, yes, no")


def items(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def service_numbers(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    numbers = items(env, name)
    if name in env and not numbers:
        raise SettingsError(f"{name} is set but empty")
    for number in numbers:
        if not all(char.isdigit() or char in "+*#" for char in number):
            raise SettingsError(f"{name}={env[name]!r}: {number!r} is not a dialable number")
    return numbers or ("1567",)


def ipv4_networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated IPv4 addresses or CIDR networks, normalised (``10.0.0.5/32``)."""
    networks = []
    for item in filter(None, (p.strip() for p in env.get(name, "").split(","))):
        try:
            networks.append(str(ipaddress.IPv4Network(item, strict=False)))
        except ValueError:
            raise SettingsError(f"{name}: {item!r} is not an IPv4 address or network") from None
    return tuple(networks)


def networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma- or space-separated IP addresses or networks (``10.0.0.5, 10.1.0.0/16``)."""
    items = [part for part in env.get(name, "").replace(",", " ").split() if part]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise SettingsError(f"{name}: {item!r} is not an IP address or network") from exc
    return tuple(items)


def positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name}={value!r}: expected a whole number of at least 1")
    return int(value)


def seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 < number < 86_400:
        raise SettingsError(f"{name}={value!r}: expected a positive number below 86400")
    return number


def number(env: Mapping[str, str], name: str, default: float, minimum: float = 0.0) -> float:
    """A number of at least ``minimum`` (seconds, counts); unset or empty gives the default."""
    value = env.get(name, "").strip()
    if not value:
        return default
    try:
        parsed = float(value)
    except ValueError:
        raise SettingsError(f"{name}={value!r}: expected a number") from None
    if parsed < minimum:
        raise SettingsError(f"{name}={value!r}: must be at least {minimum:g}")
    return parsed


def name_value_pairs(text: str) -> dict[str, str]:
    """``"beam=9, --max-active=2000,"`` → ``{"beam": "9", "max-active": "2000"}`` (empty items
    skipped, a leading ``--`` dropped); ``ValueError`` names an item that is not name=value."""
    pairs: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ValueError(f"{item.strip()!r} is not name=value")
        pairs[name.strip().lstrip("-")] = value.strip()
    return pairs
