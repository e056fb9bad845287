"""Fixtures of the TCP tests: real peers on 127.0.0.1, generated TLS certificates.

Peers are started by the tests themselves on free ports: a raw-socket echo server
written here, ``socat`` echo processes, and TCPServer instances. Every fixture stops
what it started (threads joined, processes reaped, sockets closed).
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eq1_network.protocols.ethernet.tcp_client import TCPClient
from eq1_network.protocols.ethernet.tcp_server import TCPServer
from eq1_network.testing import free_port, require_executable

LOCALHOST = "127.0.0.1"
DEADLINE = 20.0
"""Seconds any test waits for something that should happen; generous for busy machines."""


def wait_until(predicate: Callable[[], object], timeout: float = DEADLINE, what: str = "") -> None:
    """Poll ``predicate`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


@pytest.fixture
def until() -> Callable[..., None]:
    """The :func:`wait_until` function, as a fixture (test modules cannot import conftest)."""
    return wait_until


def recv_exactly(sock: socket.socket, size: int, timeout: float = DEADLINE) -> bytes:
    """Read ``size`` bytes from a blocking socket within ``timeout`` seconds."""
    sock.settimeout(timeout)
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise AssertionError(f"peer closed after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


@pytest.fixture
def recv_all() -> Callable[..., bytes]:
    """The :func:`recv_exactly` function, as a fixture."""
    return recv_exactly


class EchoServer:
    """A raw-socket echo server: one accept thread, one thread per connection.

    ``hold`` lists the accepted sockets so tests can close or reset them.
    """

    def __init__(self, *, echo: bool = True) -> None:
        self.echo = echo
        self.listener = socket.create_server((LOCALHOST, 0))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self.received = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept_loop, "echo-accept")

    def _spawn(self, target: Callable[..., None], name: str, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(0.2)
            with self._lock:
                self.accepted.append(conn)
            self._spawn(self._serve, "echo-conn", conn)

    def _serve(self, conn: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.received += data
            if self.echo:
                try:
                    conn.sendall(data)
                except OSError:
                    return

    def connections(self) -> list[socket.socket]:
        with self._lock:
            return list(self.accepted)

    def close_connections(self, *, reset: bool = False) -> None:
        """Close every accepted connection; ``reset`` sends an RST instead of a FIN."""
        for conn in self.connections():
            if reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            else:  # send the FIN now, even while a serving thread still waits on the socket
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        self.close_connections()
        for thread in self._threads:
            thread.join(DEADLINE)


@pytest.fixture
def echo_server() -> Iterator[EchoServer]:
    """A raw-socket echo server on 127.0.0.1."""
    server = EchoServer()
    yield server
    server.stop()


@pytest.fixture
def sink_server() -> Iterator[EchoServer]:
    """A raw-socket server that reads and never answers."""
    server = EchoServer(echo=False)
    yield server
    server.stop()


def start_socat(*args: str) -> subprocess.Popen[bytes]:
    """Start ``socat`` with ``args``; the caller stops it with :func:`stop_process`."""
    socat = require_executable("socat", "echo peer of the TCP integration tests")
    return subprocess.Popen(
        [socat, *args], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Terminate a process and reap it (killing it if it does not stop)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(DEADLINE)
    if proc.stderr is not None:
        proc.stderr.close()


def wait_listening(port: int, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until something accepts TCP connections on 127.0.0.1:port."""

    def ready() -> bool:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            pytest.fail(f"peer process exited with {proc.returncode}: {err}")
        try:
            with socket.create_connection((LOCALHOST, port), timeout=1.0):
                return True
        except OSError:
            return False

    wait_until(ready, what=f"a listener on port {port}")


@pytest.fixture
def socat_factory() -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start ``socat`` processes with given arguments; all are stopped at the end."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> subprocess.Popen[bytes]:
        proc = start_socat(*args)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        stop_process(proc)


@pytest.fixture
def socat_echo() -> Iterator[int]:
    """``socat TCP-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork PIPE``; yields the port."""
    port = free_port()
    proc = start_socat(f"TCP-LISTEN:{port},bind={LOCALHOST},reuseaddr,fork", "PIPE")
    try:
        wait_listening(port, proc)
        yield port
    finally:
        stop_process(proc)


@pytest.fixture
def server() -> Iterator[TCPServer]:
    """A TCPServer listening on 127.0.0.1 with a system-chosen port."""
    srv = TCPServer(LOCALHOST, 0, timeout=DEADLINE)
    srv.connect()
    yield srv
    srv.disconnect()


@pytest.fixture
def clients() -> Iterator[list[TCPClient]]:
    """A list the test appends its clients to; all are disconnected at the end."""
    made: list[TCPClient] = []
    yield made
    for client in made:
        client.disconnect()


def echo_forever(server: TCPServer, stop: threading.Event) -> None:
    """Send every chunk a TCPServer receives back to its sender, until ``stop`` is set."""
    while not stop.is_set():
        message = server.receive(0.1)
        if message is None:
            continue
        with contextlib.suppress(ConnectionError, TimeoutError):
            server.send_to(message.peer, message.data)


@pytest.fixture
def echo_tcpserver_factory() -> Iterator[Callable[..., TCPServer]]:
    """Make connected TCPServers that echo (one responder thread each); all stopped at the end."""
    started: list[tuple[TCPServer, threading.Event, threading.Thread]] = []

    def make(**kwargs: object) -> TCPServer:
        srv = TCPServer(LOCALHOST, 0, timeout=DEADLINE, **kwargs)
        srv.connect()
        stop = threading.Event()
        thread = threading.Thread(target=echo_forever, args=(srv, stop), daemon=True)
        thread.start()
        started.append((srv, stop, thread))
        return srv

    yield make
    for srv, stop, thread in started:
        stop.set()
        thread.join(DEADLINE)
        srv.disconnect()


# -- TLS material ------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    """PEM files generated for the tests."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    other_ca: Path
    other_server_cert: Path
    other_server_key: Path


def _make_ca(name: str) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(ca: tuple[Any, Any], name: str, *, server: bool) -> tuple[Any, Any]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOCALHOST))]
            ),
            critical=False,
        )
    cert = builder.sign(ca_key, hashes.SHA256())
    return key, cert


def _write(path: Path, key: Any, cert: Any) -> Path:
    from cryptography.hazmat.primitives import serialization

    data = b""
    if cert is not None:
        data += cert.public_bytes(serialization.Encoding.PEM)
    if key is not None:
        data += key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    path.write_bytes(data)
    return path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    """A CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a
    second, unrelated CA with its own server certificate; all generated here."""
    folder = tmp_path_factory.mktemp("tls")
    ca = _make_ca("EQ-1 Test CA")
    other = _make_ca("Unrelated CA")
    server_key, server_cert = _make_leaf(ca, "localhost", server=True)
    client_key, client_cert = _make_leaf(ca, "eq1-test-client", server=False)
    other_key, other_cert = _make_leaf(other, "localhost", server=True)
    return TLSFiles(
        ca=_write(folder / "ca.pem", None, ca[1]),
        server_cert=_write(folder / "server.pem", None, server_cert),
        server_key=_write(folder / "server.key", server_key, None),
        client_cert=_write(folder / "client.pem", None, client_cert),
        client_key=_write(folder / "client.key", client_key, None),
        other_ca=_write(folder / "other-ca.pem", None, other[1]),
        other_server_cert=_write(folder / "other-server.pem", None, other_cert),
        other_server_key=_write(folder / "other-server.key", other_key, None),
    )
