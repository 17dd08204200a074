"""Turning a final transcript into draft fields through ``asr.understanding`` (another engineer's
package), loaded lazily: a worker without it still stores transcripts, just no fields.
"""

from __future__ import annotations

import importlib
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# The understanding module names the spoken phone number "phone"; on the draft it is the caller's
# contact number, which the IVR already filled from the caller id when there was one.
_TICKET_FIELD = {
    "category": "category",
    "province_code": "province_code",
    "district_code": "district_code",
    "phone": "caller_phone",
    "citizen_id": "citizen_id",
    "urgent": "urgent",
}


@dataclass(frozen=True)
class DraftFields:
    values: dict[str, Any] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)


def understanding_config_path(config_dir: Path | None) -> Path | None:
    """A deployer's ``understanding.toml`` in ``HOTLINE_CONFIG_DIR``, else None (the packaged
    defaults), as every other data file is found."""
    if config_dir is None:
        return None
    path = config_dir / "understanding.toml"
    return path if path.is_file() else None


class FieldExtractor:
    """One shared ``Understanding`` per worker process (its tables load once)."""

    def __init__(self, config_path: Path | None = None) -> None:
        self._config_path = config_path
        self._lock = threading.Lock()
        self._understanding: Any = None
        self._warned = False

    def _load(self) -> Any:
        with self._lock:
            if self._understanding is None:
                try:
                    module = importlib.import_module("asr.understanding")
                except ImportError as exc:
                    if not self._warned:
                        log.warning("asr.understanding unavailable (%s): drafts get no fields", exc)
                        self._warned = True
                    return None
                self._understanding = module.Understanding.from_file(self._config_path)
            return self._understanding

    def warm(self) -> None:
        """Load the tables and run one extraction now, at start-up: the first one loads the
        word lists and tokeniser (7.5 s measured on the shared 2-core host), which would
        otherwise be added to the first caller's wait for a transcript."""
        understanding = self._load()
        if understanding is None:
            return
        try:
            understanding.extract("เบอร์ ศูนย์ แปด หนึ่ง อยู่ อำเภอ เมือง จังหวัด เชียงใหม่")
        except Exception:
            log.exception("field extraction failed on its warm-up text")

    def extract(
        self, text: str, *, asr_confidence: float, caller_phone: str | None, reference: str
    ) -> DraftFields:
        if not text.strip():
            return DraftFields()
        understanding = self._load()
        if understanding is None:
            return DraftFields()
        try:
            data = dict(understanding.extract(text).to_json_dict())
        except Exception:
            # A bug in extraction must not cost the call-taker the transcript.
            log.exception(
                "draft %s: field extraction failed; storing the transcript only", reference
            )
            return DraftFields()
        return to_draft_fields(data, asr_confidence=asr_confidence, caller_phone=caller_phone)


def to_draft_fields(
    data: dict[str, Any], *, asr_confidence: float, caller_phone: str | None
) -> DraftFields:
    """Map extraction names to ticket fields and cap each field's confidence by the ASR's.

    A field read from words the recognizer itself doubted is no surer than those words: capping by
    the transcript's mean word confidence makes a field from a garbled call show as unsure.
    """
    raw_conf = data.pop("confidence", None) or {}
    values: dict[str, Any] = {}
    confidence: dict[str, float] = {}
    for name, target in _TICKET_FIELD.items():
        value = data.get(name)
        if value is None:
            continue
        if target == "caller_phone" and caller_phone:
            continue  # never replace the number the call came from with a guess
        values[target] = value
        confidence[target] = round(min(float(raw_conf.get(name, 0.0)), asr_confidence), 3)
    return DraftFields(values, confidence)
