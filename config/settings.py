"""Typed, immutable settings read from the environment at each entry point.

Environment beats an optional ``.env`` file beats the default; a wrong value fails at start-up with
a message naming the variable (Starlette's ``config.py`` habit).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from config.citizen_settings import CitizenSettings
from config.envparse import (
    SettingsError,
    boolean,
    choice,
    host_port,
    ipv4_networks,
    items,
    networks,
    non_empty,
    optional_dir,
    optional_path,
    port,
    positive,
    seconds,
    service_numbers,
    url,
)
from config.queue_settings import QueueSettings
from config.sections import AsrWorkerOptions, KamailioOptions, SipOptions

DEFAULT_DATA_DIR = Path("var")


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
    sip_password_set: bool = False  # HOTLINE_SIP_PASSWORD given (else run generates one)
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
    sip_options: SipOptions = field(default_factory=SipOptions)
    kamailio: KamailioOptions = field(default_factory=KamailioOptions)
    asr_worker: AsrWorkerOptions = field(default_factory=AsrWorkerOptions)
    citizen: CitizenSettings = field(default_factory=CitizenSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)

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
            database_url=url(env, "HOTLINE_DATABASE_URL", ("sqlite", "postgresql")),
            redis_url=url(env, "HOTLINE_REDIS_URL", ("redis", "rediss", "unix")),
            web_host=env.get("HOTLINE_WEB_HOST") or "127.0.0.1",
            web_port=port(env, "HOTLINE_WEB_PORT", 8080),
            sip_registrar=host_port(env, "HOTLINE_SIP_REGISTRAR"),
            sip_port=port(env, "HOTLINE_SIP_PORT", 5062),
            sip_bind=env.get("HOTLINE_SIP_BIND") or "127.0.0.1",
            sip_user=non_empty(env, "HOTLINE_SIP_USER", "ivr"),
            sip_password=non_empty(env, "HOTLINE_SIP_PASSWORD", "ivr"),
            asr_model=optional_path(env, "HOTLINE_ASR_MODEL"),
            config_dir=optional_dir(env, "HOTLINE_CONFIG_DIR"),
            secret_key=env.get("HOTLINE_SECRET_KEY") or "",
            log_level=choice(
                env, "HOTLINE_LOG_LEVEL", ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"
            ),
            sip_password_set="HOTLINE_SIP_PASSWORD" in env,
            cookie_secure=boolean(env, "HOTLINE_COOKIE_SECURE", False),
            log_format=choice(env, "HOTLINE_LOG_FORMAT", ("TEXT", "JSON"), "TEXT").lower(),
            ivr_metrics_port=port(env, "HOTLINE_IVR_METRICS_PORT", 9101, allow_zero=True),
            asr_metrics_port=port(env, "HOTLINE_ASR_METRICS_PORT", 9102, allow_zero=True),
            scheduler_metrics_port=port(
                env, "HOTLINE_SCHEDULER_METRICS_PORT", 9103, allow_zero=True
            ),
            metrics_host=env.get("HOTLINE_METRICS_HOST") or "127.0.0.1",
            ivr_service_numbers=service_numbers(env, "HOTLINE_IVR_SERVICE_NUMBERS"),
            sip_proxies=items(env, "HOTLINE_SIP_PROXIES"),
            kamailio_trusted=ipv4_networks(env, "HOTLINE_KAMAILIO_TRUSTED"),
            kamailio_pike_requests=positive(env, "HOTLINE_KAMAILIO_PIKE_REQUESTS", 40),
            kamailio_max_calls_per_source=positive(
                env, "HOTLINE_KAMAILIO_MAX_CALLS_PER_SOURCE", 10
            ),
            trusted_proxies=networks(env, "HOTLINE_TRUSTED_PROXIES"),
            scheduler_interval=seconds(env, "HOTLINE_SCHEDULER_INTERVAL", 60.0),
            smtp_url=url(env, "HOTLINE_SMTP_URL", ("smtp", "smtps")),
            mail_from=env.get("HOTLINE_MAIL_FROM") or "hotline1567@localhost",
            open311_rate_per_minute=int(seconds(env, "HOTLINE_OPEN311_RATE", 30)),
            asr_vad=choice(env, "HOTLINE_ASR_VAD", ("ON", "OFF"), "ON") == "ON",
            sip_options=SipOptions.from_env(env),
            kamailio=KamailioOptions.from_env(env),
            asr_worker=AsrWorkerOptions.from_env(env),
            citizen=CitizenSettings.from_env(env),
            queue=QueueSettings.from_env(env),
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
