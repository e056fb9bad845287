"""Round trips and whole-answer reads, which every :class:`ReqResProtocol` has.

:class:`AnswerReads` is a base of :class:`ReqResProtocol`; its methods use only the
interface's public reads and writes, so every transport gets them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from eq1_network.interfaces import _reading

if TYPE_CHECKING:
    from eq1_network.interfaces._reqres_protocol import ReqResProtocol

__all__ = ["AnswerReads"]


class AnswerReads:
    """Round trips (:meth:`exchange`, :meth:`query`) and whole-answer reads."""

    def exchange(self, data: bytes, timeout: float) -> bytes | None:
        """Send ``data``, then wait up to ``timeout`` seconds for bytes back.

        One round trip of a request/response exchange in one call: the outcome of
        ``send(data)`` followed by ``read_within(timeout)``. Transports may override
        it with a path of fewer steps; the outcome stays the same. Callers that need
        a whole answer keep reading with :meth:`read_within` until they have it.

        Args:
            data: The request (``bytes``, ``bytearray`` or ``memoryview``).
            timeout: Longest wait for the first bytes back, in seconds (``0`` only
                looks).

        Returns:
            The bytes that arrived (at least one byte, possibly only part of the
            answer), or ``None`` if nothing arrived in time.

        Raises:
            ProtocolTypeError: If ``data`` is not bytes-like.
            ProtocolNotConnectedError: If the protocol is not connected.
            ProtocolConnectionError: If the link broke.
            ProtocolTimeoutError: If the transport's write deadline passed.
        """
        protocol = cast("ReqResProtocol", self)
        protocol.send(data)
        return protocol.read_within(timeout)

    def read_until(
        self,
        terminator: bytes = b"\n",
        *,
        max_bytes: int = _reading.DEFAULT_MAX_BYTES,
        timeout: float | None = None,
    ) -> bytes:
        """Read one answer: everything up to and including ``terminator``.

        Bytes that arrive after the terminator stay buffered for the next read, so two
        answers that arrive in one chunk are returned by two calls.

        Args:
            terminator: The bytes that end an answer, e.g. ``b"\\r\\n"``.
            max_bytes: Longest accepted answer, terminator included.
            timeout: Longest wait in seconds; ``None`` applies the timeout rule.

        Returns:
            The answer, terminator included.

        Raises:
            ProtocolTimeoutError: If the terminator did not arrive in time; the bytes
                received so far stay buffered for the next read.
            PacketSizeError: If ``max_bytes`` bytes arrived without a terminator; they
                stay buffered (take them with :meth:`read` to discard them).
            ProtocolTypeError: If ``terminator`` is not bytes.
            ProtocolValidationError: If ``terminator`` is empty, ``max_bytes`` is
                shorter than it or ``timeout`` is negative.
            ProtocolConnectionError: If the link broke.
        """
        return _reading.read_until(cast("ReqResProtocol", self), terminator, max_bytes, timeout)

    def read_exactly(self, n: int, *, timeout: float | None = None) -> bytes:
        """Read exactly ``n`` bytes; any surplus stays buffered for the next read.

        Args:
            n: How many bytes (``0`` returns ``b""``).
            timeout: Longest wait in seconds; ``None`` applies the timeout rule.

        Returns:
            The ``n`` bytes.

        Raises:
            ProtocolTimeoutError: If fewer than ``n`` bytes arrived in time; they stay
                buffered for the next read.
            ProtocolValidationError: If ``n`` or ``timeout`` is negative.
            ProtocolConnectionError: If the link broke.
        """
        return _reading.read_exactly(cast("ReqResProtocol", self), n, timeout)

    def query(
        self,
        data: bytes,
        *,
        until: bytes | None = None,
        size: int | None = None,
        max_bytes: int = _reading.DEFAULT_MAX_BYTES,
        timeout: float | None = None,
    ) -> bytes:
        """Send a request and read its answer.

        The answer ends with ``until`` (default ``b"\\n"``), or is ``size`` bytes long.
        Bytes left over from an earlier answer are read first, as by any read.

        Args:
            data: The request.
            until: Terminator of the answer; ``None`` means ``b"\\n"`` unless ``size``
                is given.
            size: Exact length of the answer, instead of a terminator.
            max_bytes: Longest accepted answer when reading up to a terminator.
            timeout: Longest wait for the answer in seconds; ``None`` applies the
                timeout rule. Sending has the transport's own write timeout.

        Returns:
            The answer (terminator included).

        Raises:
            ProtocolTimeoutError: If the answer did not arrive in time (the bytes
                received so far stay buffered).
            PacketSizeError: If the answer exceeds ``max_bytes``.
            ProtocolValidationError: If both ``until`` and ``size`` are given, or an
                argument is out of range; nothing is sent then.
            ProtocolConnectionError: If the link broke.
        """
        return _reading.query(cast("ReqResProtocol", self), data, until, size, max_bytes, timeout)
