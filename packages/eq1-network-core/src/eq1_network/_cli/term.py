"""``term``: an interactive terminal on a serial or TCP device, like miniterm.

Keys go to the device as typed (Enter sends the chosen end of line); what the device
sends is shown as text, hex, or, in AT mode, line by line with final result codes and
unsolicited result codes (URCs) marked. Ctrl-] (or the end of a piped input) quits;
Ctrl-C quits too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from typing import IO, Any

from eq1_network._cli.common import (
    EXIT_CODES,
    OK,
    add_credentials,
    escaped,
    install_sigterm,
    open_endpoint,
)
from eq1_network.common.exceptions import ProtocolError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import ReqResProtocol

__all__ = ["AtView", "add_term_command"]

logger = get_logger(__name__)

EOLS = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}
EXIT_KEY = b"\x1d"  # Ctrl-]

FINAL = re.compile(
    r"^(OK|ERROR|NO CARRIER|BUSY|NO ANSWER|NO DIALTONE|CONNECT( .*)?|"
    r"\+CM[ES] ERROR: .*|ABORTED)$"
)


def add_term_command(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``term``.

    Args:
        sub: The sub-command parsers.
    """
    term = sub.add_parser(
        "term",
        help="interactive terminal on a serial or TCP device (Ctrl-] quits)",
        description="Type to the device at URL and watch what it answers.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    term.add_argument("url", metavar="URL")
    term.add_argument("--eol", choices=tuple(EOLS), help="what Enter sends (crlf; cr in AT mode)")
    term.add_argument("--echo", action="store_true", help="show what you type (local echo)")
    term.add_argument("--hex", action="store_true", help="show received bytes as hex")
    term.add_argument("--timestamps", action="store_true", help="time of each received line")
    term.add_argument("--at", action="store_true", help="AT mode: mark final result codes and URCs")
    term.add_argument("--log", metavar="FILE", help="append the session to FILE")
    add_credentials(term)
    term.set_defaults(handler=cmd_term, url_command=True)


class AtView:
    """Turns a modem's bytes into marked lines: responses, final result codes, URCs.

    A line is a URC when no command is waiting for its final result code.
    """

    def __init__(self) -> None:
        self.pending = False
        self._buffer = b""

    def command_sent(self, line: bytes) -> None:
        """Note that a command was typed.

        Args:
            line: The typed line.
        """
        if line.strip().upper().startswith(b"AT"):
            self.pending = True

    def feed(self, data: bytes) -> list[str]:
        """Take received bytes; return the complete lines, marked.

        Args:
            data: The bytes.

        Returns:
            ``"[OK] OK"``, ``"[ERROR] +CME ERROR: 10"``, ``"[URC] +CREG: 1"`` or
            ``"     response text"`` lines.
        """
        self._buffer += data
        *lines, self._buffer = re.split(rb"\r\n|\n|\r", self._buffer)
        shown = []
        for raw in lines:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            if FINAL.match(line):
                tag = "OK" if line == "OK" or line.startswith("CONNECT") else "ERROR"
                shown.append(f"[{tag}] {line}")
                self.pending = False
            elif self.pending:
                shown.append(f"     {line}")
            else:
                shown.append(f"[URC] {line}")
        return shown


class _Screen:
    """Writes received data in the chosen view, and the session log."""

    def __init__(self, args: argparse.Namespace, log: IO[str] | None) -> None:
        self.args = args
        self.log = log
        self.at = AtView() if args.at else None
        self.lock = threading.Lock()
        self._line_start = True

    def _stamp(self) -> str:
        now = time.time()
        return time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 1000):03d} "

    def received(self, data: bytes) -> None:
        if self.at is not None:
            lines = self.at.feed(data)
            text = "".join(
                (self._stamp() if self.args.timestamps else "") + line + "\n" for line in lines
            )
        elif self.args.hex:
            text = (self._stamp() if self.args.timestamps else "") + data.hex(" ") + "\n"
        else:
            text = self._text(data)
        self._write(text)
        if self.log is not None:
            self.log.write(f"{time.time():.6f} < {escaped(data)}\n")
            self.log.flush()

    def _text(self, data: bytes) -> str:
        text = data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
        if not self.args.timestamps:
            return text
        out = []
        for char in text:
            if self._line_start:
                out.append(self._stamp())
            out.append(char)
            self._line_start = char == "\n"
        return "".join(out)

    def sent(self, data: bytes) -> None:
        if self.args.echo:
            self._write(data.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n"))
        if self.log is not None:
            self.log.write(f"{time.time():.6f} > {escaped(data)}\n")
            self.log.flush()

    def _write(self, text: str) -> None:
        if not text:
            return
        with self.lock:
            sys.stdout.write(text)
            sys.stdout.flush()


@contextlib.contextmanager
def _keys_as_typed() -> Iterator[bool]:
    """Put a terminal stdin in character mode (no line editing, no echo) for the block."""
    fd = sys.stdin.fileno()
    if not os.isatty(fd):
        yield False
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd)
        yield True
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def _reader(
    proto: ReqResProtocol, screen: _Screen, stop: threading.Event, failed: list[Any]
) -> None:
    try:
        while not stop.is_set():
            data = proto.read_within(0.1)
            if data:
                screen.received(data)
    except ProtocolError as exc:
        failed.append(exc)
        stop.set()


def cmd_term(args: argparse.Namespace) -> int:
    """Run ``term``.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code (0 when the user quits).
    """
    install_sigterm()
    eol = EOLS[args.eol or ("cr" if args.at else "crlf")]
    proto = open_endpoint(args.url, args, kind=ReqResProtocol)
    log = open(args.log, "a", encoding="utf-8") if args.log else None
    screen = _Screen(args, log)
    stop = threading.Event()
    failed: list[Any] = []
    try:
        with proto, _keys_as_typed() as interactive:
            reader = threading.Thread(
                target=_reader, args=(proto, screen, stop, failed), daemon=True
            )
            reader.start()
            sys.stderr.write(f"--- eq1-network term on {proto!r}; Ctrl-] quits ---\n")
            sys.stderr.flush()
            _type_loop(proto, screen, stop, eol, interactive)
            if not interactive:
                stop.wait(0.5)  # let the answer to piped input arrive
            stop.set()
            reader.join(2.0)
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        if log is not None:
            log.close()
    if failed:
        raise failed[0]
    return OK


def _type_loop(
    proto: ReqResProtocol, screen: _Screen, stop: threading.Event, eol: bytes, interactive: bool
) -> None:
    fd = sys.stdin.fileno()
    line = b""
    while not stop.is_set():
        chunk = os.read(fd, 1 if interactive else 4096)
        if not chunk:
            return
        for byte in (chunk[i : i + 1] for i in range(len(chunk))):
            if byte == EXIT_KEY:
                return
            if byte in (b"\n", b"\r"):
                if screen.at is not None:
                    screen.at.command_sent(line)
                out = (line if not interactive else b"") + eol
                line = b""
            else:
                line += byte
                if not interactive:
                    continue
                out = byte
            proto.send(out)
            screen.sent(out)
    if line and not interactive:
        proto.send(line)
