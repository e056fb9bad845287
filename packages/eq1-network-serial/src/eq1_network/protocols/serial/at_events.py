"""The vocabulary of AT responses: final result codes, events and line classification.

The events :class:`~eq1_network.protocols.serial.at_parser.AtParser` returns, the table
of final result codes (:data:`FINAL_RESULTS`) and the default unsolicited prefixes live
here, with the two pure helpers that classify a line (:func:`classify_final`) and find
the prefixes a command asks for (:func:`expected_prefixes`). Everything is also
importable from :mod:`eq1_network.protocols.serial.at_parser`.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

__all__ = [
    "DEFAULT_MAX_LINE",
    "DEFAULT_URC_PREFIXES",
    "FINAL_RESULTS",
    "MAX_ERROR_CODE_DIGITS",
    "NEED_DATA",
    "AtEvent",
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


class AtStatus(enum.Enum):
    """Final result codes; the value is the code's text."""

    OK = "OK"
    CONNECT = "CONNECT"
    ERROR = "ERROR"
    CME_ERROR = "+CME ERROR"
    CMS_ERROR = "+CMS ERROR"
    NO_CARRIER = "NO CARRIER"
    BUSY = "BUSY"
    NO_ANSWER = "NO ANSWER"
    NO_DIALTONE = "NO DIALTONE"


FINAL_RESULTS: Final[tuple[tuple[str, AtStatus, bool], ...]] = (
    ("OK", AtStatus.OK, False),
    ("ERROR", AtStatus.ERROR, False),
    ("NO CARRIER", AtStatus.NO_CARRIER, False),
    ("BUSY", AtStatus.BUSY, False),
    ("NO ANSWER", AtStatus.NO_ANSWER, False),
    ("NO DIALTONE", AtStatus.NO_DIALTONE, False),
    ("NO DIAL TONE", AtStatus.NO_DIALTONE, False),
    ("CONNECT", AtStatus.CONNECT, True),
    ("+CME ERROR:", AtStatus.CME_ERROR, True),
    ("+CMS ERROR:", AtStatus.CMS_ERROR, True),
)
"""``(text, status, is_prefix)``: exact final result lines, and prefixes that carry a value."""

DEFAULT_URC_PREFIXES: Final = (
    "RING",
    "+CRING:",
    "+CLIP:",
    "+CCWA:",
    "+CMTI:",
    "+CMT:",
    "+CBM:",
    "+CDS:",
    "+CDSI:",
    "+CREG:",
    "+CGREG:",
    "+CEREG:",
    "+C5GREG:",
    "+CUSD:",
    "+CGEV:",
    "+CIEV:",
    "+CTZV:",
    "+CTZE:",
    "+CSSU:",
)
"""Unsolicited result codes of 27.007/27.005 recognised while a command is pending."""

DEFAULT_MAX_LINE: Final = 64 * 1024
"""Longest line (bytes) kept before :class:`PacketSizeError` is raised."""

MAX_ERROR_CODE_DIGITS: Final = 9
"""Most ASCII digits an error code may have to be reported in :attr:`FinalResult.error_code`."""


class NeedData:
    """Type of :data:`NEED_DATA`: more bytes are needed before the next event."""

    _instance: NeedData | None = None

    def __new__(cls) -> NeedData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()
"""Returned by :meth:`AtParser.next_event` when the buffer holds no complete event."""


@dataclass(frozen=True)
class InfoLine:
    """An information line of the pending command's response.

    Attributes:
        text: The decoded line without surrounding whitespace.
        raw: The line's bytes as received, without the line terminator.
    """

    text: str
    raw: bytes


@dataclass(frozen=True)
class Echo:
    """The modem echoing the pending command (``ATE1``).

    Attributes:
        text: The decoded echo.
        raw: Its bytes.
    """

    text: str
    raw: bytes


@dataclass(frozen=True)
class Prompt:
    """The ``> `` prompt asking for a payload (``AT+CMGS``, ``AT+CIPSEND``...).

    Recognised at the start of a line as soon as the ``>`` arrives (the modem waits
    for the payload), so ``raw`` is ``b"> "`` only when the space came in the same
    chunk; otherwise it is ``b">"`` and the space is the start of the next line.

    Attributes:
        raw: The prompt's bytes.
    """

    raw: bytes


@dataclass(frozen=True)
class Unsolicited:
    """An unsolicited result code (URC) such as ``RING`` or ``+CMTI: "SM",3``.

    Attributes:
        text: The decoded line.
        raw: Its bytes.
    """

    text: str
    raw: bytes


@dataclass(frozen=True)
class FinalResult:
    """The final result code that ends a command.

    Attributes:
        status: Which code.
        text: The whole line, e.g. ``"+CME ERROR: 10"`` or ``"CONNECT 9600"``.
        raw: Its bytes.
        value: What follows the code (``"10"``, ``"9600"``), or ``None``.
        error_code: ``value`` as an int for ``+CME ERROR``/``+CMS ERROR`` in numeric
            form (``AT+CMEE=1``): 1 to :data:`MAX_ERROR_CODE_DIGITS` ASCII digits.
            ``None`` for any other value (verbose text, other digits such as ``"³"``,
            longer numbers); ``value`` then keeps the text as sent.
    """

    status: AtStatus
    text: str
    raw: bytes
    value: str | None = None
    error_code: int | None = None


AtEvent = InfoLine | Echo | Prompt | Unsolicited | FinalResult
"""What :meth:`AtParser.next_event` returns besides :data:`NEED_DATA`."""

_EXTENDED_NAME: Final = re.compile(r"^\s*([+^$%#*!][A-Za-z0-9_]+)")


def classify_final(text: str) -> tuple[AtStatus, str | None] | None:
    """Tell whether ``text`` is a final result code, using :data:`FINAL_RESULTS`.

    Args:
        text: A stripped response line.

    Returns:
        ``(status, value)`` for a final result code, else ``None``.
    """
    for code, status, is_prefix in FINAL_RESULTS:
        if text == code:
            return status, None
        if is_prefix and text.startswith(code):
            rest = text[len(code) :]
            if code.endswith(":"):
                return status, rest.strip()
            if rest.startswith(" "):
                return status, rest.strip()
    return None


def expected_prefixes(command: str) -> tuple[str, ...]:
    """Return the response prefixes a command asks for: ``"AT+CREG?"`` -> ``("+CREG:",)``.

    Args:
        command: The command line, with or without the ``AT`` prefix; ``;``
            separates concatenated commands.

    Returns:
        Upper-case prefixes ending with ``:``.
    """
    body = command.strip()
    if body[:2].upper() == "AT":
        body = body[2:]
    found: list[str] = []
    for part in body.split(";"):
        match = _EXTENDED_NAME.match(part)
        if match:
            found.append(match.group(1).upper() + ":")
    return tuple(found)
