"""Call-takers' presence settings (``agent_states.toml``): wrap-up and ringing seconds, and the
break reasons a deployer allows. A broken file fails at start-up with a :class:`CatalogError`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.catalog import CatalogError, read_toml, resolve_file

NO_ANSWER = "no_answer"  # the system's own break reason, always present
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True)
class BreakReason:
    code: str
    name_th: str
    name_en: str


@dataclass(frozen=True)
class AgentStatesConfig:
    wrap_up_seconds: int = 30
    no_answer_seconds: int = 15
    break_reasons: tuple[BreakReason, ...] = (BreakReason(NO_ANSWER, "ไม่รับสาย", "Did not answer"),)

    def reason_codes(self) -> frozenset[str]:
        return frozenset(r.code for r in self.break_reasons)


def _seconds(path: Path, data: dict[str, Any], key: str, default: int, lowest: int) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lowest <= value <= 3600:
        raise CatalogError(f"{path}: {key} must be a whole number of seconds {lowest}-3600")
    return value


def load_agent_states(config_dir: Path | None = None) -> AgentStatesConfig:
    path = resolve_file("agent_states.toml", config_dir)
    data = read_toml(path)
    wrap_up = _seconds(path, data, "wrap_up_seconds", 30, 0)
    no_answer = _seconds(path, data, "no_answer_seconds", 15, 1)
    entries = data.get("break_reason") or []
    if not isinstance(entries, list):
        raise CatalogError(f"{path}: break_reason must be an array of tables ([[break_reason]])")
    reasons: dict[str, BreakReason] = {}
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict):
            raise CatalogError(f"{path}: break_reason #{index} must be a table")
        code = entry.get("code")
        if not isinstance(code, str) or not _CODE.match(code):
            raise CatalogError(
                f"{path}: break_reason #{index}: 'code' must be lower-case letters, digits, _"
            )
        if code in reasons:
            raise CatalogError(f"{path}: break_reason #{index}: code {code!r} listed twice")
        name_th, name_en = entry.get("name_th"), entry.get("name_en", code)
        if not isinstance(name_th, str) or not name_th.strip():
            raise CatalogError(f"{path}: break_reason {code!r}: 'name_th' is required")
        if not isinstance(name_en, str):
            raise CatalogError(f"{path}: break_reason {code!r}: 'name_en' must be text")
        reasons[code] = BreakReason(code, name_th, name_en)
    if NO_ANSWER not in reasons:
        reasons[NO_ANSWER] = BreakReason(NO_ANSWER, "ไม่รับสาย", "Did not answer")
    return AgentStatesConfig(wrap_up, no_answer, tuple(reasons.values()))
