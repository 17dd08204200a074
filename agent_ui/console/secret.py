"""The key that signs console sessions: from the settings, or generated once per data dir.

Web processes on one host share the data dir, so they share the generated key and a session
signed by one process is accepted by the others, also after a restart.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from config.settings import Settings

log = logging.getLogger(__name__)

SECRET_FILE = "secret_key"


def session_secret(settings: Settings) -> str:
    if settings.secret_key:
        return settings.secret_key
    return _secret_from_file(settings.data_dir / SECRET_FILE)


def _secret_from_file(path: Path) -> str:
    try:
        existing = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        existing = ""
    if existing:
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate = secrets.token_urlsafe(48)
    try:
        # O_EXCL: two processes starting together both try; one wins, the other reads its key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(candidate + "\n")
    log.info("generated a session secret key in %s", path)
    return candidate
