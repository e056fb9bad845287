"""Sans-I/O parser of AT command responses (ITU-T V.250, 3GPP TS 27.007 / 27.005).

Bytes in, events out; no ports, threads or clocks. Feed what the modem sent with
:meth:`AtParser.receive_data` and take events with :meth:`AtParser.next_event`
until it returns :data:`NEED_DATA`::

    parser = AtParser()
    parser.start_command("AT+CSQ")
    parser.receive_data(b"\\r\\n+CSQ: 20,99\\r\\n\\r\\nRING\\r\\n\\r\\nOK\\r\\n")
    parser.next_event()  # InfoLine(text='+CSQ: 20,99')
    parser.next_event()  # Unsolicited(text='RING')
    parser.next_event()  # FinalResult(status=AtStatus.OK)
    parser.next_event()  # NEED_DATA

How a line is classified (table-driven, see
:data:`~eq1_network.protocols.serial.at_events.FINAL_RESULTS`; the events and the table
live in :mod:`.at_events` and are importable from here too):

* while a command is pending: the echo of the command (when the modem echoes),
  then information lines, until a *final result code* (``OK``, ``ERROR``,
  ``+CME ERROR: <n>``, ``+CMS ERROR: <n>``, ``NO CARRIER``, ``BUSY``,
  ``NO ANSWER``, ``NO DIALTONE``, ``CONNECT [<text>]``) ends it. A line that starts
  with a known unsolicited prefix (``RING``, ``+CMTI:``, ``+CREG:``...) is an
  :class:`Unsolicited` event, unless the command itself asked for that prefix
  (``AT+CREG?`` answers ``+CREG: 0,1``).
* while no command is pending: every line is :class:`Unsolicited`.

A line longer than ``max_line`` bytes raises :class:`PacketSizeError` once, from
:meth:`AtParser.next_event`, and is skipped up to its line end; the parser goes on
with the next line and stays usable. How the bytes were split into chunks makes no
difference to the events and errors, except for a prompt (see :class:`Prompt`).
Finding line ends costs time proportional to the bytes received, however small the
chunks.

Responses in numeric form (``ATV0``) are not recognised: use the verbose form.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from eq1_network.common.exceptions import (
    FrameTooLargeError,
    ProtocolValidationError,
)
from eq1_network.protocols.serial.at_events import (
    DEFAULT_MAX_LINE,
    DEFAULT_URC_PREFIXES,
    FINAL_RESULTS,
    MAX_ERROR_CODE_DIGITS,
    NEED_DATA,
    AtEvent,
    AtStatus,
    Echo,
    FinalResult,
    InfoLine,
    NeedData,
    Prompt,
    Unsolicited,
    classify_final,
    expected_prefixes,
)

__all__ = [
    "DEFAULT_MAX_LINE",
    "DEFAULT_URC_PREFIXES",
    "FINAL_RESULTS",
    "MAX_ERROR_CODE_DIGITS",
    "NEED_DATA",
    "AtEvent",
    "AtParser",
    "AtStatus",
    "Echo",
    "FinalResult",
    "InfoLine",
    "NeedData",
    "Prompt",
    "Unsolicited",
    "classify_final",
    "expected_prefixes",
]


_TERMINATOR: Final = re.compile(rb"[\r\n]")
_ERROR_CODE: Final = re.compile(rf"[0-9]{{1,{MAX_ERROR_CODE_DIGITS}}}")


def _find_line_end(buffer: bytearray, start: int) -> int:
    """Return the index of the first CR or LF in ``buffer`` at or after ``start``, or -1."""
    match = _TERMINATOR.search(buffer, start)
    return -1 if match is None else match.start()


class AtParser:
    """Turns the bytes a modem sends into :data:`AtEvent` objects.

    Args:
        urc_prefixes: Line prefixes treated as unsolicited while a command is
            pending (compared case-sensitively, as modems send them).
        encoding: Text encoding of lines; undecodable bytes are replaced (the
            ``raw`` attribute of each event keeps the exact bytes).
        max_line: Longest line kept, in bytes; a longer one raises
            :class:`PacketSizeError` from :meth:`next_event` and is skipped.

    Raises:
        ProtocolValidationError: If ``max_line`` is not positive or a prefix is empty.
    """

    def __init__(
        self,
        *,
        urc_prefixes: Iterable[str] = DEFAULT_URC_PREFIXES,
        encoding: str = "utf-8",
        max_line: int = DEFAULT_MAX_LINE,
    ) -> None:
        prefixes = tuple(urc_prefixes)
        if any(not isinstance(p, str) or not p for p in prefixes):
            raise ProtocolValidationError(f"urc_prefixes must be non-empty strings: {prefixes!r}")
        if isinstance(max_line, bool) or not isinstance(max_line, int) or max_line <= 0:
            raise ProtocolValidationError(f"max_line must be a positive int, got {max_line!r}")
        "".encode(encoding)  # raises LookupError early for an unknown codec
        self.urc_prefixes = prefixes
        self.encoding = encoding
        self.max_line = max_line
        self._buffer = bytearray()
        self._scanned = 0
        """Bytes at the start of the buffer already searched for a line end (none there)."""
        self._discard = False
        """Skipping the rest of a line longer than ``max_line``, up to its line end."""
        self._skip_lf = False
        self._pending: str | None = None
        self._echo: str | None = None
        self._expected: tuple[str, ...] = ()
        self._want_prompt = False

    # -- state ---------------------------------------------------------------

    @property
    def pending(self) -> bool:
        """Whether a command (or an awaited result) is waiting for its final result code."""
        return self._pending is not None

    @property
    def buffered(self) -> int:
        """Number of bytes received and not yet turned into events."""
        return len(self._buffer)

    def start_command(self, command: str, *, expect_prompt: bool = False) -> None:
        """Tell the parser a command was sent; lines now belong to its response.

        Args:
            command: The command line as sent, without the terminator.
            expect_prompt: A ``>`` at the start of a line is a :class:`Prompt`.
        """
        self._pending = command
        self._echo = command.strip()
        self._expected = expected_prefixes(command)
        self._want_prompt = expect_prompt

    def expect_result(self) -> None:
        """Wait for a final result code without having sent a command (after data mode)."""
        self._pending = ""
        self._echo = None
        self._expected = ()
        self._want_prompt = False

    def reset(self) -> None:
        """Drop buffered bytes and the pending command."""
        self._buffer.clear()
        self._scanned = 0
        self._discard = False
        self._skip_lf = False
        self._pending = None
        self._echo = None
        self._expected = ()
        self._want_prompt = False

    def receive_data(self, data: bytes) -> None:
        """Append bytes received from the modem.

        Args:
            data: Any chunk; lines may be split across chunks.
        """
        self._buffer += data

    # -- events --------------------------------------------------------------

    def take_raw(self, size: int) -> bytes | NeedData:
        """Take exactly ``size`` bytes of binary data from the buffer (data mode).

        A line feed left over from the line before (``CONNECT\\r\\n``) is skipped.

        Args:
            size: Number of bytes.

        Returns:
            The bytes, or :data:`NEED_DATA` if fewer are buffered.
        """
        if self._skip_lf and self._buffer[:1] == b"\n":
            del self._buffer[:1]
            self._skip_lf = False
        if len(self._buffer) < size:
            return NEED_DATA
        self._skip_lf = False
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._scanned = 0
        return data

    def next_event(self) -> AtEvent | NeedData:
        """Return the next complete event, or :data:`NEED_DATA`.

        Returns:
            An event or :data:`NEED_DATA`.

        Raises:
            PacketSizeError: If a line is longer than ``max_line`` bytes. Raised once
                per such line, as soon as it is known to be too long; its bytes are
                dropped up to and including its line end, and the next call goes on
                with the next line.
        """
        while True:
            if self._skip_lf and self._buffer[:1] == b"\n":
                del self._buffer[:1]
            if self._buffer:
                self._skip_lf = False
            if self._discard:
                if not self._skip_overlong():
                    return NEED_DATA
                continue
            prompt = self._take_prompt()
            if prompt is not None:
                return prompt
            raw = self._take_line()
            if raw is None:
                return NEED_DATA
            text = raw.decode(self.encoding, errors="replace").strip()
            if text:
                return self._classify(text, raw)

    def _take_prompt(self) -> Prompt | None:
        if not (self._want_prompt and self._buffer[:1] == b">"):
            return None
        size = 2 if self._buffer[1:2] == b" " else 1
        raw = bytes(self._buffer[:size])
        del self._buffer[:size]
        self._scanned = 0
        self._want_prompt = False
        return Prompt(raw)

    def _take_line(self) -> bytes | None:
        """Take the next line; the search resumes where the previous one stopped."""
        buffer = self._buffer
        end = _find_line_end(buffer, self._scanned)
        if end < 0:
            size = len(buffer)
            if size <= self.max_line:
                self._scanned = size
                return None
            buffer.clear()
            self._scanned = 0
            self._discard = True
            raise FrameTooLargeError(
                f"AT response line longer than max_line={self.max_line} bytes "
                f"({size} bytes without a line end so far); it is skipped up to its line "
                "end. Raise max_line if the modem sends lines this long"
            )
        if end > self.max_line:
            self._drop_line(end)
            raise FrameTooLargeError(
                f"AT response line of {end} bytes is longer than max_line={self.max_line} "
                "bytes; it was dropped. Raise max_line if the modem sends lines this long"
            )
        raw = bytes(buffer[:end])
        self._drop_line(end)
        return raw

    def _skip_overlong(self) -> bool:
        """Drop the rest of an overlong line; ``True`` once its line end was dropped too."""
        end = _find_line_end(self._buffer, 0)
        if end < 0:
            self._buffer.clear()  # all of it belongs to the overlong line
            return False
        self._discard = False
        self._drop_line(end)
        return True

    def _drop_line(self, end: int) -> None:
        """Drop the buffer up to the line end at ``end``, and the LF of a CR LF pair."""
        buffer = self._buffer
        terminator = buffer[end]
        del buffer[: end + 1]
        self._scanned = 0
        if terminator == 0x0D:
            if buffer[:1] == b"\n":
                del buffer[:1]
            elif not buffer:
                self._skip_lf = True

    def _classify(self, text: str, raw: bytes) -> AtEvent:
        if self._pending is None:
            return Unsolicited(text, raw)
        if self._echo is not None and text == self._echo:
            self._echo = None
            return Echo(text, raw)
        final = classify_final(text)
        if final is not None:
            self._pending = self._echo = None
            self._want_prompt = False
            return self._final(final, text, raw)
        if self._is_unsolicited(text):
            return Unsolicited(text, raw)
        self._echo = None
        return InfoLine(text, raw)

    def _is_unsolicited(self, text: str) -> bool:
        if not text.startswith(self.urc_prefixes):
            return False
        return not (self._expected and text.upper().startswith(self._expected))

    @staticmethod
    def _final(final: tuple[AtStatus, str | None], text: str, raw: bytes) -> FinalResult:
        status, value = final
        code = None
        if (
            status in (AtStatus.CME_ERROR, AtStatus.CMS_ERROR)
            and value
            and _ERROR_CODE.fullmatch(value)
        ):
            code = int(value)
        return FinalResult(status, text, raw, value or None, code)
