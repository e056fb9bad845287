"""The testing kit plugin authors install: waiting, peer processes, TCP peers, ptys, TLS.

Also runs the request/response contract suite in its message-oriented mode against a
small in-test datagram protocol, and checks that the mode catches joined messages.
"""

from __future__ import annotations

import collections
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from eq1_network.common.exceptions import (
    ProtocolNotConnectedError,
    ProtocolTypeError,
    ProtocolValidationError,
)
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.testing import (
    EchoServer,
    PeerProcess,
    ReqResContract,
    free_port,
    make_tls_files,
    pty_pair,
    recv_exactly,
    wait_listening,
    wait_until,
)

TIMEOUT = 20.0


class DatagramLoopback(ReqResProtocol):
    """An in-process echo that keeps message boundaries, like a UDP echo peer."""

    max_message = 512

    def __init__(self, *, join: bool = False) -> None:
        self._cond = threading.Condition()
        self._queue: collections.deque[bytes] = collections.deque()
        self._connected = False
        self._join = join  # a broken variant: one read returns every queued message

    def connect(self) -> bool:
        with self._cond:
            self._connected = True
        return True

    def disconnect(self) -> None:
        with self._cond:
            self._connected = False
            self._queue.clear()

    def is_connected(self) -> bool:
        with self._cond:
            return self._connected

    def send(self, data: bytes) -> int:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise ProtocolTypeError(f"send() needs bytes, got {type(data).__name__}")
        if len(data) > self.max_message:
            raise ProtocolValidationError(f"message of {len(data)} bytes > {self.max_message}")
        with self._cond:
            if not self._connected:
                raise ProtocolNotConnectedError("datagram loopback: send() before connect()")
            self._queue.append(bytes(data))
            self._cond.notify_all()
        return len(data)

    def read(self) -> tuple[bool, bytes | None]:
        with self._cond:
            if not self._queue:
                return False, None
            if self._join:
                data = b"".join(self._queue)
                self._queue.clear()
                return True, data
            return True, self._queue.popleft()

    def wait_readable(self, timeout: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: bool(self._queue), timeout)


class TestMessageOrientedContract(ReqResContract):
    """The contract suite in message mode: every test runs, none is skipped."""

    preserves_boundaries = True
    max_message_size = DatagramLoopback.max_message

    @pytest.fixture
    def protocol(self) -> Iterator[ReqResProtocol]:
        proto = DatagramLoopback()
        yield proto
        proto.disconnect()


def test_message_mode_catches_a_protocol_that_joins_messages() -> None:
    suite = TestMessageOrientedContract()
    suite.timeout = 0.5  # the joined read leaves nothing for the second one
    proto = DatagramLoopback(join=True)
    with pytest.raises(AssertionError, match="no message within"):
        suite.test_consecutive_sends_arrive_in_order(proto)
    proto = DatagramLoopback(join=True)
    with pytest.raises(AssertionError):
        suite.test_concurrent_sends_never_interleave(proto)


def test_message_mode_splits_large_payloads_into_allowed_messages() -> None:
    suite = TestMessageOrientedContract()
    assert [len(c) for c in suite.chunks(b"x" * 1100)] == [512, 512, 76]
    assert ReqResContract().chunks(b"x" * 1100) == [b"x" * 1100]


# -- wait_until --------------------------------------------------------------------


def test_wait_until_returns_the_true_value() -> None:
    calls = iter([None, 0, "found"])
    assert wait_until(lambda: next(calls), timeout=TIMEOUT, what="the third call") == "found"


def test_wait_until_raises_assertion_error_naming_what() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0\.05 s waiting for the moon"):
        wait_until(lambda: False, timeout=0.05, what="the moon")


def test_wait_until_lets_predicate_errors_through() -> None:
    def broken() -> bool:
        raise KeyError("boom")

    with pytest.raises(KeyError):
        wait_until(broken, timeout=TIMEOUT)


# -- PeerProcess -------------------------------------------------------------------

LISTENER = """
import socket, sys
srv = socket.create_server(("127.0.0.1", 0))
print("ready on port", srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
conn.sendall(b"hello")
conn.close()
sys.stdin.read() if False else None
srv.accept()
"""


def test_peer_process_waits_for_its_ready_line_and_port(tmp_path: Path) -> None:
    peer = PeerProcess([sys.executable, "-c", LISTENER], log=tmp_path / "peer.log")
    with peer:
        port = int(peer.wait_line(r"ready on port (\d+)").group(1))
        peer.wait_listening(port)  # its own probe is the first connection
        assert peer.running() and peer.pid is not None
    assert peer.poll() is not None  # stopped and reaped
    assert not peer.running()


def test_peer_process_failure_shows_status_and_log_tail(tmp_path: Path) -> None:
    script = "import sys; print('bad option --frobnicate'); sys.exit(3)"
    peer = PeerProcess([sys.executable, "-c", script], log=tmp_path / "peer.log").start()
    try:
        with pytest.raises(AssertionError) as caught:
            peer.wait_listening(free_port())
        assert "exited with status 3" in str(caught.value)
        assert "bad option --frobnicate" in str(caught.value)
        with pytest.raises(AssertionError, match="bad option"):
            peer.wait_line("never printed")
    finally:
        peer.stop()


def test_peer_process_timeout_shows_log_tail(tmp_path: Path) -> None:
    script = "import time; print('still configuring', flush=True); time.sleep(60)"
    with PeerProcess([sys.executable, "-c", script], log=tmp_path / "p.log") as peer:
        peer.wait_line("still configuring")
        with pytest.raises(AssertionError, match="still configuring"):
            peer.wait_listening(free_port(), timeout=0.2)
    assert peer.poll() is not None


def test_wait_listening_without_a_process_fails_when_nothing_listens() -> None:
    with pytest.raises(AssertionError, match=r"a listener on 127\.0\.0\.1"):
        wait_listening(free_port(), timeout=0.2)


# -- EchoServer ---------------------------------------------------------------------


def test_echo_server_echoes_and_records() -> None:
    with EchoServer() as server, socket.create_connection(server.address, TIMEOUT) as sock:
        sock.sendall(b"ping" * 1000)
        assert recv_exactly(sock, 4000) == b"ping" * 1000
        server.wait_connections(1)
        wait_until(lambda: len(server.received_bytes()) == 4000, what="the bytes recorded")


def test_sink_server_never_answers_and_close_ends_the_client() -> None:
    with EchoServer(echo=False) as server, socket.create_connection(server.address) as sock:
        sock.sendall(b"into the sink")
        wait_until(lambda: server.received_bytes() == b"into the sink", what="the sink to read")
        server.close_connections()
        sock.settimeout(TIMEOUT)
        assert sock.recv(10) == b""  # a FIN, and nothing was ever sent back


def test_free_port_is_bindable() -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        pass


# -- socat pty pairs ---------------------------------------------------------------


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX only")
def test_pty_pair_is_a_null_modem_and_can_be_unplugged(tmp_path: Path) -> None:
    pair = pty_pair(tmp_path)
    with pair:
        a, b = pair.links
        fd_a, fd_b = os.open(a, os.O_RDWR | os.O_NOCTTY), os.open(b, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(fd_a, b"AT\r\n")
            got = b""
            while len(got) < 4:
                ready, _, _ = select.select([fd_b], [], [], TIMEOUT)
                assert ready, "nothing arrived on the far end"
                got += os.read(fd_b, 100)
            assert got == b"AT\r\n"
        finally:
            os.close(fd_a)
            os.close(fd_b)
        pair.stop()
        wait_until(lambda: not a.exists(), what="the link to vanish")
        pair.start()
        assert a.exists() and b.exists()


# -- TLS files ---------------------------------------------------------------------


def _handshake(files_ca: Path, server_cert: Path, server_key: Path) -> None:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(server_cert, server_key)
    client_ctx = ssl.create_default_context(cafile=str(files_ca))
    left, right = socket.socketpair()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(right, server_side=True):
                pass
        except (ssl.SSLError, OSError) as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        left.settimeout(TIMEOUT)
        with client_ctx.wrap_socket(left, server_hostname="127.0.0.1"):
            pass
    finally:
        left.close()
        thread.join(TIMEOUT)
        right.close()


def test_tls_files_verify_against_their_ca_only(tmp_path: Path) -> None:
    files = make_tls_files(tmp_path)
    _handshake(files.ca, files.server_cert, files.server_key)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(files.other_ca, files.server_cert, files.server_key)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(files.ca, files.wrong_name_cert, files.wrong_name_key)
    assert files.client_cert.exists() and files.other_server_key.exists()


# -- docs/writing-a-plugin.md ------------------------------------------------------

GUIDE = Path(__file__).resolve().parents[3] / "docs" / "writing-a-plugin.md"
FENCE = re.compile(r"```(?:python|toml)\n# (?P<path>[\w./-]+)\n(?P<body>.*?)```", re.S)


def _guide_files() -> dict[str, str]:
    return {m["path"]: f"# {m['path']}\n{m['body']}" for m in FENCE.finditer(GUIDE.read_text())}


def _code_lines(source: str) -> int:
    return sum(
        1 for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")
    )


def test_plugin_guide_builds_a_plugin_that_passes_the_contract(tmp_path: Path) -> None:
    files = _guide_files()
    assert set(files) == {
        "pyproject.toml",
        "src/acme_eq1_rawtcp/__init__.py",
        "tests/test_contract.py",
    }
    assert re.search(r'^version = "\d+\.\d+\.\d+"$', files["pyproject.toml"], re.M)
    assert _code_lines(files["src/acme_eq1_rawtcp/__init__.py"]) < 40
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    count = len([n for n in dir(ReqResContract) if n.startswith("test_")])
    assert f"{count} passed" in done.stdout, done.stdout[-2000:]
    hook = subprocess.run(
        [
            sys.executable,
            "-c",
            "import acme_eq1_rawtcp as m; [s] = m.eq1_network_register_protocols(); "
            "print(s.name, s.kind, s.schemes, s.load() is m.RawTCP)",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert hook.stdout.split() == ["rawtcp", "reqres", "('rawtcp',)", "True"], hook.stderr


_IGNORED_SIGINT_CHILD = """
import os, signal, threading
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a background job of a script starts
from eq1_network.testing import allow_interrupts
given_back = allow_interrupts()
threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT)).start()
try:
    threading.Event().wait(30)
except KeyboardInterrupt:
    print("interrupted", given_back, allow_interrupts())
"""


def test_allow_interrupts_gives_sigint_back_to_a_run_that_ignored_it() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IGNORED_SIGINT_CHILD],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.strip() == "interrupted True False", done.stderr
