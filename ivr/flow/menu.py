"""The deployer-editable call flow (``ivr_menu.toml``) read into a typed, immutable config.

A broken file fails at start-up with a :class:`MenuError` naming the file and the entry, never
in the middle of a call.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from config.catalog import CatalogError, read_toml, resolve_file

MENU_FILE = "ivr_menu.toml"
MENU_KEYS = frozenset("0123456789*")


class MenuError(ValueError):
    """The menu file is missing, unreadable or has an invalid entry; the message names both."""


class MenuAction(enum.StrEnum):
    COMPLAINT = "complaint"
    STATUS = "status"
    INFO = "info"
    CALLBACK = "callback"  # a short recorded message (before the queue's callback request)
    OFFICER = "officer"  # speak to an officer: the queue
    REPEAT = "repeat"


DEFAULT_PROMPTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "greeting": ("welcome", "pdpa_notice"),
        "main_menu": ("main_menu",),
        "repeat_caller": ("repeat_caller_has",),
        "repeat_caller_offer": ("repeat_caller_offer",),
        "invalid": ("invalid_choice",),
        "no_input": ("no_input",),
        "goodbye": ("goodbye",),
        "goodbye_no_input": ("goodbye_no_input",),
        "complaint_intro": ("complaint_intro",),
        "complaint_saved": ("complaint_saved",),
        "complaint_saved_no_reference": ("complaint_saved_no_reference",),
        "reference_repeat_hint": ("reference_repeat_hint",),
        "survey_question": ("survey_question",),
        "survey_thanks": ("survey_thanks",),
        "status_enter": ("status_enter",),
        "status_invalid": ("status_invalid",),
        "status_unknown": ("status_unknown",),
        "status_too_many": ("status_too_many",),
        "status_error": ("status_error",),
        "status_reference": ("status_reference",),
        "info": ("info",),
        "callback_intro": ("callback_intro",),
        "callback_saved": ("callback_saved",),
        "recording_failed": ("recording_failed",),
        "callback_promised": ("callback_promised",),
        # the queue (ivr/flow/queue_states.py)
        "queue_hold": ("queue_hold",),
        "queue_position": ("queue_position",),
        "queue_estimate": ("queue_estimate",),
        "queue_comfort": ("queue_comfort",),
        "queue_offer": ("queue_offer",),
        "queue_no_agents": ("queue_no_agents",),
        "queue_agent_lost": ("queue_agent_lost",),
        "urgent_notice": ("urgent_notice",),
        "callback_number_is": ("callback_number_is",),
        "callback_confirm": ("callback_confirm",),
        "callback_enter": ("callback_enter",),
        "callback_number_invalid": ("callback_number_invalid",),
        "callback_queued": ("callback_queued",),
    }
)


@dataclass(frozen=True)
class RecordingLimits:
    max_seconds: float = 300.0
    silence_seconds: float = 8.0
    no_speech_seconds: float = 20.0
    speech_level_dbfs: float = -40.0
    callback_max_seconds: float = 60.0


@dataclass(frozen=True)
class FlowConfig:
    path: Path | None = None
    menu: Mapping[str, MenuAction] = field(
        default_factory=lambda: MappingProxyType(
            {
                "1": MenuAction.COMPLAINT,
                "2": MenuAction.STATUS,
                "3": MenuAction.INFO,
                "0": MenuAction.OFFICER,
                "*": MenuAction.REPEAT,
            }
        )
    )
    max_tries: int = 3
    input_timeout_seconds: float = 6.0
    digit_timeout_seconds: float = 6.0
    reference_tries: int = 3
    recording: RecordingLimits = field(default_factory=RecordingLimits)
    survey: bool = True
    repeat_caller: bool = True
    repeat_caller_key: str = "9"
    prompts: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: DEFAULT_PROMPTS)

    def prompt(self, step: str) -> tuple[str, ...]:
        return self.prompts[step]

    def check_prompts(self, known_ids: Iterable[str]) -> None:
        """Every prompt the flow plays must exist (called at start-up with the manifest's ids)."""
        known = set(known_ids)
        where = self.path or MENU_FILE
        for step, ids in self.prompts.items():
            for prompt_id in ids:
                if prompt_id not in known:
                    raise MenuError(
                        f"{where}: [prompts] {step}: unknown prompt id {prompt_id!r} "
                        "(not in prompts.toml)"
                    )


def menu_path(config_dir: Path | None) -> Path:
    return resolve_file(MENU_FILE, config_dir)


def load_flow(path: Path) -> FlowConfig:
    try:
        data = read_toml(path)
    except CatalogError as exc:
        raise MenuError(str(exc)) from exc
    limits = _table(path, data, "limits")
    recording = _table(path, data, "recording")
    repeat = _table(path, data, "repeat_caller")
    menu = _menu(path, data.get("menu"))
    repeat_key = _key(path, "[repeat_caller] key", repeat.get("key", "9"))
    repeat_enabled = _bool(path, "[repeat_caller] enabled", repeat.get("enabled", True))
    if repeat_enabled and repeat_key in menu:
        raise MenuError(
            f"{path}: [repeat_caller] key {repeat_key!r} is already a main-menu key "
            f"({menu[repeat_key]})"
        )
    defaults = RecordingLimits()
    return FlowConfig(
        path=path,
        menu=MappingProxyType(menu),
        max_tries=int(_number(path, "[limits] max_tries", limits.get("max_tries", 3), whole=True)),
        input_timeout_seconds=_number(
            path, "[limits] input_timeout_seconds", limits.get("input_timeout_seconds", 6.0)
        ),
        digit_timeout_seconds=_number(
            path, "[limits] digit_timeout_seconds", limits.get("digit_timeout_seconds", 6.0)
        ),
        reference_tries=int(
            _number(path, "[limits] reference_tries", limits.get("reference_tries", 3), whole=True)
        ),
        recording=RecordingLimits(
            max_seconds=_number(
                path, "[recording] max_seconds", recording.get("max_seconds", defaults.max_seconds)
            ),
            silence_seconds=_number(
                path,
                "[recording] silence_seconds",
                recording.get("silence_seconds", defaults.silence_seconds),
            ),
            no_speech_seconds=_number(
                path,
                "[recording] no_speech_seconds",
                recording.get("no_speech_seconds", defaults.no_speech_seconds),
            ),
            speech_level_dbfs=_dbfs(
                path, recording.get("speech_level_dbfs", defaults.speech_level_dbfs)
            ),
            callback_max_seconds=_number(
                path,
                "[recording] callback_max_seconds",
                recording.get("callback_max_seconds", defaults.callback_max_seconds),
            ),
        ),
        survey=_bool(path, "[recording] survey", recording.get("survey", True)),
        repeat_caller=repeat_enabled,
        repeat_caller_key=repeat_key,
        prompts=MappingProxyType(_prompts(path, data.get("prompts", {}))),
    )


def _table(path: Path, data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise MenuError(f"{path}: [{name}] must be a table")
    return value


def _menu(path: Path, raw: Any) -> dict[str, MenuAction]:
    if not isinstance(raw, list) or not raw:
        raise MenuError(f"{path}: expected one or more [[menu]] entries")
    menu: dict[str, MenuAction] = {}
    for index, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict):
            raise MenuError(f"{path}: [[menu]] #{index}: expected a table")
        where = f"[[menu]] #{index}"
        key = _key(path, f"{where} key", entry.get("key"))
        action = entry.get("action")
        try:
            menu_action = MenuAction(str(action))
        except ValueError:
            allowed = ", ".join(a.value for a in MenuAction)
            raise MenuError(
                f"{path}: {where} (key {key}): unknown action {action!r}; one of {allowed}"
            ) from None
        if key in menu:
            raise MenuError(f"{path}: {where}: key {key!r} is used twice")
        menu[key] = menu_action
    if MenuAction.COMPLAINT not in menu.values():
        raise MenuError(f"{path}: [[menu]]: no key leads to 'complaint'")
    return menu


def _key(path: Path, where: str, value: Any) -> str:
    if not isinstance(value, str) or value not in MENU_KEYS:
        raise MenuError(f"{path}: {where}: expected one key of 0-9 or *, got {value!r}")
    return value


def _number(path: Path, where: str, value: Any, *, whole: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise MenuError(f"{path}: {where}: must be a positive number, got {value!r}")
    if whole and not float(value).is_integer():
        raise MenuError(f"{path}: {where}: must be a whole number, got {value!r}")
    return float(value)


def _dbfs(path: Path, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not -90 < value < 0:
        raise MenuError(
            f"{path}: [recording] speech_level_dbfs: expected a level between -90 and 0 dBFS, "
            f"got {value!r}"
        )
    return float(value)


def _bool(path: Path, where: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise MenuError(f"{path}: {where}: must be true or false, got {value!r}")
    return value


def _prompts(path: Path, raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict):
        raise MenuError(f"{path}: [prompts] must be a table")
    prompts = dict(DEFAULT_PROMPTS)
    for step, ids in raw.items():
        if step not in DEFAULT_PROMPTS:
            known = ", ".join(sorted(DEFAULT_PROMPTS))
            raise MenuError(f"{path}: [prompts] {step}: unknown step; one of {known}")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
            raise MenuError(f"{path}: [prompts] {step}: expected a list of prompt ids")
        prompts[step] = tuple(ids)
    return prompts
