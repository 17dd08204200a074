"""Transcript understanding: Vosk's Thai transcript → draft ticket fields, with confidences.

Pure functions over a transcript; nothing here touches the network or the audio.
"""

from asr.understanding.cli import run_extract_cli
from asr.understanding.errors import UnderstandingConfigError
from asr.understanding.extract import Understanding
from asr.understanding.model import Extraction, FieldValue

__all__ = [
    "Extraction",
    "FieldValue",
    "Understanding",
    "UnderstandingConfigError",
    "run_extract_cli",
]
