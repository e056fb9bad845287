"""A threaded TCP peer on 127.0.0.1 that echoes (or silently collects) what it receives."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType

from eq1_network.testing.waiting import DEFAULT_TIMEOUT, wait_until

__all__ = ["EchoServer", "recv_exactly"]


def recv_exactly(sock: socket.socket, size: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
    """Read exactly ``size`` bytes from a socket.

    Args:
        sock: A connected socket (its timeout is set to ``timeout``).
        size: Number of bytes expected.
        timeout: Longest wait for each chunk, in seconds.

    Returns:
        The bytes.

    Raises:
        AssertionError: If the peer closes before ``size`` bytes arrived.
        TimeoutError: If a chunk does not arrive within ``timeout``.
    """
    sock.settimeout(timeout)
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise AssertionError(f"peer closed after {len(data)} of {size} bytes")
        data += chunk
    return bytes(data)


class EchoServer:
    """A TCP server with one accept thread and one thread per connection; it listens at once.

    Every byte received is appended to :attr:`received`; with ``echo`` it is also sent
    back to its sender (an echo peer), without it nothing is ever sent (a sink peer,
    useful to fill a client's send buffer). :attr:`accepted` lists the accepted sockets
    so a test can close or reset them.

    Args:
        echo: Send back what arrives.
        host: The address to listen on (loopback by default).
        port: The port; ``0`` lets the system choose (read it from :attr:`port`).
    """

    def __init__(self, *, echo: bool = True, host: str = "127.0.0.1", port: int = 0) -> None:
        self.echo = echo
        self.host = host
        self.listener = socket.create_server((host, port))
        self.listener.settimeout(0.2)
        self.port = int(self.listener.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self.received = bytearray()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._spawn(self._accept_loop, "echo-accept")

    @property
    def address(self) -> tuple[str, int]:
        """``(host, port)`` to connect to."""
        return self.host, self.port

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
        """Return the connections accepted so far (closed ones included)."""
        with self._lock:
            return list(self.accepted)

    def received_bytes(self) -> bytes:
        """Return a copy of every byte received so far, all connections together."""
        with self._lock:
            return bytes(self.received)

    def wait_connections(self, count: int = 1, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Wait until ``count`` connections were accepted.

        Raises:
            AssertionError: If fewer were accepted within ``timeout``.
        """
        wait_until(lambda: len(self.connections()) >= count, timeout, what=f"{count} connection(s)")

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
        """Stop listening, close every connection and join the threads (idempotent)."""
        self._stop.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        self.close_connections()
        for thread in self._threads:
            thread.join(DEFAULT_TIMEOUT)

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
