"""Embedded Kamailio: registrar + dispatcher in front of the IVR nodes, for `hotline1567 run`.

Renders the template shipped in ``ivr/kamailio_cfg/template.cfg`` (package data, read with
importlib.resources so a wheel install has it) and a dispatcher list under
``settings.data_dir / "kamailio"``, runs ``/usr/sbin/kamailio -DD -E`` in the foreground with its
own pid file and runtime dir, waits until it answers an OPTIONS ping, and stops it on exit.

Dispatcher destinations come from a list file written here (HOTLINE_IVR_NODES, default: this
host's node), not from registrations: the dispatcher probes each with OPTIONS, so a node that is
down is skipped within a ping interval, and a node that comes back is used again. Nodes still
REGISTER (as ``ivr1``, ``ivr2``, ...; pyVoIP-style phones need it and it shows who is up), with
digest auth against the project's ``sip_subscribers`` table (ticketing/sip_accounts.py), which
Kamailio reads through its own database driver (db_sqlite / db_postgres).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.resources
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import make_url

from config.settings import Settings, SettingsError
from ticketing.sip_accounts import SIP_REALM

log = logging.getLogger(__name__)

KAMAILIO = "/usr/sbin/kamailio"
PIKE_UNIT_SECONDS = 2  # pike's sampling unit: HOTLINE_KAMAILIO_PIKE_REQUESTS per this long
PIKE_LATENCY_SECONDS = 10  # a blocked address is forgotten after this long without requests
NEVER_TRUSTED = "192.0.2.255/32"  # TEST-NET-1: stands for "no trusted source" in the template
NOACK_TIMEOUT = 22  # + the dialog module's fixed 10 s: a never-ACKed call ends 32 s after 200
RESTART_USER = "ivr-node-restarted"  # OPTIONS to this user: a node says it holds no call
MODULE_DIRS = (
    "/usr/lib/x86_64-linux-gnu/kamailio/modules",
    "/usr/lib/kamailio/modules",
    "/usr/local/lib64/kamailio/modules",
    "/usr/local/lib/kamailio/modules",
)


class KamailioError(RuntimeError):
    """Kamailio could not be configured or did not come up."""


@dataclass(frozen=True)
class IvrNode:
    user: str  # the name it registers as, also the dispatcher duid (ivr1, ivr2, ...)
    host: str
    port: int


def parse_nodes(text: str) -> list[IvrNode]:
    """``ivr1@10.0.0.5:5062,ivr2@10.0.0.6:5062`` -> nodes (the user part is optional)."""
    nodes = []
    for number, item in enumerate(filter(None, (p.strip() for p in text.split(","))), start=1):
        user, _, hostport = item.rpartition("@")
        host, colon, port = hostport.rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise SettingsError(f"HOTLINE_IVR_NODES entry {item!r}: expected [user@]host:port")
        nodes.append(IvrNode(user or f"ivr{number}", host, int(port)))
    return nodes


def render_config(template: str, values: dict[str, str]) -> str:
    for name, value in values.items():
        if any(c in value for c in '"\n\r'):
            raise SettingsError(f"value for {name} may not contain quotes or line breaks")
        template = template.replace(f"@@{name}@@", value)
    if "@@" in template:
        start = template.index("@@")
        raise KamailioError(f"unfilled placeholder in template: {template[start : start + 30]!r}")
    return template


def dispatcher_list(nodes: list[IvrNode], max_calls: int) -> str:
    lines = ["# setid destination flags priority attrs — written by ivr/kamailio.py"]
    for node in nodes:
        lines.append(f"1 sip:{node.host}:{node.port} 0 0 duid={node.user};maxload={max_calls}")
    return "\n".join(lines) + "\n"


def trunk_values(trunk: tuple[str, int] | None) -> dict[str, str]:
    """Placeholders of the trunk route (HOTLINE_SIP_TRUNK): on with its address, or off."""
    if trunk is None:
        off = "# no trunk (HOTLINE_SIP_TRUNK unset): INVITEs to numbers get 503"
        return {"TRUNK_DEFINE": off, "TRUNK_HOST": "trunk.invalid", "TRUNK_PORT": "5060"}
    host, port = trunk
    if not host or not all(c.isalnum() or c in ".-" for c in host):
        raise SettingsError(f"HOTLINE_SIP_TRUNK host {host!r} is not a host name or address")
    return {"TRUNK_DEFINE": "#!define WITH_TRUNK", "TRUNK_HOST": host, "TRUNK_PORT": str(port)}


def usrloc_values(db_module: str) -> dict[str, str]:
    """usrloc's db_mode: write-through on PostgreSQL, write-back every 5 s on SQLite (whose
    Kamailio driver fails at once on a locked database; see template.cfg)."""
    if db_module == "sqlite":
        return {"USRLOC_DB_MODE": "2", "USRLOC_TIMER": "5"}
    return {"USRLOC_DB_MODE": "1", "USRLOC_TIMER": "30"}


def template_text() -> str:
    return (
        importlib.resources.files("ivr.kamailio_cfg")
        .joinpath("template.cfg")
        .read_text(encoding="utf-8")
    )


def kamailio_db_url(database_url: str) -> tuple[str, str]:
    """SQLAlchemy URL -> (Kamailio db module, Kamailio db_url) for auth_db."""
    url = make_url(database_url)
    base = url.get_backend_name()
    if url.query:
        raise SettingsError(
            "HOTLINE_DATABASE_URL: Kamailio needs a plain URL (no ?options) to read SIP accounts"
        )
    if base == "sqlite":
        if not url.database or url.database == ":memory:":
            raise SettingsError("HOTLINE_DATABASE_URL: Kamailio needs an SQLite file")
        return "sqlite", f"sqlite://{Path(url.database).resolve()}"
    if base == "postgresql":
        auth = url.username or ""
        if url.password:
            auth += f":{url.password}"
        host = f"{url.host or '127.0.0.1'}:{url.port or 5432}"
        return "postgres", f"postgres://{auth}{'@' if auth else ''}{host}/{url.database}"
    raise SettingsError(f"HOTLINE_DATABASE_URL: Kamailio cannot read a {base!r} database")


def options_ping(
    host: str,
    port: int,
    timeout: float = 0.5,
    *,
    user: str = "",
    local: tuple[str, int] | None = None,
) -> int | None:
    """Send one OPTIONS to ``[user@]host:port`` (from ``local`` if given); the status code of
    the answer, or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        if local is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(local or ("127.0.0.1" if host.startswith("127.") else "0.0.0.0", 0))
        local_ip, local_port = sock.getsockname()[:2]
        call_id = uuid.uuid4().hex
        target = f"{user}@{host}:{port}" if user else f"{host}:{port}"
        request = (
            f"OPTIONS sip:{target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local_ip}:{local_port};branch=z9hG4bK{call_id[:16]};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:ping@{local_ip}>;tag={call_id[:8]}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {call_id}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        sock.settimeout(timeout)
        try:
            sock.sendto(request, (host, port))
            data = sock.recv(65535)
        except OSError:
            return None
    parts = data.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def announce_restart(registrar: tuple[str, int], node: tuple[str, int], tries: int = 3) -> bool:
    """Tell Kamailio that the node on ``node`` (its SIP address, sent from there) has just
    started and holds no call, so Kamailio ends the dialogs it still keeps for it (a BYE to each
    caller of a node that crashed). Sent before the node's SIP socket is bound."""
    for _ in range(tries):
        try:
            status = options_ping(*registrar, timeout=0.5, user=RESTART_USER, local=node)
        except OSError as exc:
            log.warning("cannot tell %s:%d about the restart: %s", *registrar, exc)
            return False
        if status is not None:
            if status != 200:
                log.warning("%s:%d refused the restart notice (%d)", *registrar, status)
            return status == 200
    return False


class EmbeddedKamailio:
    def __init__(
        self,
        settings: Settings,
        listen: tuple[str, int] | None = None,
        nodes: list[IvrNode] | None = None,
        *,
        ping_interval: int = 2,
        max_calls: int | None = None,
        service: str = "1567",
        noack_timeout: int = NOACK_TIMEOUT,
    ) -> None:
        options = settings.kamailio
        self.settings = settings
        self.listen = listen or options.listen
        if nodes is None:
            nodes = (
                parse_nodes(",".join(options.ivr_nodes))
                if options.ivr_nodes
                else [IvrNode(settings.sip_user, _reachable(settings.sip_bind), settings.sip_port)]
            )
        self.nodes = nodes
        self.ping_interval = ping_interval
        self.max_calls = max_calls or settings.sip_options.max_calls
        self.service = service
        self.noack_timeout = noack_timeout
        self.workdir = settings.data_dir / "kamailio"
        self._process: subprocess.Popen[bytes] | None = None
        self._log_thread: threading.Thread | None = None

    @property
    def registrar(self) -> tuple[str, int]:
        return self.listen

    def write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "run").mkdir(exist_ok=True)
        dispatcher = self.workdir / "dispatcher.list"
        dispatcher.write_text(dispatcher_list(self.nodes, self.max_calls), encoding="utf-8")
        db_module, db_url = kamailio_db_url(self.settings.effective_database_url)
        settings = self.settings
        config = render_config(
            template_text(),
            {
                "HOST": self.listen[0],
                "PORT": str(self.listen[1]),
                "MODULES": _module_dir(),
                "DISPATCHER_LIST": str(dispatcher.resolve()),
                "PING_INTERVAL": str(self.ping_interval),
                "DB_MODULE": db_module,
                **usrloc_values(db_module),
                "DB_URL": db_url,
                "REALM": SIP_REALM,
                "TRUSTED": ",".join(settings.kamailio_trusted) or NEVER_TRUSTED,
                "PIKE_UNIT": str(PIKE_UNIT_SECONDS),
                "PIKE_DENSITY": str(settings.kamailio_pike_requests),
                "PIKE_LATENCY": str(PIKE_LATENCY_SECONDS),
                "MAX_PER_SOURCE": str(settings.kamailio_max_calls_per_source),
                "NOACK": str(self.noack_timeout),
                "SERVICE": self.service,
                "CHILDREN": str(settings.kamailio.children),
                "DEBUG": "3" if self.settings.log_level == "DEBUG" else "1",
                **trunk_values(settings.kamailio.trunk),
            },
        )
        path = self.workdir / "kamailio.cfg"
        path.write_text(config, encoding="utf-8")
        return path

    def start(self) -> None:
        config = self.write_config()
        check = subprocess.run([KAMAILIO, "-c", "-f", str(config)], capture_output=True, text=True)
        if check.returncode != 0:
            raise KamailioError(f"kamailio rejected {config}:\n{check.stderr[-2000:]}")
        run_dir = (self.workdir / "run").resolve()
        args = [
            KAMAILIO,
            "-DD",
            "-E",
            "-f",
            str(config),
            "-P",
            str(run_dir / "kamailio.pid"),
            "-Y",
            str(run_dir),
            "-m",
            "64",
            "-M",
            "8",
        ]
        self._process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True
        )
        self._log_thread = threading.Thread(target=self._pump_log, name="kamailio-log", daemon=True)
        self._log_thread.start()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise KamailioError(f"kamailio exited with {self._process.returncode}")
            if options_ping(*self.listen, timeout=0.3) == 200:
                log.info(
                    "kamailio up on udp %s:%d, IVR nodes %s",
                    *self.listen,
                    ", ".join(f"{n.user}@{n.host}:{n.port}" for n in self.nodes),
                )
                return
        self.stop()
        raise KamailioError(f"kamailio did not answer OPTIONS on {self.listen} within 15 s")

    def exited(self) -> bool:
        """The Kamailio this object started has died (a supervisor restarts it with start())."""
        return self._process is not None and self._process.poll() is not None

    def _pump_log(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        for line in self._process.stderr:
            text = line.decode("utf-8", "replace").rstrip()
            loud = any(tag in text for tag in (" ERROR:", " WARNING:", "CRITICAL"))
            level = logging.WARNING if loud else logging.DEBUG
            log.log(level, "kamailio: %s", text)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        else:
            # The main process died (kill -9): its worker processes may still hold the port.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._log_thread is not None:
            self._log_thread.join(timeout=2)
        if process.stderr is not None:
            process.stderr.close()
        log.info("kamailio stopped")

    def __enter__(self) -> EmbeddedKamailio:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _module_dir() -> str:
    for candidate in MODULE_DIRS:
        if Path(candidate, "tm.so").exists():
            return candidate + "/"
    raise KamailioError(f"no Kamailio modules found in {MODULE_DIRS}")


def _reachable(bind: str) -> str:
    return "127.0.0.1" if bind in ("0.0.0.0", "") else bind


def main(argv: list[str] | None = None) -> int:
    """``python -m ivr.kamailio [--render-only]``: write the config (and run Kamailio)."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--render-only", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    kamailio = EmbeddedKamailio(Settings.from_env())
    if args.render_only:
        print(kamailio.write_config())
        return 0
    with kamailio:
        print(f"kamailio on {kamailio.registrar}; Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
