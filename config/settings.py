"""Typed, immutable settings read from the environment at each entry point.

Environment beats an optional ``.env`` file beats the default; a wrong value fails at start-up with
a message naming the variable (Starlette's ``config.py`` habit).
"""

from __future__ import annotations

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


def _port(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise SettingsError(f"{name}={value!r}: expected a port number 1-65535")
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
