"""HTTP probes against a started role, the way Prometheus and a load balancer see it."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get(url: str, timeout: float = 5) -> tuple[int, str, str]:
    """(status, content type, body) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read().decode()


def get_json(url: str) -> tuple[int, Any]:
    status, _content_type, body = get(url)
    return status, json.loads(body)


def wait_until_answering(url: str, alive: Callable[[], bool], deadline_s: float = 60) -> None:
    """Poll until ``url`` answers (any status); ``alive`` says the process has not died."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            get(url, timeout=1)
            return
        except OSError:
            assert alive(), f"the process died before {url} answered"
            assert time.monotonic() < deadline, f"{url} did not answer in {deadline_s} s"
            time.sleep(0.2)


def metric_families(text: str) -> dict[str, Any]:
    """Parse Prometheus text with prometheus_client's parser; a name twice is an error."""
    families: dict[str, Any] = {}
    for family in text_string_to_metric_families(text):
        assert family.name not in families, f"metric {family.name} exported twice"
        families[family.name] = family
    return families


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` (Debian's prometheus package, installed by ./dev.sh)."""
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: ./dev.sh setup installs the prometheus package"
    return subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
