"""Every table module imports on its own, first, in a fresh interpreter (bench/queue_latency.py
died at import once: ivr.queue_call -> call_commands -> call_queue_model -> models -> back)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(p.stem for p in (ROOT / "ticketing").glob("*_model.py"))


def test_the_table_modules_are_found() -> None:
    assert "call_queue_model" in MODULES and len(MODULES) >= 5


@pytest.mark.parametrize("module", [*MODULES, "call_commands", "models"])
def test_a_table_module_imports_first(module: str) -> None:
    code = f"import ticketing.{module}; import ticketing.models as m; m.Base.registry.configure()"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
