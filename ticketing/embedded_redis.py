"""A private, real Redis server under the data dir, for the embedded (one-machine) default."""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path

import redis

log = logging.getLogger(__name__)


class EmbeddedRedisError(RuntimeError):
    pass


class EmbeddedRedis:
    """Starts ``redis-server`` on a unix socket in ``data_dir``; reuses one already running there.

    Only the process that started it stops it, so ``hotline1567 run`` owns it and the role
    processes it spawns share it.
    """

    def __init__(self, data_dir: Path) -> None:
        self.dir = (data_dir / "redis").resolve()
        self.socket = self.dir / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def exited(self) -> bool:
        """The server this object started has died (a supervisor restarts it with start())."""
        return self._process is not None and self._process.poll() is not None

    def running(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return bool(redis.Redis(unix_socket_path=str(self.socket)).ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        if self.running():
            log.info("reusing embedded Redis at %s", self.socket)
            return
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise EmbeddedRedisError(
                "HOTLINE_REDIS_URL is unset and redis-server is not installed: "
                "run the README's set-up (apt-get install redis-server) or set HOTLINE_REDIS_URL"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        self.socket.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            [
                binary,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.dir),
                "--appendonly",
                "yes",
                "--save",
                "60 1",
                "--daemonize",
                "no",
                "--logfile",
                str(self.dir / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedRedisError(f"redis-server exited; see {self.dir / 'redis.log'}")
            if self.running():
                log.info("embedded Redis started at %s", self.socket)
                return
            time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError("redis-server did not answer within 10 s")

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is not None:
            self._process = None
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None
