"""The request/response interface, :class:`ReqResProtocol`, over a byte stream."""

from __future__ import annotations

import abc
import time
from typing import Any

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotConnectedError,
)
from eq1_network.interfaces import _reading
from eq1_network.interfaces._answer_reads import AnswerReads
from eq1_network.interfaces._base_protocol import BaseProtocol

__all__ = ["ReqResProtocol", "has_readiness_wait"]


class ReqResProtocol(AnswerReads, BaseProtocol):
    """Request/response transport over a byte stream.

    A transport implements the raw hooks :meth:`_send_raw` and :meth:`_read_raw`
    (and, optionally, :meth:`_wait_readable_raw`, :meth:`_read_within_raw`,
    :meth:`_link_ready`, :meth:`_not_connected_error` and :meth:`_link_error`); the
    public :meth:`send` and :meth:`read` check the argument and the connection and map
    ``OSError`` to the library's exceptions, so every transport behaves alike. Every
    protocol also has the whole-answer reads :meth:`read_until`, :meth:`read_exactly`
    and :meth:`query`.

    Deprecated: a subclass may still override ``send`` and ``read`` themselves (and
    ``read_within`` and ``wait_readable``); it then does its own checks, and creating
    such a class without the hooks warns with a :class:`DeprecationWarning`.

    Timeouts: every waiting read takes ``timeout`` in seconds; ``None`` means the
    protocol's own :attr:`timeout`, or 1 s when that is ``None`` too (the same rule as
    :meth:`ReqResManager.read <eq1_network.ReqResManager.read>`). When it passes, the
    whole-answer reads raise
    :class:`~eq1_network.common.exceptions.ProtocolTimeoutError`; only
    :meth:`read_within` returns ``None`` instead.

    Pushback: bytes a whole-answer read received but does not return (what followed
    the terminator, the bytes received before a timeout or a size error) are kept on
    the instance, and the next :meth:`read`, :meth:`read_within`, :meth:`read_until`
    or :meth:`read_exactly` returns them first (a subclass that overrides ``read``,
    ``read_within`` or ``wait_readable`` has them wrapped when the class is created
    so that they consult this buffer too). Per-peer methods of a server transport
    (``receive``) and message-level reads (``read_json``) do not see it.

    One reader at a time: a protocol does not support concurrent readers; reading
    from two threads at once may split or reorder an answer.

    Message transports: a transport that moves whole messages (datagrams) rather than
    a byte stream sets :attr:`max_message_size`. Each ``send()`` is then one message of
    at most that many bytes, each read returns one whole message, and a message may be
    lost, duplicated or reordered: :class:`~eq1_network.NetworkHandler` puts only whole
    frames in each message and, in acknowledged mode, writes unacknowledged messages
    again after ``NetworkConfig.ack_timeout``.

    Attributes:
        timeout: Default deadline in seconds used when waiting for data; ``None``
            lets the caller decide.
        max_message_size: Largest number of bytes one ``send()`` carries as one
            message, for a message transport; ``None`` (the default) for a byte stream.
    """

    timeout: float | None = None
    max_message_size: int | None = None
    _pushback: bytes = b""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _reading.adopt_subclass(cls, ReqResProtocol)

    def send(self, data: bytes) -> int:
        """Send all of ``data``.

        Checks the argument and the connection, then calls :meth:`_send_raw`; an
        ``OSError`` from it becomes
        :class:`~eq1_network.common.exceptions.ProtocolConnectionError`.

        Args:
            data: The bytes to send (``bytes``, ``bytearray`` or ``memoryview``).

        Returns:
            The number of bytes sent, ``len(data)`` on success.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like (encode text first).
            ProtocolNotConnectedError: If the protocol is not connected.
            ProtocolConnectionError: If the link broke.
            ProtocolTimeoutError: If the transport's write deadline passed.
        """
        if type(data) is not bytes:
            data = _reading.as_payload(data)
        if not self._link_ready():
            raise self._not_connected_error("send()")
        try:
            return self._send_raw(data)
        except ProtocolError:
            raise
        except OSError as exc:
            raise self._link_error("send()", exc) from exc

    def read(self) -> tuple[bool, bytes | None]:
        """Return the data waiting, without blocking.

        Bytes kept by a whole-answer read come first; otherwise :meth:`_read_raw` is
        called, and an ``OSError`` from it becomes
        :class:`~eq1_network.common.exceptions.ProtocolConnectionError`.

        Returns:
            ``(True, data)`` when bytes were waiting, ``(False, None)`` otherwise
            (also when not connected).

        Raises:
            ProtocolConnectionError: If the link broke and the transport reports it
                from ``read``.
        """
        if self._pushback:
            return True, _reading.take_pushback(self)
        try:
            data = self._read_raw()
        except ProtocolError:
            raise
        except OSError as exc:
            raise self._link_error("read()", exc) from exc
        return (True, data) if data else (False, None)

    @abc.abstractmethod
    def _send_raw(self, data: bytes) -> int:
        """Write all of ``data`` to the link: the transport's write hook.

        Called by :meth:`send` with ``bytes`` only, once :meth:`_link_ready` said the
        link is open. An ``OSError`` it raises is mapped by :meth:`_link_error`; the
        library's own exceptions pass through unchanged.

        Args:
            data: The bytes.

        Returns:
            ``len(data)``.
        """

    @abc.abstractmethod
    def _read_raw(self) -> bytes | None:
        """Return the bytes waiting on the link without blocking: the read hook.

        Returns:
            The bytes, or ``None`` (or ``b""``) when none are waiting or the link is
            not connected.
        """

    def _link_ready(self) -> bool:
        """Tell cheaply whether :meth:`send` may call :meth:`_send_raw`.

        The default asks :meth:`is_connected`; transports whose ``is_connected``
        does I/O override it with a plain state test.

        Returns:
            ``True`` if the link is open.
        """
        return self.is_connected()

    def _not_connected_error(self, operation: str) -> ProtocolError:
        """Build the error :meth:`send` raises when :meth:`_link_ready` is false.

        Transports that remember why a link was lost override it to say so (a
        :class:`~eq1_network.common.exceptions.ProtocolConnectionError` then).

        Args:
            operation: The call, e.g. ``"send()"``.

        Returns:
            The exception.
        """
        return ProtocolNotConnectedError(
            f"{operation} on {self!r}: not connected; call connect() first"
        )

    def _link_error(self, operation: str, exc: OSError) -> ProtocolError:
        """Map an ``OSError`` from a hook to the library's exception.

        Transports override it to record the loss (close the link, start a
        reconnection) before returning the error.

        Args:
            operation: The call, e.g. ``"send()"``.
            exc: The error; it becomes the new exception's cause.

        Returns:
            The exception :meth:`send` or :meth:`read` raises.
        """
        return ProtocolConnectionError(f"{operation} on {self!r}: the link broke: {exc}")

    def wait_readable(self, timeout: float | None) -> bool:
        """Wait until :meth:`read` may return data, or until ``timeout`` passes.

        Managers call this between :meth:`read` attempts. It returns at once when
        bytes are kept for the next read, and otherwise calls
        :meth:`_wait_readable_raw`.

        Args:
            timeout: Longest wait in seconds; ``None`` means a short default slice.

        Returns:
            ``True`` if data may be readable now, ``False`` if the wait timed out.
            A ``True`` result is a hint only; :meth:`read` may still return nothing.
        """
        if self._pushback:
            return True
        return self._wait_readable_raw(timeout)

    def _wait_readable_raw(self, timeout: float | None) -> bool:
        """Wait for the link to become readable: the readiness hook.

        The default sleeps for a short interval; transports override it with a real
        readiness wait (a selector, a condition variable) so that waiting costs no
        latency.

        Args:
            timeout: Longest wait in seconds; ``None`` means a short default slice.

        Returns:
            ``True`` if data may be readable now, ``False`` on timeout.
        """
        slice_ = 0.005 if timeout is None else min(0.005, max(timeout, 0.0))
        time.sleep(slice_)
        return True

    def read_within(self, timeout: float) -> bytes | None:
        """Wait up to ``timeout`` seconds for data and return it.

        What :meth:`ReqResManager.read <eq1_network.ReqResManager.read>` calls. Bytes
        kept by a whole-answer read come first; otherwise :meth:`_read_within_raw`
        waits and reads.

        Args:
            timeout: Longest wait in seconds (``0`` only looks).

        Returns:
            The bytes that were waiting (at least one byte), or ``None`` if nothing
            arrived in time. Unlike the whole-answer reads it does not raise on
            timeout.

        Raises:
            ProtocolConnectionError: If the link broke and the transport reports it
                from ``read``.
        """
        if self._pushback:
            return _reading.take_pushback(self)
        try:
            return self._read_within_raw(timeout)
        except ProtocolError:
            raise
        except OSError as exc:
            raise self._link_error("read_within()", exc) from exc

    def _read_within_raw(self, timeout: float) -> bytes | None:
        """Wait up to ``timeout`` seconds and read: the waiting-read hook.

        The default combines :meth:`wait_readable` and :meth:`read`: a protocol with a
        real readiness wait is waited on first, other protocols are read first.
        Transports override it with a single call that both waits and reads.

        Args:
            timeout: Longest wait in seconds (``0`` only looks).

        Returns:
            The bytes, or ``None`` if nothing arrived in time.
        """
        deadline = time.monotonic() + timeout
        if has_readiness_wait(self):
            self.wait_readable(timeout)
        while True:
            ok, data = self.read()
            if ok and data:
                return data
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self.wait_readable(remaining)


def has_readiness_wait(protocol: ReqResProtocol) -> bool:
    """Tell whether a protocol overrides :meth:`ReqResProtocol.wait_readable` with a real wait.

    Readers use it to wait before reading: a real readiness wait returns at once when
    data is waiting, so waiting first saves a read attempt that would find nothing.
    The interface's default only sleeps, so for such protocols readers read first.
    A protocol has one when its class overrides ``_wait_readable_raw`` (or, the
    deprecated way, ``wait_readable``).

    Args:
        protocol: A request/response protocol.

    Returns:
        ``True`` if its class overrides ``wait_readable``.
    """
    cls = type(protocol)
    return (
        cls._wait_readable_raw is not ReqResProtocol._wait_readable_raw  # noqa: SLF001 - compares the class's hook with the interface's default
        or cls.wait_readable is not ReqResProtocol.wait_readable
    )
