"""Opening a client connection: TCP connect, socket tuning, TLS handshake, error mapping."""

from __future__ import annotations

import contextlib
import socket
import ssl
import time

from eq1_network.common.exceptions import ProtocolAuthenticationError, ProtocolConnectionError
from eq1_network.protocols.ethernet._config import KeepAlive
from eq1_network.protocols.ethernet._sockopts import tune_socket
from eq1_network.protocols.ethernet._stream import SocketStream

__all__ = ["open_stream"]


def open_stream(
    host: str,
    port: int,
    *,
    timeout: float,
    context: ssl.SSLContext | None,
    server_hostname: str | None,
    nodelay: bool,
    keepalive: KeepAlive,
    quickack: bool = False,
) -> SocketStream:
    """Connect to ``host:port`` and return the ready stream.

    Args:
        host: Host name or address.
        port: Port number.
        timeout: Deadline in seconds for the TCP connect and the TLS handshake together.
        context: Client TLS context, or ``None`` for plain TCP.
        server_hostname: Name the server certificate is checked against (``host``
            when ``None``).
        nodelay: Set ``TCP_NODELAY``.
        keepalive: Keep-alive settings.
        quickack: Acknowledge received data at once (see ``SocketStream.quickack``).

    Returns:
        The connected, non-blocking stream.

    Raises:
        ProtocolAuthenticationError: If the server certificate was rejected.
        ProtocolConnectionError: If the peer refused, was unreachable, did not answer
            in time, or the TLS handshake failed. The message names ``host:port``.
    """
    where = f"{host}:{port}"
    deadline = time.monotonic() + timeout
    sock = _tcp_connect(host, port, timeout, where)
    try:
        tune_socket(sock, nodelay=nodelay, keepalive=keepalive)
        if context is not None:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock = context.wrap_socket(sock, server_hostname=server_hostname or host)
        stream = SocketStream(sock, kernel_waits=True)
        stream.quickack = quickack
        return stream
    except OSError as exc:  # ssl.SSLError and TimeoutError included
        _close(sock)
        raise _set_up_error(exc, where, timeout) from exc


def _tcp_connect(host: str, port: int, timeout: float, where: str) -> socket.socket:
    """Open the TCP connection; a failure becomes a ``ProtocolConnectionError`` naming ``where``."""
    try:
        return socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        raise ProtocolConnectionError(
            f"cannot connect to {where}: host name not resolved ({exc.strerror or exc})"
        ) from exc
    except ConnectionRefusedError as exc:
        raise ProtocolConnectionError(
            f"cannot connect to {where}: connection refused (is a server listening there?)"
        ) from exc
    except TimeoutError as exc:
        raise ProtocolConnectionError(
            f"cannot connect to {where}: no answer within {timeout:g} s"
        ) from exc
    except OSError as exc:
        raise ProtocolConnectionError(f"cannot connect to {where}: {exc.strerror or exc}") from exc


def _set_up_error(exc: OSError, where: str, timeout: float) -> ProtocolConnectionError:
    """Map a failure of the set-up after the TCP connect (the TLS handshake, mostly)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ProtocolAuthenticationError(
            f"TLS handshake with {where} failed: server certificate rejected: "
            f"{exc.verify_message or exc}",
            reason_code=exc.verify_code,
            reason_name=exc.verify_message,
        )
    if isinstance(exc, TimeoutError):
        return ProtocolConnectionError(
            f"TLS handshake with {where} failed: no answer within {timeout:g} s"
        )
    return ProtocolConnectionError(f"TLS handshake with {where} failed: {exc}")


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.close()
