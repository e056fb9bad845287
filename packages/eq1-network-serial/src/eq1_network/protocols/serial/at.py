"""AT commands over any request/response protocol.

:class:`AtClient` sends a command, collects the response lines until a final
result code and returns an :class:`AtResponse`. Unsolicited result codes that
arrive meanwhile (``RING``, ``+CMTI: "SM",3``...) go to the ``on_urc`` callback,
never into the response. Parsing is done by the sans-I/O
:class:`~eq1_network.protocols.serial.at_parser.AtParser`; this module only moves
bytes between it and the protocol.

Example::

    from eq1_network.protocols.serial import AtClient, SerialProtocol

    with SerialProtocol("/dev/ttyUSB2", 115200) as modem:
        at = AtClient(modem, on_urc=lambda urc: print("URC:", urc.text))
        print(at.command("AT+CSQ").values("+CSQ"))           # ['20,99']
        at.command('AT+CMGS="+821012345678"', payload=b"hello")  # waits for '> '
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Final

from eq1_network.common.exceptions import (
    PacketSizeError,
    ProtocolArgumentError,
    ProtocolTimeoutError,
    ProtocolTypeError,
)
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.protocols.serial.at_parser import (
    DEFAULT_MAX_LINE,
    DEFAULT_URC_PREFIXES,
    AtEvent,
    AtParser,
    AtStatus,
    Echo,
    FinalResult,
    InfoLine,
    NeedData,
    Prompt,
    Unsolicited,
)

__all__ = ["CTRL_Z", "DEFAULT_AT_TIMEOUT", "AtClient", "AtResponse", "UrcCallback"]

logger = get_logger(__name__)

DEFAULT_AT_TIMEOUT: Final = 5.0
"""Seconds a command waits for its final result code unless told otherwise."""

CTRL_Z: Final = b"\x1a"
"""Ends a payload typed after a ``>`` prompt (27.005 ``AT+CMGS``)."""

_MAX_DRAIN_READS: Final = 256
"""Most reads one idle drain makes, so a device that never stops talking cannot hold it."""

UrcCallback = Callable[[Unsolicited], None]
"""Signature of ``on_urc``."""


@dataclass(frozen=True)
class AtResponse:
    """The structured response to one AT command.

    Attributes:
        command: The command as sent (without the line ending).
        status: The final result code.
        result: The final result line, e.g. ``"OK"`` or ``"+CME ERROR: 10"``.
        lines: Information lines, decoded and stripped, in order.
        raw_lines: The same lines as received bytes.
        value: The value after the result code (``"10"`` of ``+CME ERROR: 10``,
            ``"9600"`` of ``CONNECT 9600``), or ``None``.
        error_code: ``value`` as an int for numeric ``+CME``/``+CMS ERROR``, else ``None``.
    """

    command: str
    status: AtStatus
    result: str
    lines: tuple[str, ...] = ()
    raw_lines: tuple[bytes, ...] = ()
    value: str | None = None
    error_code: int | None = None

    @property
    def ok(self) -> bool:
        """Whether the final result code is ``OK``."""
        return self.status is AtStatus.OK

    def values(self, prefix: str) -> list[str]:
        """Return what follows ``prefix`` in the information lines that start with it.

        Args:
            prefix: E.g. ``"+CSQ"`` (a trailing ``:`` is optional).

        Returns:
            ``["20,99"]`` for ``+CSQ: 20,99``; empty when no line matches.
        """
        head = prefix if prefix.endswith(":") else prefix + ":"
        return [line[len(head) :].strip() for line in self.lines if line.startswith(head)]


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ProtocolArgumentError(f"timeout must be a number of seconds, got {timeout!r}")
    if not math.isfinite(timeout) or timeout < 0:
        raise ProtocolArgumentError(f"timeout must be finite and non-negative, got {timeout!r}")
    return float(timeout)


def _check_bytes(name: str, value: object) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise ProtocolTypeError(f"{name} must be bytes, got {type(value).__name__}")
    return bytes(value)


class AtClient:
    """Sends AT commands through a connected :class:`ReqResProtocol` and parses the answers.

    One command runs at a time (other threads wait for their turn, up to their
    timeout). Between commands, :meth:`poll` reads and dispatches unsolicited codes.
    The client owns the protocol's input while it works: do not read the protocol
    elsewhere at the same time.

    After a command times out, its answer may still come. The next final result
    code that arrives is taken for that late answer and dropped, with the lines
    before it, so it is never mistaken for the answer of the next command. If the
    timed-out command never answers, the next command times out in turn (it lost its
    own result code to that guess), and the client is in step again after that.

    Args:
        protocol: A connected protocol, usually a ``SerialProtocol``.
        on_urc: Called with each :class:`Unsolicited` code, from the thread running
            :meth:`command` or :meth:`poll`. It must not call this client (queue the
            work instead); exceptions it raises are logged.
        timeout: Default seconds to wait for a final result code.
        line_ending: Appended to each command; ``b"\\r"`` as V.250 specifies.
        payload_end: Appended to a payload sent after a ``>`` prompt; ``b""`` for
            fixed-length payloads (``AT+CIPSEND=<n>``).
        urc_prefixes: Prefixes treated as unsolicited during a command.
        encoding: Encoding of command and response text.
        max_line: Longest response line accepted, in bytes.

    Raises:
        ProtocolTypeError: If ``protocol`` is not a ``ReqResProtocol``.
        ProtocolValidationError: If another argument is invalid.
    """

    def __init__(
        self,
        protocol: ReqResProtocol,
        *,
        on_urc: UrcCallback | None = None,
        timeout: float = DEFAULT_AT_TIMEOUT,
        line_ending: bytes = b"\r",
        payload_end: bytes = CTRL_Z,
        urc_prefixes: Iterable[str] = DEFAULT_URC_PREFIXES,
        encoding: str = "utf-8",
        max_line: int = DEFAULT_MAX_LINE,
    ) -> None:
        if not isinstance(protocol, ReqResProtocol):
            raise ProtocolTypeError(
                f"protocol must be a ReqResProtocol, got {type(protocol).__name__}"
            )
        if on_urc is not None and not callable(on_urc):
            raise ProtocolArgumentError(f"on_urc must be callable or None, got {on_urc!r}")
        self.timeout = _check_timeout(timeout)
        self.line_ending = _check_bytes("line_ending", line_ending)
        if not self.line_ending:
            raise ProtocolArgumentError("line_ending must not be empty")
        self.payload_end = _check_bytes("payload_end", payload_end)
        self.encoding = encoding
        self.protocol = protocol
        self.on_urc = on_urc
        self._parser = AtParser(urc_prefixes=urc_prefixes, encoding=encoding, max_line=max_line)
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._stale = False  # a timed-out command's final result code may still come
        self._guessed = False  # this call took a final result code for that late one

    # -- public API ----------------------------------------------------------

    def command(
        self,
        command: str | bytes,
        *,
        timeout: float | None = None,
        payload: bytes | None = None,
        payload_end: bytes | None = None,
    ) -> AtResponse:
        """Send one command line and collect its response.

        Args:
            command: E.g. ``"AT+CSQ"``; no CR or LF (the line ending is added).
            timeout: Seconds to wait for the final result code; default the client's.
            payload: Bytes to send when the modem prompts with ``>`` (text or binary),
                followed by ``payload_end``.
            payload_end: Overrides the client's ``payload_end`` for this command.

        Returns:
            The response, whatever the final result code (check :attr:`AtResponse.ok`).

        Raises:
            ProtocolTypeError: If ``command`` or ``payload`` has the wrong type.
            ProtocolValidationError: If ``command`` is empty or holds CR/LF, if the
                payload contains its terminator, or if called from ``on_urc``.
            ProtocolTimeoutError: If no final result code arrived in time; the message
                lists the lines received so far.
            ProtocolConnectionError: If the link broke.
        """
        text, line = self._encode_command(command)
        body = None if payload is None else _check_bytes("payload", payload)
        end = self.payload_end if payload_end is None else _check_bytes("payload_end", payload_end)
        if body is not None and end and end in body:
            raise ProtocolArgumentError(
                f"payload contains its terminator {end!r}; use payload_end=b'' with a "
                "length-prefixed command for binary data"
            )
        deadline = self._deadline(timeout)
        with self._turn(deadline, text):
            self._drain_idle()
            self._parser.start_command(text, expect_prompt=body is not None)
            self.protocol.send(line + self.line_ending)
            prompt_reply = None if body is None else body + end
            return self._collect(text, deadline, prompt_reply)

    def wait_result(self, timeout: float | None = None) -> AtResponse:
        """Collect lines until a final result code without sending a command.

        Use it after data mode (``CONNECT``) ends, e.g. after :meth:`read_raw`.

        Args:
            timeout: Seconds to wait; default the client's.

        Returns:
            The response; its ``command`` is ``""``.

        Raises:
            ProtocolTimeoutError: If no final result code arrived in time.
            ProtocolConnectionError: If the link broke.
        """
        deadline = self._deadline(timeout)
        with self._turn(deadline, "wait_result"):
            self._parser.expect_result()
            return self._collect("", deadline, None)

    def read_raw(self, size: int, timeout: float | None = None) -> bytes:
        """Read exactly ``size`` bytes of binary data (data mode after ``CONNECT``).

        Args:
            size: Number of bytes.
            timeout: Seconds to wait; default the client's.

        Returns:
            The bytes.

        Raises:
            ProtocolValidationError: If ``size`` is negative.
            ProtocolTimeoutError: If fewer bytes arrived in time.
            ProtocolConnectionError: If the link broke.
        """
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ProtocolArgumentError(f"size must be a non-negative int, got {size!r}")
        deadline = self._deadline(timeout)
        with self._turn(deadline, "read_raw"):
            while True:
                data = self._parser.take_raw(size)
                if not isinstance(data, NeedData):
                    return data
                self._fill(deadline, f"{size} raw bytes ({self._parser.buffered} received)", [])

    def poll(self, timeout: float = 0.0) -> int:
        """Read what is waiting and deliver unsolicited codes to ``on_urc``.

        Args:
            timeout: Seconds to wait for the first code when none is waiting yet.

        Returns:
            The number of codes delivered.

        Raises:
            ProtocolConnectionError: If the link broke.
        """
        deadline = self._deadline(timeout)
        with self._turn(deadline, "poll"):
            delivered = self._drain_idle()
            while not delivered:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.protocol.wait_readable(remaining)
                delivered = self._drain_idle()
            return delivered

    # -- machinery -----------------------------------------------------------

    def _encode_command(self, command: str | bytes) -> tuple[str, bytes]:
        if isinstance(command, str):
            line = command.encode(self.encoding)
            text = command
        elif isinstance(command, (bytes, bytearray)):
            line = bytes(command)
            text = line.decode(self.encoding, errors="replace")
        else:
            raise ProtocolTypeError(f"command must be str or bytes, got {type(command).__name__}")
        if not line.strip():
            raise ProtocolArgumentError("command must not be empty")
        if b"\r" in line or b"\n" in line:
            raise ProtocolArgumentError(
                f"command must not contain CR or LF (the line ending is added): {command!r}"
            )
        return text, line

    def _deadline(self, timeout: float | None) -> float:
        seconds = self.timeout if timeout is None else _check_timeout(timeout)
        return time.monotonic() + seconds

    @contextlib.contextmanager
    def _turn(self, deadline: float, what: str) -> Iterator[None]:
        """One caller at a time, a bounded wait for the turn, state clean-up on errors."""
        if self._owner == threading.get_ident():
            raise ProtocolArgumentError(
                f"AtClient: {what} called from inside on_urc or another call of this client; "
                "queue the work and run it after the callback returns"
            )
        wait = max(0.0, deadline - time.monotonic())
        if not self._lock.acquire(timeout=wait):
            raise ProtocolTimeoutError(
                f"AtClient: {what}: another command still runs after {wait:g} s"
            )
        self._owner = threading.get_ident()
        self._guessed = False
        try:
            yield
        except BaseException as exc:
            self._recover(exc)
            raise
        finally:
            self._owner = None
            self._lock.release()

    def _recover(self, exc: BaseException) -> None:
        """Bring the parser and the late-answer guess in step after a failed turn."""
        if isinstance(exc, ProtocolTimeoutError) and self._parser.pending:
            self._parser.reset()
            # If this call already took a final result code for a late one, that guess
            # may have been wrong: do not guess again, or every later command would be
            # off by one.
            self._stale = not self._guessed
        elif isinstance(exc, PacketSizeError):
            # An overlong line: the parser skips the rest of it by itself, and the
            # command's final result code is still to come; drop it when it does.
            self._stale = True
        else:
            # A broken link or garbage: nothing that is buffered can be trusted, and no
            # late answer is coming over a new connection.
            self._parser.reset()
            self._stale = False

    def _collect(self, text: str, deadline: float, prompt_reply: bytes | None) -> AtResponse:
        lines: list[InfoLine] = []
        expect_prompt = prompt_reply is not None
        while True:
            event = self._next_event(deadline, text, lines)
            if isinstance(event, FinalResult):
                if self._stale:
                    # The late answer of the command that timed out before this one.
                    logger.debug("dropping late result %r of a timed-out command", event.text)
                    self._stale = False
                    self._guessed = True
                    lines.clear()
                    self._parser.start_command(text, expect_prompt=expect_prompt)
                    continue
                return AtResponse(
                    command=text,
                    status=event.status,
                    result=event.text,
                    lines=tuple(line.text for line in lines),
                    raw_lines=tuple(line.raw for line in lines),
                    value=event.value,
                    error_code=event.error_code,
                )
            if isinstance(event, InfoLine):
                lines.append(event)
            elif isinstance(event, Unsolicited):
                self._deliver(event)
            elif isinstance(event, Prompt) and prompt_reply is not None:
                self.protocol.send(prompt_reply)
                prompt_reply = None
                expect_prompt = False
            elif isinstance(event, Echo):
                logger.debug("echo of %r", event.text)

    def _next_event(self, deadline: float, text: str, lines: list[InfoLine]) -> AtEvent:
        while True:
            event = self._parser.next_event()
            if not isinstance(event, NeedData):
                return event
            self._fill(deadline, f"response to {text!r}" if text else "final result", lines)

    def _fill(self, deadline: float, what: str, lines: list[InfoLine]) -> None:
        while True:
            ok, data = self.protocol.read()
            if ok and data:
                self._parser.receive_data(data)
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                got = [line.text for line in lines]
                raise ProtocolTimeoutError(
                    f"AT: no {what} within the timeout; lines so far: {got!r}"
                )
            self.protocol.wait_readable(remaining)

    def _drain_idle(self) -> int:
        """Parse what is waiting while no command runs; deliver URCs; drop late replies."""
        delivered = 0
        if self._stale:
            self._parser.expect_result()
        for _ in range(_MAX_DRAIN_READS):
            ok, data = self.protocol.read()
            if ok and data:
                self._parser.receive_data(data)
            event = self._parser.next_event()
            while not isinstance(event, NeedData):
                if isinstance(event, Unsolicited):
                    self._deliver(event)
                    delivered += 1
                else:
                    logger.debug("dropping late reply of a timed-out command: %r", event)
                    if isinstance(event, FinalResult):
                        self._stale = False
                event = self._parser.next_event()
            if not (ok and data):
                break
        return delivered

    def _deliver(self, urc: Unsolicited) -> None:
        callback = self.on_urc
        if callback is None:
            logger.debug("unsolicited %r (no on_urc callback)", urc.text)
            return
        try:
            callback(urc)
        except Exception:
            logger.exception("on_urc callback raised for %r", urc.text)
