"""Typed, immutable settings read from the environment at each entry point.

Environment beats an optional ``.env`` file beats the default; a wrong value fails at start-up with
a message naming the variable (Starlette's ``config.py`` habit).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path("var")


class SettingsError(ValueError):
    """A setting has a value the system cannot start with; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = None
    redis_url: str | None = None
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    sip_registrar: tuple[str, int] | None = None
    sip_port: int = 5062
    sip_bind: str = "127.0.0.1"
    sip_user: str = "ivr"
    sip_password: str = "ivr"
    asr_model: Path | None = None
    config_dir: Path | None = None
    secret_key: str = ""
    log_level: str = "INFO"
    extra: Mapping[str, str] = field(default_factory=dict)
    cookie_secure: bool = False
    log_format: str = "text"
    # Each role's own /metrics, /livez, /readyz port (0 = off); web serves them on its web port.
    ivr_metrics_port: int = 9101
    asr_metrics_port: int = 9102
    scheduler_metrics_port: int = 9103
    metrics_host: str = "127.0.0.1"
    # Numbers the IVR answers (Request-URI user of an INVITE): HOTLINE_IVR_SERVICE_NUMBERS=1567,1111
    ivr_service_numbers: tuple[str, ...] = ("1567",)
    # Addresses INVITEs may come from (HOTLINE_SIP_PROXIES); empty: the registrar and 127.0.0.1
    sip_proxies: tuple[str, ...] = ()
    # Kamailio's per-source limits (ivr/kamailio_cfg/template.cfg): addresses never limited (trunks,
    # PBXs; CIDRs), requests per 2 s before an address is blocked, concurrent calls per address.
    kamailio_trusted: tuple[str, ...] = ()
    kamailio_pike_requests: int = 40
    kamailio_max_calls_per_source: int = 10
    # Reverse proxies (TLS front ends) whose X-Forwarded-For is believed: addresses or networks.
    trusted_proxies: tuple[str, ...] = ()
    scheduler_interval: float = 60.0  # HOTLINE_SCHEDULER_INTERVAL, seconds between SLA passes
    smtp_url: str | None = None  # HOTLINE_SMTP_URL: smtp://host:25, smtps://user:pass@host:465
    mail_from: str = "hotline1567@localhost"  # HOTLINE_MAIL_FROM
    open311_rate_per_minute: int = 30  # HOTLINE_OPEN311_RATE: POST requests per key and minute
    asr_vad: bool = True  # HOTLINE_ASR_VAD=off decodes silence too (measuring, old behaviour)

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'hotline1567.sqlite3').resolve()}"

    @property
    def embedded_redis(self) -> bool:
        return not self.redis_url

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def prompts_dir(self) -> Path:
        return self.data_dir / "prompts"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / "models"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: Path | None = Path(".env")
    ) -> Settings:
        """Environment beats the ``.env`` file (in the working directory) beats the default."""
        env = dict(_read_env_file(env_file)) if env_file else {}
        env.update(os.environ if environ is None else environ)
        data_dir = Path(env.get("HOTLINE_DATA_DIR") or DEFAULT_DATA_DIR)
        return cls(
            data_dir=data_dir,
            database_url=_url(env, "HOTLINE_DATABASE_URL", ("sqlite", "postgresql")),
            redis_url=_url(env, "HOTLINE_REDIS_URL", ("redis", "rediss", "unix")),
            web_host=env.get("HOTLINE_WEB_HOST") or "127.0.0.1",
            web_port=_port(env, "HOTLINE_WEB_PORT", 8080),
            sip_registrar=_host_port(env, "HOTLINE_SIP_REGISTRAR"),
            sip_port=_port(env, "HOTLINE_SIP_PORT", 5062),
            sip_bind=env.get("HOTLINE_SIP_BIND") or "127.0.0.1",
            sip_user=_non_empty(env, "HOTLINE_SIP_USER", "ivr"),
            sip_password=_non_empty(env, "HOTLINE_SIP_PASSWORD", "ivr"),
            asr_model=_optional_path(env, "HOTLINE_ASR_MODEL"),
            config_dir=_optional_dir(env, "HOTLINE_CONFIG_DIR"),
            secret_key=env.get("HOTLINE_SECRET_KEY") or "",
            log_level=_choice(
                env, "HOTLINE_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"
            ),
            extra={k: v for k, v in env.items() if k.startswith("HOTLINE_")},
            cookie_secure=_bool(env, "HOTLINE_COOKIE_SECURE", False),
            log_format=_choice(env, "HOTLINE_LOG_FORMAT", ("TEXT", "JSON"), "TEXT").lower(),
            ivr_metrics_port=_port(env, "HOTLINE_IVR_METRICS_PORT", 9101, allow_zero=True),
            asr_metrics_port=_port(env, "HOTLINE_ASR_METRICS_PORT", 9102, allow_zero=True),
            scheduler_metrics_port=_port(
                env, "HOTLINE_SCHEDULER_METRICS_PORT", 9103, allow_zero=True
            ),
            metrics_host=env.get("HOTLINE_METRICS_HOST") or "127.0.0.1",
            ivr_service_numbers=_service_numbers(env, "HOTLINE_IVR_SERVICE_NUMBERS"),
            sip_proxies=_list(env, "HOTLINE_SIP_PROXIES"),
            kamailio_trusted=_ipv4_networks(env, "HOTLINE_KAMAILIO_TRUSTED"),
            kamailio_pike_requests=_positive(env, "HOTLINE_KAMAILIO_PIKE_REQUESTS", 40),
            kamailio_max_calls_per_source=_positive(
                env, "HOTLINE_KAMAILIO_MAX_CALLS_PER_SOURCE", 10
            ),
            trusted_proxies=_networks(env, "HOTLINE_TRUSTED_PROXIES"),
            scheduler_interval=_seconds(env, "HOTLINE_SCHEDULER_INTERVAL", 60.0),
            smtp_url=_url(env, "HOTLINE_SMTP_URL", ("smtp", "smtps")),
            mail_from=env.get("HOTLINE_MAIL_FROM") or "hotline1567@localhost",
            open311_rate_per_minute=int(_seconds(env, "HOTLINE_OPEN311_RATE", 30)),
            asr_vad=_choice(env, "HOTLINE_ASR_VAD", ("ON", "OFF"), "ON") == "ON",
        )


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "=" not in line:
            raise SettingsError(f"{path}:{number}: expected NAME=value, got {line!r}")
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip().strip("'\"")
    return values


def _url(env: Mapping[str, str], name: str, schemes: tuple[str, ...]) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    scheme = value.split(":", 1)[0].split("+", 1)[0]
    if "://" not in value or scheme not in schemes:
        raise SettingsError(f"{name}={value!r}: expected a URL starting with one of {schemes}")
    return value


def _port(env: Mapping[str, str], name: str, default: int, *, allow_zero: bool = False) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    lowest = 0 if allow_zero else 1
    if not value.isdigit() or not lowest <= int(value) < 65536:
        off = " (0 = off)" if allow_zero else ""
        raise SettingsError(f"{name}={value!r}: expected a port number {lowest}-65535{off}")
    return int(value)


def _host_port(env: Mapping[str, str], name: str) -> tuple[str, int] | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise SettingsError(f"{name}={value!r}: expected host:port, e.g. 127.0.0.1:5060")
    return host, int(port)


def _non_empty(env: Mapping[str, str], name: str, default: str) -> str:
    if name in env and not env[name].strip():
        raise SettingsError(f"{name} is set but empty")
    return env.get(name, default)


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name, "").strip()
    if not value:
        return None
    path = Path(value)
    if not path.exists():
        raise SettingsError(f"{name}={value!r}: no such file or directory")
    return path


def _optional_dir(env: Mapping[str, str], name: str) -> Path | None:
    path = _optional_path(env, name)
    if path is not None and not path.is_dir():
        raise SettingsError(f"{name}={str(path)!r}: not a directory")
    return path


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...], default: str) -> str:
    value = (env.get(name) or default).upper()
    if value not in choices:
        raise SettingsError(f"{name}={value!r}: expected one of {', '.join(choices)}")
    return value


_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    """1/0, true/false, yes/no in any case; anything else stops start-up (``on`` is no guess)."""
    value = env.get(name, "").strip()
    if not value:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SettingsError(f"{name}={value!r}: expected one of 1, 0, true, false, yes, no")


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in env.get(name, "").split(",") if item.strip())


def _service_numbers(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    numbers = _list(env, name)
    if name in env and not numbers:
        raise SettingsError(f"{name} is set but empty")
    for number in numbers:
        if not all(char.isdigit() or char in "+*#" for char in number):
            raise SettingsError(f"{name}={env[name]!r}: {number!r} is not a dialable number")
    return numbers or ("1567",)


def _ipv4_networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated IPv4 addresses or CIDR networks, normalised (``10.0.0.5/32``)."""
    networks = []
    for item in filter(None, (p.strip() for p in env.get(name, "").split(","))):
        try:
            networks.append(str(ipaddress.IPv4Network(item, strict=False)))
        except ValueError:
            raise SettingsError(f"{name}: {item!r} is not an IPv4 address or network") from None
    return tuple(networks)


def _networks(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma- or space-separated IP addresses or networks (``10.0.0.5, 10.1.0.0/16``)."""
    items = [part for part in env.get(name, "").replace(",", " ").split() if part]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError as exc:
            raise SettingsError(f"{name}: {item!r} is not an IP address or network") from exc
    return tuple(items)


def _positive(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < 1:
        raise SettingsError(f"{name}={value!r}: expected a whole number of at least 1")
    return int(value)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
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
