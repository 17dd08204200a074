"""The lock files pin every package, agree with pyproject.toml and with each other, and are what
this venv runs (./dev.sh installs from requirements.lock)."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;]+)\s*(?:;\s*(.+))?$")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _lock(name: str) -> dict[str, tuple[str, str | None]]:
    pins: dict[str, tuple[str, str | None]] = {}
    for line in (ROOT / name).read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        match = PIN.match(line.strip())
        assert match, f"{name}: not an exact pin: {line!r}"
        package, version, marker = match.groups()
        assert _name(package) not in pins, f"{name}: {package} twice"
        pins[_name(package)] = (version, marker)
    return pins


def _project() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"runtime": project["dependencies"], "dev": project["optional-dependencies"]["dev"]}


def test_every_direct_dependency_is_locked_at_its_pyproject_pin() -> None:
    dev_lock, runtime_lock = _lock("requirements.lock"), _lock("requirements-runtime.lock")
    for group, requirements in _project().items():
        for requirement in requirements:
            match = PIN.match(requirement.replace("'", '"'))
            assert match, f"pyproject.toml: {requirement!r} is not pinned with =="
            package, version, marker = match.groups()
            locks = [dev_lock] if group == "dev" else [dev_lock, runtime_lock]
            for lock in locks:
                assert lock.get(_name(package)) == (version, marker), (group, requirement)


def test_the_runtime_lock_is_the_dev_lock_without_the_tools() -> None:
    dev_lock, runtime_lock = _lock("requirements.lock"), _lock("requirements-runtime.lock")
    assert set(runtime_lock) < set(dev_lock)
    for package, pin in runtime_lock.items():
        assert dev_lock[package] == pin, package
    for tool in ("pytest", "ruff", "mypy", "playwright"):
        assert tool not in runtime_lock


def test_this_venv_runs_exactly_the_lock() -> None:
    applies = sys.version_info >= (3, 13)
    wanted = {
        package: version
        for package, (version, marker) in _lock("requirements.lock").items()
        if marker is None or applies
    }
    installed = {_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    differ = {
        package: (version, installed.get(package))
        for package, version in wanted.items()
        if installed.get(package) != version
    }
    assert not differ, f"installed differs from requirements.lock (run ./dev.sh setup): {differ}"
