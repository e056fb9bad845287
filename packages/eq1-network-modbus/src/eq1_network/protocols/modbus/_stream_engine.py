"""Modbus TCP transactions: answers matched to requests by transaction id.

:class:`StreamEngine` runs requests over one Modbus TCP connection:

- ``max_outstanding=1``: one transaction at a time; the calling thread sends its
  request and reads the answer itself. An answer that is exactly the awaited one
  (the usual case) is recognised by :meth:`MBAPFramer.take_answer` without
  building frames.
- Above 1: several requests may be outstanding. Each takes a slot; whichever
  waiting caller holds the read role reads the link and hands each answer to the
  caller waiting for its id.

Either way an answer nobody waits for (it came after its request timed out, or
carries an unknown id) is dropped and counted. The engine is thread-safe.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from time import monotonic

from eq1_network.common.exceptions import (
    ProtocolArgumentError,
    ProtocolConnectionError,
    ProtocolTimeoutError,
)
from eq1_network.common.guard import Guard
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.modbus._transaction import SETTLE, Framer, IdPolicy, answers
from eq1_network.protocols.modbus.framers import Frame, MBAPFramer

__all__ = ["StreamEngine"]

logger = get_logger(__name__)

_GRID = 1 / 64
"""Pipelined reads wait a whole number of these seconds while more than two remain, so
the transport's receive timeout (one system call to change) changes rarely."""


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
        max_outstanding: Requests that may wait for answers at once.
        stale: Answers dropped because no request waited for them.

    Raises:
        ProtocolArgumentError: If ``id_policy`` is unknown, or ``"lenient"`` with
            ``max_outstanding`` above 1.
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
        # Whole answers are taken without framing only when they must carry their id.
        self._whole = framer if isinstance(framer, MBAPFramer) and not self._lenient else None
        self._alone = max_outstanding == 1
        # Held by the one transaction when alone; taken back if an interrupt left it held.
        self._single = Guard("the Modbus transaction lock", logger, settle=SETTLE)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # answers came or the reader left
        self._sleepers = 0  # threads waiting on _changed
        self._slot_freed = threading.Condition(self._lock)
        self._slot_waiters = 0
        self._free = max_outstanding
        self._read_role = Guard("the Modbus read role", logger, settle=SETTLE)
        self._send_lock = threading.Lock()
        self._waiting: dict[int, _Waiter] = {}
        self._next_id = 0
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
        if self._alone:
            return self._execute_alone(unit, pdu, timeout)
        return self._execute_window(unit, [pdu], timeout)[0]

    def executor(self) -> Callable[[int, bytes, float], bytes]:
        """Return the callable :meth:`execute` delegates to for this engine's settings.

        Callers that run many requests keep it to skip the dispatch.

        Returns:
            A function taking and returning what :meth:`execute` does.
        """
        return self._execute_alone if self._alone else self.execute

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
        if self._alone:
            return [self._execute_alone(unit, pdu, timeout) for pdu in pdus]
        size = self.max_outstanding
        if len(pdus) <= size:
            return self._execute_window(unit, pdus, timeout) if pdus else []
        results: list[bytes] = []
        for start in range(0, len(pdus), size):
            results += self._execute_window(unit, pdus[start : start + size], timeout)
        return results

    # -- one request at a time ------------------------------------------------

    def _execute_alone(self, unit: int, pdu: bytes, timeout: float) -> bytes:
        """One request at a time: the caller reads the link itself, no hand-over."""
        started = monotonic()
        guard = self._single
        single = guard.lock
        if not single.acquire(False):
            taken = guard.take(single, None, timeout)
            if taken is None:
                raise ProtocolTimeoutError(f"the connection stayed busy for {timeout} s")
            single = taken
        try:
            guard.turn += 1
            tid = self._next_id = (self._next_id + 1) & 0xFFFF
            if self._lenient:
                self._drain_stale()
            request = self._framer.encode(unit, pdu, tid)
            whole = self._whole
            if whole is None or timeout <= 0:
                self._link.send(request)
                return self._await_alone(tid, unit, pdu[0], started, timeout, None)
            # One call sends and waits; the same wait as the last one spares a system call.
            data = self._link.exchange(request, timeout)
            if data:
                answer = whole.take_answer(data, tid, unit, pdu[0])
                if answer is not None:
                    return answer
            return self._await_alone(tid, unit, pdu[0], started, timeout, data)
        except ProtocolConnectionError:
            self._framer.reset()
            raise
        finally:
            guard.turn += 1
            single.release()

    def _await_alone(
        self, tid: int, unit: int, function: int, started: float, timeout: float, data: bytes | None
    ) -> bytes:
        """Read until the answer to ``tid`` comes.

        ``data`` is what a first read returned that was not the whole answer (empty or
        ``None`` if it returned nothing; ``None`` also when no read was made yet).
        """
        accepted = (tid, 0, (tid + 1) & 0xFFFF) if self._lenient else (tid,)
        whole = self._whole
        link = self._link
        wait = timeout if data is None and whole is None else started + timeout - monotonic()
        while True:
            if data:
                answer = self._match(self._framer.feed(data), accepted, unit, function)
                if answer is not None:
                    return answer
                wait = started + timeout - monotonic()
            if wait <= 0:
                raise self._timed_out(tid, unit, function, timeout)
            data = link.read_within(wait)
            if not data:
                wait = started + timeout - monotonic()
            elif whole is not None:
                answer = whole.take_answer(data, tid, unit, function)
                if answer is not None:
                    return answer

    def _match(
        self, frames: list[Frame], accepted: tuple[int, ...], unit: int, function: int
    ) -> bytes | None:
        answer = None
        for frame in frames:
            if (
                answer is None
                and frame.transaction_id in accepted
                and answers(frame, unit, function)
            ):
                answer = frame.pdu
            else:
                self.stale += 1
                logger.debug("dropped an answer nobody waits for: %r", frame)
        return answer

    def _drain_stale(self) -> None:
        """Drop answers already waiting (lenient mode: they may look current)."""
        while True:
            ok, data = self._link.read()
            if not ok or not data:
                return
            self.stale += len(self._framer.feed(data))

    def _timed_out(
        self, tid: int, unit: int, function: int, timeout: float
    ) -> ProtocolTimeoutError:
        return ProtocolTimeoutError(
            f"no answer to transaction {tid} (unit {unit}, function "
            f"0x{function:02X}) within {timeout} s from {self._link!r}"
        )

    # -- several outstanding --------------------------------------------------

    def _execute_window(self, unit: int, pdus: list[bytes], timeout: float) -> list[bytes]:
        """Send up to ``max_outstanding`` requests in one write and await their answers."""
        deadline = monotonic() + timeout
        entries: list[tuple[int, _Waiter]] = []
        try:
            # Filled in place: an interrupt leaves no slot taken that _leave does not see.
            self._enter(unit, pdus, deadline, timeout, entries)
            encode = self._framer.encode
            frames = b"".join(
                [encode(unit, pdu, tid) for pdu, (tid, _) in zip(pdus, entries, strict=True)]
            )
            with self._send_lock:
                self._link.send(frames)
            return [
                waiter.pdu
                if waiter.pdu is not None
                else self._await(tid, waiter, deadline, timeout)
                for tid, waiter in entries
            ]
        finally:
            self._leave(entries)

    def _enter(
        self,
        unit: int,
        pdus: list[bytes],
        deadline: float,
        timeout: float,
        entries: list[tuple[int, _Waiter]],
    ) -> None:
        """Take one slot per request (all at once); add the requests' ids to ``entries``."""
        count = len(pdus)
        with self._lock:
            while self._free < count:
                remaining = deadline - monotonic()
                if remaining <= 0:
                    raise ProtocolTimeoutError(
                        f"no free request slot within {timeout} s (max_outstanding requests busy)"
                    )
                self._slot_waiters += 1
                try:
                    self._slot_freed.wait(remaining)
                finally:
                    self._slot_waiters -= 1
            waiting = self._waiting
            tid = self._next_id
            for pdu in pdus:
                tid = (tid + 1) & 0xFFFF
                while tid in waiting:  # an id still awaited is never given twice
                    tid = (tid + 1) & 0xFFFF
                waiter = waiting[tid] = _Waiter(unit, pdu[0])
                self._free -= 1
                entries.append((tid, waiter))
            self._next_id = tid

    def _leave(self, entries: list[tuple[int, _Waiter]]) -> None:
        """Forget the requests' ids and free their slots."""
        with self._lock:
            waiting = self._waiting
            for tid, _ in entries:
                del waiting[tid]
            self._free += len(entries)
            if self._slot_waiters:
                self._slot_freed.notify_all()

    def _await(self, tid: int, waiter: _Waiter, deadline: float, timeout: float) -> bytes:
        while True:
            answer = waiter.pdu
            if answer is not None:
                return answer
            remaining = deadline - monotonic()
            if remaining <= 0:
                raise self._timed_out(tid, waiter.unit, waiter.function, timeout)
            role = self._read_role
            lock = role.lock
            if not lock.acquire(False):
                inside = role.turn % 2
                with self._lock:
                    # Counted under the lock the leaving reader takes: it sees this thread.
                    self._sleepers += 1
                    try:
                        # Wait only while someone reads: it notifies when it is done. A role
                        # taken by a caller not reading yet is looked at again soon.
                        if waiter.pdu is None and lock.locked():
                            self._changed.wait(remaining if inside else min(remaining, _GRID))
                    finally:
                        self._sleepers -= 1
                taken = None if inside or waiter.pdu is not None else role.take(lock, None, 0.0)
                if taken is None:
                    continue
                lock = taken  # the role was free, or left held by an interrupted reader
            try:
                role.turn += 1
                if waiter.pdu is None:
                    self._read_once(
                        remaining if remaining < 2 * _GRID else remaining - remaining % _GRID
                    )
            finally:
                role.turn += 1
                lock.release()
                with self._lock:
                    if self._sleepers:
                        self._changed.notify_all()

    def _read_once(self, wait: float) -> None:
        try:
            data = self._link.read_within(wait)
        except ProtocolConnectionError:
            self._framer.reset()
            raise
        if not data:
            return
        frames = self._framer.feed(data)
        with self._lock:
            waiting = self._waiting
            for frame in frames:
                unit, pdu, tid = frame
                waiter = waiting.get(tid)
                if (
                    waiter is not None
                    and waiter.pdu is None
                    and unit == waiter.unit
                    and pdu[0] & 0x7F == waiter.function
                ):
                    waiter.pdu = pdu
                else:
                    self.stale += 1
                    logger.debug("dropped an answer nobody waits for: %r", frame)
