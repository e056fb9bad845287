"""Modbus transactions over a byte link: matching answers to requests.

Two engines share one interface, ``execute(unit, pdu, timeout) -> response PDU``:

- :class:`~eq1_network.protocols.modbus._stream_engine.StreamEngine` for Modbus
  TCP: answers are matched by transaction id, so several requests may be
  outstanding on one connection (``max_outstanding``).
- :class:`BusEngine` for a serial line (RTU, ASCII, RTU over TCP): one transaction
  at a time; answers from another unit or for another function are dropped; a
  silent unit times out without closing the port.

Both are thread-safe.
"""

from __future__ import annotations

import threading
import time
from typing import Literal, Protocol

from eq1_network.common.exceptions import (
    ProtocolConnectionError,
    ProtocolTimeoutError,
)
from eq1_network.common.guard import Guard
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.modbus._spec import EXCEPTION_BIT
from eq1_network.protocols.modbus.framers import Frame

__all__ = ["SETTLE", "BusEngine", "Framer", "IdPolicy", "answers"]

logger = get_logger(__name__)

SETTLE = 0.25
"""Seconds a lock stays held by a caller that never began its transaction (an interrupt
hit it right after it took the lock) before the next request takes the lock back."""

IdPolicy = Literal["strict", "lenient"]
"""``"strict"``: an answer must carry its request's transaction id; ``"lenient"``:
also accept 0 or id + 1 (gateways that do not echo the id; one request at a time)."""


class Framer(Protocol):
    """What the engines need of a framer."""

    dropped: int

    def encode(self, unit: int, pdu: bytes, transaction_id: int = 0) -> bytes: ...

    def feed(self, data: bytes) -> list[Frame]: ...

    def pending(self) -> int: ...

    def reset(self) -> None: ...

    def expect_answer_to(self, pdu: bytes) -> None: ...


def answers(frame: Frame, unit: int, function: int) -> bool:
    """Tell whether ``frame`` comes from ``unit`` and answers ``function`` (or is its exception)."""
    return frame.unit == unit and frame.pdu[0] & ~EXCEPTION_BIT == function


class BusEngine:
    """One transaction at a time on a serial line (or RTU over TCP).

    Args:
        link: The connected byte transport.
        framer: An RTU or ASCII framer parsing responses.
        echo: Whether the adapter echoes what is sent (2-wire RS-485); the echo is
            read back and discarded before the answer.
        silence: Seconds of quiet after which a partial frame is discarded;
            ``None`` keeps partial frames until the transaction ends.

    Attributes:
        foreign: Answers dropped because they came from another unit or answered
            another function.
    """

    def __init__(
        self,
        link: ReqResProtocol,
        framer: Framer,
        *,
        echo: bool = False,
        silence: float | None = None,
    ) -> None:
        self._link = link
        self._framer = framer
        self._echo = echo
        self._silence = silence
        self._guard = Guard("the Modbus bus lock", logger, settle=SETTLE)
        self.foreign = 0

    def _take_bus(self, timeout: float) -> threading.Lock:
        """Wait for the bus; a lock left held by an interrupt is taken back (``Guard``)."""
        lock = self._guard.lock
        if lock.acquire(False):
            return lock
        taken = self._guard.take(lock, None, timeout)
        if taken is None:
            raise ProtocolTimeoutError(f"the bus {self._link!r} stayed busy for {timeout} s")
        return taken

    def send_only(self, unit: int, pdu: bytes, timeout: float) -> None:
        """Send a request that gets no answer (a broadcast).

        Args:
            unit: The unit address (0 for broadcast).
            pdu: The request PDU.
            timeout: Seconds to wait for the bus.
        """
        guard, lock = self._guard, self._take_bus(timeout)
        try:
            guard.turn += 1
            frame = self._framer.encode(unit, pdu)
            self._link.send(frame)
            if self._echo:
                self._skip_echo(frame, time.monotonic() + timeout)
        finally:
            guard.turn += 1
            lock.release()

    def execute(self, unit: int, pdu: bytes, timeout: float) -> bytes:
        """Send one request and return the PDU that answers it.

        Args:
            unit: The unit address.
            pdu: The request PDU.
            timeout: Seconds to wait for the answer.

        Returns:
            The response PDU (possibly an exception response).

        Raises:
            ProtocolTimeoutError: If the unit stayed silent; the port stays open.
            ProtocolConnectionError: If the link broke.
        """
        deadline = time.monotonic() + timeout
        guard, lock = self._guard, self._take_bus(timeout)
        try:
            guard.turn += 1
            self._framer.reset()
            self._drop_waiting()
            self._framer.expect_answer_to(pdu)
            frame = self._framer.encode(unit, pdu)
            self._link.send(frame)
            leftover = self._skip_echo(frame, deadline) if self._echo else b""
            return self._await(unit, pdu[0], deadline, timeout, leftover)
        finally:
            guard.turn += 1
            lock.release()

    def _await(
        self, unit: int, function: int, deadline: float, timeout: float, leftover: bytes
    ) -> bytes:
        frames = self._framer.feed(leftover) if leftover else []
        last_byte = time.monotonic()
        while True:
            for frame in frames:
                if answers(frame, unit, function):
                    return frame.pdu
                self.foreign += 1
                logger.debug("dropped an answer for another request: %r", frame)
            now = time.monotonic()
            remaining = deadline - now
            if remaining <= 0:
                self._framer.reset()
                raise ProtocolTimeoutError(
                    f"unit {unit} did not answer function 0x{function:02X} within {timeout} s "
                    f"on {self._link!r}"
                )
            wait = remaining if self._silence is None else min(remaining, self._silence)
            data = self._read(wait)
            if data:
                last_byte = time.monotonic()
                frames = self._framer.feed(data)
                continue
            frames = []
            if self._silence is not None and time.monotonic() - last_byte >= self._silence:
                discard = getattr(self._framer, "discard_partial", None)
                if discard is not None and self._framer.pending():
                    discard()

    def _read(self, timeout: float) -> bytes | None:
        try:
            return self._link.read_within(timeout)
        except ProtocolConnectionError:
            self._framer.reset()
            raise

    def _drop_waiting(self) -> None:
        """Discard bytes that arrived between transactions (late answers, noise)."""
        while True:
            ok, data = self._link.read()
            if not ok or not data:
                return
            self.foreign += 1

    def _skip_echo(self, frame: bytes, deadline: float) -> bytes:
        """Read back the local echo of ``frame``; return bytes that followed it."""
        got = b""
        while len(got) < len(frame):
            remaining = deadline - time.monotonic()
            data = self._read(max(remaining, 0.0)) if remaining > 0 else None
            if not data:
                logger.warning("the local echo of a request did not come back; is echo=True right?")
                return got
            got += data
        if not got.startswith(frame):
            logger.warning("the local echo differs from the request sent; it is parsed as data")
            return got
        return got[len(frame) :]
