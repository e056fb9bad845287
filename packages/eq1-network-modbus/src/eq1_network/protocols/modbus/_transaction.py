"""Modbus transactions over a byte link: matching answers to requests.

Two engines share one interface, ``execute(unit, pdu, timeout) -> response PDU``:

- :class:`StreamEngine` for Modbus TCP: answers are matched by transaction id, so
  several requests may be outstanding on one connection (``max_outstanding``).
  Whichever waiting caller holds the read role reads the link and hands each
  answer to the caller waiting for its id; an answer nobody waits for (it came
  after its request timed out) is dropped and counted.
- :class:`BusEngine` for a serial line (RTU, ASCII, RTU over TCP): one transaction
  at a time; answers from another unit or for another function are dropped; a
  silent unit times out without closing the port.

Both are thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Literal, Protocol

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolConnectionError,
    ProtocolTimeoutError,
)
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.modbus._spec import EXCEPTION_BIT
from eq1_network.protocols.modbus.framers import Frame

__all__ = ["BusEngine", "Framer", "IdPolicy", "StreamEngine"]

logger = logging.getLogger(__name__)

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


def _answers(frame: Frame, unit: int, function: int) -> bool:
    return frame.unit == unit and frame.pdu[0] & ~EXCEPTION_BIT == function


class _Waiter:
    __slots__ = ("function", "pdu", "unit")

    def __init__(self, unit: int, function: int) -> None:
        self.unit = unit
        self.function = function
        self.pdu: bytes | None = None


class StreamEngine:
    """Transaction-id matching over one Modbus TCP connection.

    Args:
        link: The connected byte transport (a ``TCPClient``).
        framer: An MBAP framer.
        max_outstanding: Requests that may wait for answers at once.
        id_policy: How strictly answers must carry their request's id.

    Attributes:
        stale: Answers dropped because no request waited for them.
    """

    def __init__(
        self,
        link: ReqResProtocol,
        framer: Framer,
        *,
        max_outstanding: int = 1,
        id_policy: IdPolicy = "strict",
    ) -> None:
        if id_policy not in ("strict", "lenient"):
            raise ProtocolArgumentError(
                f"transaction_ids={id_policy!r} must be 'strict' or 'lenient'"
            )
        if id_policy == "lenient" and max_outstanding != 1:
            raise ProtocolArgumentError(
                "transaction_ids='lenient' needs max_outstanding=1: answers without their "
                "request's id can only be matched one request at a time"
            )
        self._link = link
        self._framer = framer
        self._lenient = id_policy == "lenient"
        self._slots = threading.BoundedSemaphore(max_outstanding)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._read_role = threading.Lock()
        self._send_lock = threading.Lock()
        self._waiting: dict[int, _Waiter] = {}
        self._next_id = 0
        self._single = threading.Lock() if max_outstanding == 1 else None
        self.max_outstanding = max_outstanding
        self.stale = 0

    def execute(self, unit: int, pdu: bytes, timeout: float) -> bytes:
        """Send one request and return the PDU that answers it.

        Args:
            unit: The unit identifier.
            pdu: The request PDU.
            timeout: Seconds to wait for the answer (and for a free slot).

        Returns:
            The response PDU (possibly an exception response).

        Raises:
            ProtocolTimeoutError: If no answer came in time.
            ProtocolConnectionError: If the link broke.
        """
        if self._single is not None:
            return self._execute_alone(unit, pdu, timeout)
        deadline = time.monotonic() + timeout
        if not self._slots.acquire(timeout=timeout):
            raise ProtocolTimeoutError(
                f"no free request slot within {timeout} s (max_outstanding requests busy)"
            )
        try:
            waiter = _Waiter(unit, pdu[0])
            with self._lock:
                tid = self._next_id = (self._next_id + 1) & 0xFFFF
                self._waiting[tid] = waiter
                if self._lenient:
                    self._drain_stale()
            frame = self._framer.encode(unit, pdu, tid)
            try:
                with self._send_lock:
                    self._link.send(frame)
            except BaseException:
                with self._lock:
                    del self._waiting[tid]
                raise
            try:
                return self._await(tid, waiter, deadline, timeout)
            finally:
                with self._lock:
                    self._waiting.pop(tid, None)
        finally:
            self._slots.release()

    def execute_many(self, unit: int, pdus: list[bytes], timeout: float) -> list[bytes]:
        """Send requests in windows of ``max_outstanding``, one write per window.

        Args:
            unit: The unit identifier.
            pdus: The request PDUs.
            timeout: Seconds to wait for each window's answers.

        Returns:
            The response PDUs, in the order of ``pdus``.

        Raises:
            ProtocolTimeoutError: If an answer did not come in time.
            ProtocolConnectionError: If the link broke.
        """
        if self._single is not None:
            return [self.execute(unit, pdu, timeout) for pdu in pdus]
        answers: list[bytes] = []
        for start in range(0, len(pdus), self.max_outstanding):
            window = pdus[start : start + self.max_outstanding]
            answers += self._execute_window(unit, window, timeout)
        return answers

    def _execute_window(self, unit: int, pdus: list[bytes], timeout: float) -> list[bytes]:
        deadline = time.monotonic() + timeout
        taken = 0
        try:
            for _ in pdus:
                if not self._slots.acquire(timeout=max(deadline - time.monotonic(), 0.0)):
                    raise ProtocolTimeoutError(f"no free request slot within {timeout} s")
                taken += 1
            entries: list[tuple[int, _Waiter]] = []
            with self._lock:
                for pdu in pdus:
                    tid = self._next_id = (self._next_id + 1) & 0xFFFF
                    waiter = _Waiter(unit, pdu[0])
                    self._waiting[tid] = waiter
                    entries.append((tid, waiter))
            try:
                frames = b"".join(
                    self._framer.encode(unit, pdu, tid)
                    for pdu, (tid, _) in zip(pdus, entries, strict=True)
                )
                with self._send_lock:
                    self._link.send(frames)
                return [self._await(tid, waiter, deadline, timeout) for tid, waiter in entries]
            finally:
                with self._lock:
                    for tid, _ in entries:
                        self._waiting.pop(tid, None)
        finally:
            for _ in range(taken):
                self._slots.release()

    def _execute_alone(self, unit: int, pdu: bytes, timeout: float) -> bytes:
        """One request at a time: the caller reads the link itself, no hand-over."""
        started = time.monotonic()
        single = self._single
        assert single is not None
        if not single.acquire(False) and not single.acquire(True, timeout):
            raise ProtocolTimeoutError(f"the connection stayed busy for {timeout} s")
        try:
            tid = self._next_id = (self._next_id + 1) & 0xFFFF
            if self._lenient:
                self._drain_stale()
            link = self._link
            link.send(self._framer.encode(unit, pdu, tid))
            accepted = (tid, 0, (tid + 1) & 0xFFFF) if self._lenient else (tid,)
            function = pdu[0]
            wait = timeout  # the same value each time spares the transport a syscall
            while True:
                if wait <= 0:
                    raise self._timed_out(tid, unit, function, timeout)
                data = link.read_within(wait)
                if data:
                    frames = self._framer.feed(data)
                    if len(frames) == 1:  # the usual case: the answer alone
                        frame = frames[0]
                        if frame.transaction_id in accepted and _answers(frame, unit, function):
                            return frame.pdu
                    answer = self._match(frames, accepted, unit, function)
                    if answer is not None:
                        return answer
                wait = started + timeout - time.monotonic()
        except ProtocolConnectionError:
            self._framer.reset()
            raise
        finally:
            single.release()

    def _match(
        self, frames: list[Frame], accepted: tuple[int, ...], unit: int, function: int
    ) -> bytes | None:
        answer = None
        for frame in frames:
            if (
                answer is None
                and frame.transaction_id in accepted
                and _answers(frame, unit, function)
            ):
                answer = frame.pdu
            else:
                self.stale += 1
                logger.debug("dropped an answer nobody waits for: %r", frame)
        return answer

    def _timed_out(
        self, tid: int, unit: int, function: int, timeout: float
    ) -> ProtocolTimeoutError:
        return ProtocolTimeoutError(
            f"no answer to transaction {tid} (unit {unit}, function "
            f"0x{function:02X}) within {timeout} s from {self._link!r}"
        )

    def _await(self, tid: int, waiter: _Waiter, deadline: float, timeout: float) -> bytes:
        while True:
            if waiter.pdu is not None:
                return waiter.pdu
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._timed_out(tid, waiter.unit, waiter.function, timeout)
            if self._read_role.acquire(blocking=False):
                try:
                    if waiter.pdu is None:
                        self._read_once(remaining)
                finally:
                    self._read_role.release()
                    with self._lock:
                        self._changed.notify_all()
            else:
                with self._lock:
                    # Wait only while someone reads: it notifies when it is done.
                    if waiter.pdu is None and self._read_role.locked():
                        self._changed.wait(remaining)

    def _read_once(self, remaining: float) -> None:
        try:
            data = self._link.read_within(remaining)
        except ProtocolConnectionError:
            self._framer.reset()
            raise
        if not data:
            return
        frames = self._framer.feed(data)
        with self._lock:
            for frame in frames:
                self._deliver(frame)

    def _deliver(self, frame: Frame) -> None:
        waiter = self._waiting.get(frame.transaction_id)
        if waiter is None and self._lenient and len(self._waiting) == 1:
            (tid, only) = next(iter(self._waiting.items()))
            if frame.transaction_id in (0, (tid + 1) & 0xFFFF):
                waiter = only
        if (
            waiter is None
            or waiter.pdu is not None
            or not _answers(frame, waiter.unit, waiter.function)
        ):
            self.stale += 1
            logger.debug("dropped an answer nobody waits for: %r", frame)
            return
        waiter.pdu = frame.pdu

    def _drain_stale(self) -> None:
        """Drop answers already waiting (lenient mode: they may look current)."""
        while True:
            ok, data = self._link.read()
            if not ok or not data:
                return
            self.stale += len(self._framer.feed(data))


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
        self._lock = threading.Lock()
        self.foreign = 0

    def send_only(self, unit: int, pdu: bytes, timeout: float) -> None:
        """Send a request that gets no answer (a broadcast).

        Args:
            unit: The unit address (0 for broadcast).
            pdu: The request PDU.
            timeout: Seconds to wait for the bus.
        """
        if not self._lock.acquire(timeout=timeout):
            raise ProtocolTimeoutError(f"the bus {self._link!r} stayed busy for {timeout} s")
        try:
            frame = self._framer.encode(unit, pdu)
            self._link.send(frame)
            if self._echo:
                self._skip_echo(frame, time.monotonic() + timeout)
        finally:
            self._lock.release()

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
        if not self._lock.acquire(timeout=timeout):
            raise ProtocolTimeoutError(f"the bus {self._link!r} stayed busy for {timeout} s")
        try:
            self._framer.reset()
            self._drop_waiting()
            self._framer.expect_answer_to(pdu)
            frame = self._framer.encode(unit, pdu)
            self._link.send(frame)
            leftover = self._skip_echo(frame, deadline) if self._echo else b""
            return self._await(unit, pdu[0], deadline, timeout, leftover)
        finally:
            self._lock.release()

    def _await(
        self, unit: int, function: int, deadline: float, timeout: float, leftover: bytes
    ) -> bytes:
        frames = self._framer.feed(leftover) if leftover else []
        last_byte = time.monotonic()
        while True:
            for frame in frames:
                if _answers(frame, unit, function):
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
