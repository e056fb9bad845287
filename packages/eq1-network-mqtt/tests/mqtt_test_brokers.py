"""Real brokers for the integration tests: mosquitto (preferred) or amqtt (fallback).

Every broker listens on 127.0.0.1 only, on free ports, with its own configuration in a
temporary folder, and is stopped by the fixture that started it. Process handling, TLS
certificates and free ports come from the testing kit (:mod:`eq1_network.testing`);
what is here is specific to mosquitto and amqtt.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from eq1_network.testing import PeerProcess, TLSFiles, free_port, make_tls_files

if TYPE_CHECKING:
    from typing_extensions import Self

HOST = "127.0.0.1"
USERNAME = "eq1-user"
PASSWORD = "correct horse battery staple"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 15.0


class MosquittoProcess:
    """What every mosquitto wrapper shares: the process, its log, start, stop and kill.

    Subclasses set ``executable``, ``folder``, ``config``, ``log`` and ``port`` and may
    list further ports to wait for in :meth:`ports`. mosquitto's own log output goes to
    ``log`` whether the configuration names it (``log_dest file``) or not (stderr).
    """

    kind = "mosquitto"
    executable: str
    folder: Path
    config: Path
    log: Path
    port: int
    peer: PeerProcess | None = None

    def ports(self) -> tuple[int, ...]:
        """The ports to wait for after a start (0 entries are ignored)."""
        return (self.port,)

    def start(self) -> Self:
        """Start (or restart) the process and wait until every listener accepts connections."""
        self.peer = PeerProcess([self.executable, "-c", str(self.config)], log=self.log).start()
        for port in self.ports():
            if port:
                self.peer.wait_listening(port, HOST, START_TIMEOUT)
        return self

    def signal(self, sig: int) -> None:
        """Send a signal (``SIGUSR1`` makes mosquitto save its persistence file)."""
        if self.peer is not None:
            self.peer.send_signal(sig)

    def log_text(self) -> str:
        """The log so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """Stop gracefully (SIGTERM; mosquitto saves persistent sessions)."""
        if self.peer is not None:
            self.peer.stop(signal.SIGTERM, STOP_TIMEOUT)

    def kill(self) -> None:
        """Kill at once (SIGKILL), as a crash would."""
        if self.peer is not None:
            self.peer.kill()

    def close(self) -> None:
        """Stop and remove the folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class MosquittoBroker(MosquittoProcess):
    """A mosquitto process with plain, password, TLS and mutual-TLS listeners.

    Args:
        executable: Path of ``mosquitto``.
        persistence: Keep sessions on disk across restarts.
        tls: Create the TLS listeners (needs trustme).
    """

    def __init__(self, executable: str, *, persistence: bool = False, tls: bool = True) -> None:
        self.executable = executable
        self.folder = Path(tempfile.mkdtemp(prefix="eq1-mosquitto-"))
        # mosquitto started as root drops to the "mosquitto" user: keep files readable.
        os.chmod(self.folder, 0o755)
        self.port = free_port()
        self.auth_port = free_port()
        self.tls_port = free_port() if tls else 0
        self.mtls_port = free_port() if tls else 0
        self.wrong_name_port = free_port() if tls else 0
        self.tls: TLSFiles | None = make_tls_files(self.folder) if tls else None
        self.log = self.folder / "mosquitto.log"
        self._write_passwords()
        self._write_config(persistence)

    def _write_passwords(self) -> None:
        passwd = self.folder / "passwd"
        tool = shutil.which("mosquitto_passwd") or "mosquitto_passwd"
        subprocess.run(
            [tool, "-b", "-c", str(passwd), USERNAME, PASSWORD],
            check=True,
            capture_output=True,
            timeout=30,
        )
        self.passwd = passwd

    def _write_config(self, persistence: bool) -> None:
        lines = [
            "per_listener_settings true",
            "max_queued_messages 100000",
            "queue_qos0_messages true",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {self.folder}/",
            f"log_dest file {self.log}",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        lines += [f"listener {self.port} {HOST}", "allow_anonymous true"]
        lines += [
            f"listener {self.auth_port} {HOST}",
            "allow_anonymous false",
            f"password_file {self.passwd}",
        ]
        if self.tls is not None:
            t = self.tls
            for port, cert, key, extra in (
                (self.tls_port, t.server_cert, t.server_key, []),
                (self.mtls_port, t.server_cert, t.server_key, ["require_certificate true"]),
                (self.wrong_name_port, t.wrong_name_cert, t.wrong_name_key, []),
            ):
                lines += [
                    f"listener {port} {HOST}",
                    "allow_anonymous true",
                    f"cafile {t.ca}",
                    f"certfile {cert}",
                    f"keyfile {key}",
                    *extra,
                ]
        self.config = self.folder / "mosquitto.conf"
        self.config.write_text("\n".join(lines) + "\n")
        for path in self.folder.iterdir():
            os.chmod(path, 0o644)

    def ports(self) -> tuple[int, ...]:
        """Every listener's port."""
        return (self.port, self.auth_port, self.tls_port, self.mtls_port)


class AmqttBroker:
    """An amqtt broker (MQTT 3.1.1 only), used when mosquitto is not installed."""

    kind = "amqtt"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="eq1-amqtt-"))
        self.port = free_port()
        self.log = self.folder / "amqtt.log"
        self.config = self.folder / "amqtt.yaml"
        self.config.write_text(
            "listeners:\n  default:\n    type: tcp\n"
            f"    bind: {HOST}:{self.port}\n"
            "plugins:\n"
            "  amqtt.plugins.authentication.AnonymousAuthPlugin:\n    allow_anonymous: true\n"
        )
        self.peer: PeerProcess | None = None

    def start(self) -> AmqttBroker:
        """Start the broker process and wait for its port."""
        argv = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(self.config)]
        self.peer = PeerProcess(argv, log=self.log).start()
        self.peer.wait_listening(self.port, HOST, START_TIMEOUT)
        return self

    def close(self) -> None:
        """Stop and remove the folder."""
        if self.peer is not None:
            self.peer.stop(signal.SIGTERM, STOP_TIMEOUT)
        shutil.rmtree(self.folder, ignore_errors=True)


class StockMosquitto(MosquittoProcess):
    """A mosquitto with stock settings: one listener and anonymous access, nothing else.

    ``extra`` lines are appended (persistence, or a broker limit under test; ``{folder}``
    in them names the broker's folder); the log goes to ``log`` (mosquitto's default
    destination, stderr, redirected).

    Args:
        executable: Path of ``mosquitto``.
        extra: Further configuration lines.
    """

    def __init__(self, executable: str, extra: tuple[str, ...] = ()) -> None:
        self.executable = executable
        self.folder = Path(tempfile.mkdtemp(prefix="eq1-mosquitto-stock-"))
        # mosquitto started as root runs as the "mosquitto" user: it must write here.
        os.chmod(self.folder, 0o777)
        self.port = free_port()
        self.log = self.folder / "mosquitto.log"
        self.config = self.folder / "mosquitto.conf"
        lines = [f"listener {self.port} {HOST}", "allow_anonymous true"]
        lines += [line.format(folder=self.folder) for line in extra]
        self.config.write_text("\n".join(lines) + "\n")
        os.chmod(self.config, 0o644)
