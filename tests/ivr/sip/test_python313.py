"""Python 3.13 removed ``audioop``, which pyVoIP 1.6.8 imports: ``audioop-lts`` stands in there.

The fast test shows that our own G.711 code never needs ``audioop``; the slow one builds a fresh
Python 3.13 venv with the pinned pyVoIP, audioop-lts and numpy and imports the adapter and runs
the SIP core's unit tests in it (skipped, and reported as skipped, where there is no 3.13).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def pins() -> dict[str, str]:
    """name -> requirement line of the runtime and dev pins in pyproject.toml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    return {line.split("==")[0].split("[")[0].lower(): line for line in lines}


def test_audioop_lts_is_pinned_for_python_313_and_later_only():
    assert pins()["audioop-lts"] == "audioop-lts==0.2.2; python_version >= '3.13'"


def test_g711_works_without_the_stdlib_audioop():
    code = (
        "import sys; sys.modules['audioop'] = None\n"  # any import of audioop now fails
        "from ivr.sip import g711\n"
        "values = range(-32768, 32768, 7)\n"
        "pcm = b''.join(int(v).to_bytes(2, 'little', signed=True) for v in values)\n"
        "for pt in (g711.PCMU, g711.PCMA):\n"
        "    once = g711.decode(g711.encode(pcm, pt), pt)\n"
        "    assert g711.decode(g711.encode(once, pt), pt) == once\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def python313() -> list[str] | None:
    env = {**os.environ, "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.13.0")}
    for candidate in ("python3.13",):
        path = shutil.which(candidate)
        if path is None:
            continue
        probe = subprocess.run(
            [path, "-c", "import sys; print(sys.version_info[:2] >= (3, 13))"],
            env=env,
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return [path]
    return None


@pytest.mark.slow
def test_the_adapter_imports_and_the_sip_core_tests_pass_on_python_313(tmp_path):
    python = python313()
    if python is None:
        pytest.skip("no python3.13 on this machine")
    env = {**os.environ, "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.13.0")}
    venv = tmp_path / "py313"
    subprocess.run([*python, "-m", "venv", str(venv)], env=env, check=True)
    pinned = pins()
    requirements = [pinned[name] for name in ("pyvoip", "audioop-lts", "numpy", "pytest")]
    install = subprocess.run(
        [str(venv / "bin/pip"), "install", "-q", *requirements],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    run_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run_env.pop("PYENV_VERSION", None)
    imported = subprocess.run(
        [
            str(venv / "bin/python"),
            "-W",
            "error",
            "-c",
            "import sys, audioop, ivr.sip.adapter; print(sys.version_info[:2], audioop.__file__)",
        ],
        cwd=tmp_path,
        env=run_env,
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr
    assert "site-packages" in imported.stdout  # audioop-lts, not a stdlib module
    tests = [
        f"tests/ivr/sip/{name}.py"
        for name in ("test_g711", "test_rtp", "test_message", "test_uas", "test_registration")
    ]
    result = subprocess.run(
        [
            *(str(venv / "bin/python"), "-m", "pytest", "-c", os.devnull, "--rootdir", str(ROOT)),
            *("-p", "no:cacheprovider", "--noconftest", "-q", "-W", "error", *tests),
        ],
        cwd=ROOT,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
