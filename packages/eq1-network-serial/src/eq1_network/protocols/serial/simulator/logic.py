"""Sans-I/O behaviour of the simulated devices: bytes in, timed replies out.

:class:`ModemLogic` answers a small AT command set the way a verbose-mode
(``ATV1``) cellular modem does; :class:`EchoLogic` sends every byte back. Neither
touches a file descriptor or a clock: :class:`~.device.VirtualSerialDevice` runs
them on a pseudo-terminal.

Commands understood by :class:`ModemLogic` (case-insensitive, ended by CR; a LF
after the CR is ignored):

=====================  =====================================================
``AT``                 ``OK``
``ATE0`` / ``ATE1``    echo off / on, ``OK``
``ATI``                two information lines, ``OK``
``AT+CGMI``            manufacturer, ``OK``
``AT+CGMM``            model, ``OK``
``AT+CSQ``             ``+CSQ: 20,99``, ``OK``
``AT+CREG?``           ``+CREG: 0,1``, ``OK``
``AT+CPIN?``           ``+CME ERROR: 10`` (SIM not inserted)
``AT+CMSS=<n>``        ``+CMS ERROR: 321`` (invalid memory index)
``ATD<number>;``       ``OK`` (voice call)
``ATD<number>``        ``BUSY`` (555), ``NO ANSWER`` (000), ``NO DIALTONE``
                       (999), ``NO CARRIER`` (111), else ``CONNECT 9600``
``AT+SLOW=<ms>``       ``+SLOW: <ms>`` at once, ``OK`` after ``<ms>`` ms
``AT+URCTEST``         ``+URCTEST: 1``, unsolicited ``RING`` and
                       ``+CMTI: "SM",3``, ``+URCTEST: 2``, ``OK``
``AT+CMGS=<to>``       ``> `` prompt; the payload up to Ctrl-Z is stored in
                       :attr:`ModemLogic.payloads`; ``+CMGS: <length>``, ``OK``
                       (ESC cancels: ``OK``)
``AT+READ=<n>``        ``CONNECT <n>``, ``n`` binary bytes (0, 1, 2, ...), ``OK``
``AT+ECHO=<text>``     ``+ECHO: <text>``, ``OK``
``AT+NOREPLY``         nothing
``AT+VANISH``          nothing; the device disappears
anything else          ``ERROR``
=====================  =====================================================
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol

__all__ = ["Action", "DeviceLogic", "EchoLogic", "ModemLogic", "Reply", "Vanish"]

_CR: Final = 0x0D
_CTRL_Z: Final = 0x1A
_ESC: Final = 0x1B
_MAX_COMMAND: Final = 4096


@dataclass(frozen=True)
class Reply:
    """Bytes to send, ``delay`` seconds after the previous reply has gone out.

    Attributes:
        data: The bytes.
        delay: Seconds to wait first.
    """

    data: bytes
    delay: float = 0.0


@dataclass(frozen=True)
class Vanish:
    """The device disappears: its end of the line closes (a hang-up for the peer)."""


Action = Reply | Vanish
"""What a device logic asks its runner to do."""


class DeviceLogic(Protocol):
    """What :class:`~.device.VirtualSerialDevice` runs: bytes in, actions out."""

    def receive(self, data: bytes) -> list[Action]:
        """Consume bytes from the line and return what to do.

        Args:
            data: The bytes received.

        Returns:
            Actions, in order.
        """
        ...


class EchoLogic:
    """Sends every byte back: the echo peer of the request/response contract."""

    def receive(self, data: bytes) -> list[Action]:
        """Echo ``data``.

        Args:
            data: The bytes received.

        Returns:
            One reply with the same bytes.
        """
        return [Reply(data)]


def _line(text: str) -> bytes:
    return b"\r\n" + text.encode() + b"\r\n"


class ModemLogic:
    """A verbose-mode AT modem (see the module docstring for its commands).

    Args:
        echo: Start with command echo on (``ATE1``), as real modems do after reset.
        manufacturer: Answer of ``AT+CGMI``.
        model: Answer of ``AT+CGMM``.

    Attributes:
        commands: Every command line received, in order.
        payloads: Every payload received after a ``>`` prompt.
    """

    def __init__(
        self, *, echo: bool = False, manufacturer: str = "EQ1", model: str = "Simulated Modem"
    ) -> None:
        self.echo = echo
        self.manufacturer = manufacturer
        self.model = model
        self.commands: list[str] = []
        self.payloads: list[bytes] = []
        self._buffer = bytearray()
        self._in_payload = False
        self._exact: dict[str, Callable[[], list[Action]]] = {
            "AT": self._ok,
            "ATE0": lambda: self._set_echo(False),
            "ATE1": lambda: self._set_echo(True),
            "ATI": lambda: self._info(f"{manufacturer} {model}", "Revision: 1.0"),
            "AT+CGMI": lambda: self._info(manufacturer),
            "AT+CGMM": lambda: self._info(model),
            "AT+CSQ": lambda: self._info("+CSQ: 20,99"),
            "AT+CREG?": lambda: self._info("+CREG: 0,1"),
            "AT+CPIN?": lambda: [Reply(_line("+CME ERROR: 10"))],
            "AT+URCTEST": self._urc_test,
            "AT+NOREPLY": list,
            "AT+VANISH": lambda: [Vanish()],
        }
        self._prefixed: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], list[Action]]], ...]
        self._prefixed = (
            (re.compile(r"AT\+CMSS=(\d+)$", re.I), lambda m: [Reply(_line("+CMS ERROR: 321"))]),
            (re.compile(r"ATD([0-9*#+]+)(;?)$", re.I), self._dial),
            (re.compile(r"AT\+SLOW=(\d+)$", re.I), self._slow),
            (re.compile(r"AT\+CMGS=(.+)$", re.I), self._prompt),
            (re.compile(r"AT\+READ=(\d+)$", re.I), self._read),
            (re.compile(r"AT\+ECHO=(.*)$", re.I | re.S), self._echo_text),
        )

    def urc(self, text: str) -> bytes:
        """Return the bytes of an unsolicited result code, e.g. ``urc("RING")``.

        Args:
            text: The code.

        Returns:
            The code framed as the modem sends it.
        """
        return _line(text)

    def receive(self, data: bytes) -> list[Action]:
        """Consume bytes; answer each complete command line.

        Args:
            data: The bytes received.

        Returns:
            The replies (and possibly a :class:`Vanish`).
        """
        actions: list[Action] = []
        for byte in data:
            if self._in_payload:
                actions += self._payload_byte(byte)
            elif byte == _CR:
                actions += self._command_line()
            elif byte == 0x0A and not self._buffer:
                continue
            elif len(self._buffer) < _MAX_COMMAND:
                self._buffer.append(byte)
        return actions

    def _payload_byte(self, byte: int) -> list[Action]:
        if byte == _ESC:
            self._in_payload = False
            self._buffer.clear()
            return self._ok()
        if byte != _CTRL_Z:
            self._buffer.append(byte)
            return []
        self._in_payload = False
        payload = bytes(self._buffer)
        self._buffer.clear()
        self.payloads.append(payload)
        return self._info(f"+CMGS: {len(payload)}")

    def _command_line(self) -> list[Action]:
        raw = bytes(self._buffer)
        self._buffer.clear()
        text = raw.decode("utf-8", errors="replace").strip()
        echo: list[Action] = [Reply(raw + b"\r")] if self.echo else []
        if not text:
            return echo
        self.commands.append(text)
        return echo + self._answer(text)

    def _answer(self, text: str) -> list[Action]:
        handler = self._exact.get(text.upper())
        if handler is not None:
            return handler()
        for pattern, match_handler in self._prefixed:
            match = pattern.match(text)
            if match:
                return match_handler(match)
        return [Reply(_line("ERROR"))]

    # -- answers -------------------------------------------------------------

    @staticmethod
    def _ok() -> list[Action]:
        return [Reply(_line("OK"))]

    @staticmethod
    def _info(*lines: str) -> list[Action]:
        return [Reply(b"".join(_line(t) for t in lines) + _line("OK"))]

    def _set_echo(self, on: bool) -> list[Action]:
        self.echo = on
        return self._ok()

    @staticmethod
    def _urc_test() -> list[Action]:
        lines = ("+URCTEST: 1", "RING", '+CMTI: "SM",3', "+URCTEST: 2", "OK")
        return [Reply(b"".join(_line(t) for t in lines))]

    @staticmethod
    def _dial(match: re.Match[str]) -> list[Action]:
        number, voice = match.group(1), match.group(2)
        if voice:
            return [Reply(_line("OK"))]
        outcome = {"555": "BUSY", "000": "NO ANSWER", "999": "NO DIALTONE", "111": "NO CARRIER"}
        return [Reply(_line(outcome.get(number, "CONNECT 9600")))]

    @staticmethod
    def _slow(match: re.Match[str]) -> list[Action]:
        millis = int(match.group(1))
        return [Reply(_line(f"+SLOW: {millis}")), Reply(_line("OK"), delay=millis / 1000.0)]

    def _prompt(self, match: re.Match[str]) -> list[Action]:
        self._in_payload = True
        return [Reply(b"\r\n> ")]

    @staticmethod
    def _read(match: re.Match[str]) -> list[Action]:
        size = int(match.group(1))
        body = bytes(i % 256 for i in range(size))
        return [Reply(_line(f"CONNECT {size}") + body + _line("OK"))]

    @staticmethod
    def _echo_text(match: re.Match[str]) -> list[Action]:
        return [Reply(_line(f"+ECHO: {match.group(1)}") + _line("OK"))]
