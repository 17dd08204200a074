"""A real install: the wheel built from this checkout, installed (not editable) into a fresh venv,
runs ``hotline1567 run`` from a folder outside the checkout.

Only the project comes from the wheel. Its dependencies are the locked ones this suite runs with:
the fresh venv sees the current venv's site-packages through a ``.pth`` line (which, unlike
``--system-site-packages``, does not pull in the editable install's import hook), so the test needs
no network and takes seconds. The test proves the import comes from the fresh venv, not from here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ops.probes import free_tcp_port, get, get_json, wait_until_answering

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[2]
PACKAGES = ("hotline1567", "ivr", "asr", "ticketing", "agent_ui", "config")
NOT_COPIED = {".venv", "var", ".git", "build", "dist", "test-artifacts", "__pycache__"}


def _build_wheel(out: Path) -> Path:
    """Build from a copy, so the checkout gets no build/ or egg-info from the test."""
    source = out / "source"
    shutil.copytree(
        CHECKOUT,
        source,
        ignore=lambda _dir, names: [
            n for n in names if n in NOT_COPIED or n.endswith((".egg-info", "_cache"))
        ],
    )
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    built = subprocess.run(
        [*pip_wheel, "-w", str(out / "wheel"), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (out / "wheel").glob("hotline1567-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(wheel, the fresh venv's python)."""
    root = tmp_path_factory.mktemp("install")
    wheel = _build_wheel(root)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "locked_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q"]
    done = subprocess.run(
        [*pip, "--no-deps", "--no-index", str(wheel)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    yield wheel, python


def test_the_wheel_holds_every_data_file_of_the_packages(installed: tuple[Path, Path]) -> None:
    wheel, _python = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [
        path.relative_to(CHECKOUT).as_posix()
        for package in PACKAGES
        for path in (CHECKOUT / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    ]
    missing = sorted(name for name in wanted if name not in names)
    assert not missing, f"files of the packages missing from the wheel: {missing}"
    # What a real install needs above all (a Kamailio template counts once it is in a package).
    for needed in (
        "agent_ui/console/templates/login.html",
        "agent_ui/console/static/app.css",
        "config/defaults/categories.toml",
        "ticketing/migrations/env.py",
        "ticketing/migrations/versions/0001_initial_schema.py",
    ):
        assert needed in names
    assert not any(name.startswith(("tests/", "bench/", "var/")) for name in names)


def _outside_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "PYTHON"))}
    env["HOTLINE_DATA_DIR"] = str(tmp_path / "var")
    return env


def test_the_installed_package_is_imported_from_the_fresh_venv(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    _wheel, python = installed
    found = subprocess.run(
        [python, "-c", "import agent_ui, config, ticketing; print(agent_ui.__file__)"],
        cwd=tmp_path,
        env=_outside_env(tmp_path),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).is_relative_to(python.parent.parent), found
    assert not Path(found).is_relative_to(CHECKOUT)


def test_hotline1567_run_from_the_install_serves(
    installed: tuple[Path, Path], tmp_path: Path
) -> None:
    """``run`` without the IVR (whose embedded Kamailio is covered by tests/hotline1567): embedded
    Redis and SQLite, migrations, first accounts, web and an ASR worker, all from the wheel."""
    _wheel, python = installed
    web_port, asr_port = free_tcp_port(), free_tcp_port()
    env = {
        **_outside_env(tmp_path),
        "HOTLINE_WEB_PORT": str(web_port),
        "HOTLINE_ASR_METRICS_PORT": str(asr_port),
        "HOTLINE_SCHEDULER_METRICS_PORT": str(free_tcp_port()),
    }
    command = python.parent / "hotline1567"
    log = tmp_path / "run.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(command), "run", "--without", "ivr"],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    web = f"http://127.0.0.1:{web_port}"
    try:
        wait_until_answering(f"{web}/livez", lambda: process.poll() is None, 120)
        assert get_json(f"{web}/livez") == (200, {"status": "alive", "role": "web"})
        assert get_json(f"{web}/readyz")[1]["status"] == "ready", log.read_text()
        status, _type, page = get(f"{web}/login")
        assert status == 200 and "<form" in page  # a packaged template
        status, content_type, css = get(f"{web}/static/app.css")
        assert status == 200 and content_type.startswith("text/css") and css.strip()
        worker = f"http://127.0.0.1:{asr_port}"
        wait_until_answering(f"{worker}/livez", lambda: process.poll() is None, 60)
        assert get_json(f"{worker}/readyz")[1]["status"] == "ready"
        assert (tmp_path / "var" / "initial-credentials.txt").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, log.read_text()[-3000:]
