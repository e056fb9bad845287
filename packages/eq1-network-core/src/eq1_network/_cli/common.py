"""What every URL command shares: exit codes, credentials, opening endpoints, output."""

from __future__ import annotations

import argparse
import codecs
import getpass
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO
from urllib.parse import quote

from eq1_network.common.exceptions import (
    PluginLoadError,
    ProtocolAuthenticationError,
    ProtocolConnectionError,
    ProtocolError,
    ProtocolNotFoundError,
    ProtocolTimeoutError,
    ProtocolUsageError,
    ProtocolValidationError,
    RemoteProtocolError,
)
from eq1_network.interfaces.protocol import BaseProtocol, PubSubProtocol, ReqResProtocol

__all__ = [
    "AUTH",
    "CONNECTION",
    "EXIT_CODES",
    "INTERRUPTED",
    "OK",
    "OTHER",
    "PROTOCOL",
    "TIMEOUT",
    "USAGE",
    "CommandTimeoutError",
    "Output",
    "add_credentials",
    "exit_code",
    "guarded",
    "open_endpoint",
    "parse_data",
]

OK = 0
OTHER = 1
USAGE = 2
CONNECTION = 3
TIMEOUT = 4
PROTOCOL = 5
AUTH = 6
INTERRUPTED = 130

EXIT_CODES = """\
exit codes (the same for every command):
  0    success
  1    other error
  2    usage error: bad arguments, URL or file
  3    could not connect (nothing listening, port missing or busy, link lost)
  4    timeout: no reply, -W/--timeout expired, -C/--count not reached
  5    protocol error: bad frame, malformed or exception response
  6    authentication or TLS failure (refused credentials, rejected certificate)
  130  interrupted by Ctrl-C (commands that run until stopped end with 0)
"""

_PROMPTED = "_EQ1_NETWORK_PROMPTED_PASSWORD"
PASSWORD_ENV = "EQ1_NETWORK_PASSWORD"  # noqa: S105 (a variable name, not a password)


class CommandTimeoutError(ProtocolTimeoutError):
    """A command's own deadline passed (no reply, ``-W``, ``-C`` not reached)."""


def exit_code(exc: BaseException) -> int:
    """Return the exit code for an error a command raised.

    Args:
        exc: The error.

    Returns:
        The code from the table in :data:`EXIT_CODES`.
    """
    if isinstance(exc, ProtocolAuthenticationError):
        return AUTH
    if isinstance(exc, (ProtocolTimeoutError, TimeoutError)):
        return TIMEOUT
    if isinstance(exc, RemoteProtocolError):
        return PROTOCOL
    if isinstance(exc, (ProtocolConnectionError, ConnectionError)):
        return CONNECTION
    if isinstance(exc, (ProtocolUsageError, ProtocolValidationError, ProtocolNotFoundError)):
        return USAGE
    if isinstance(exc, (PluginLoadError, FileNotFoundError, IsADirectoryError)):
        return USAGE
    return OTHER


def guarded(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command and turn its errors into a message and an exit code.

    Args:
        handler: The command.
        args: Its parsed arguments.

    Returns:
        The exit code.
    """
    try:
        return handler(args)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return OK
    except (ProtocolError, OSError) as exc:
        text = " ".join(str(exc).split())
        secret = getattr(args, "secret_value", None)
        if secret:
            text = text.replace(secret, "***")
        sys.stderr.write(f"error: {text}\n")
        return exit_code(exc)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that flushing at exit raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def add_credentials(parser: argparse.ArgumentParser) -> None:
    """Add the password options.

    Args:
        parser: A command's parser.
    """
    group = parser.add_argument_group(
        "credentials",
        "the password is taken from --password-file, else the environment variable "
        f"{PASSWORD_ENV}, else --ask-password, else the URL; it is never printed",
    )
    group.add_argument("--password-file", metavar="FILE", help="read the password from FILE")
    group.add_argument(
        "--ask-password", action="store_true", help="prompt for the password on the terminal"
    )


def _with_password(url: str, args: argparse.Namespace) -> str:
    """Return ``url`` with the password options turned into its query.

    ``--password-file F`` becomes ``password_file=F``; the environment variable and
    the prompt become ``password_env=...`` (the prompted password is put in this
    process's environment only). The environment variable is used only when the URL
    names a user.
    """
    from eq1_network.urls import parse_url

    path = getattr(args, "password_file", None)
    if path:
        extra = f"password_file={quote(path, safe='/')}"
    elif getattr(args, "ask_password", False):
        os.environ[_PROMPTED] = getpass.getpass("password: ")
        extra = f"password_env={_PROMPTED}"
    elif os.environ.get(PASSWORD_ENV) and parse_url(url).username:
        extra = f"password_env={PASSWORD_ENV}"
    else:
        return url
    return url + ("&" if "?" in url else "?") + extra


def open_endpoint(
    url: str, args: argparse.Namespace, *, kind: type[BaseProtocol] | None = None, **extra: Any
) -> Any:
    """Build the protocol of ``url`` (not connected), with the password options applied.

    Args:
        url: The endpoint URL.
        args: The parsed arguments (for the credentials options).
        kind: ``ReqResProtocol`` or ``PubSubProtocol`` when the command needs one.
        **extra: Constructor overrides.

    Returns:
        The protocol.

    Raises:
        ProtocolUsageError: If the URL names the other kind of protocol.
    """
    import eq1_network
    from eq1_network.urls import mask_url

    args.secret_value = _inline_password(url)
    protocol = eq1_network.from_url(_with_password(url, args), **extra)
    if os.environ.get(_PROMPTED):
        args.secret_value = os.environ.pop(_PROMPTED)
    if kind is not None and not isinstance(protocol, kind):
        other = "pub/sub" if kind is ReqResProtocol else "send/listen"
        raise ProtocolUsageError(
            f"{mask_url(url)} is a {_kind_name(protocol)} endpoint; use the {other} commands"
        )
    return protocol


def _inline_password(url: str) -> str | None:
    from eq1_network.urls import parse_url

    try:
        return parse_url(url).password
    except ProtocolError:
        return None


def _kind_name(protocol: object) -> str:
    if isinstance(protocol, PubSubProtocol):
        return "publish/subscribe"
    return "request/response"


def parse_data(args: argparse.Namespace, words: list[str]) -> bytes:
    """Return the bytes a command sends, from words, ``--hex``, ``--file`` or ``--stdin``.

    Words are joined by spaces; with ``-e`` backslash escapes (``\\r``, ``\\n``,
    ``\\x02``) in them are decoded.

    Args:
        args: The parsed arguments.
        words: The data words.

    Returns:
        The bytes.

    Raises:
        ProtocolUsageError: If no source or more than one was given, or the hex is bad.
    """
    sources = [bool(words), bool(args.hex), bool(args.file), bool(args.stdin)]
    if sum(sources) > 1:
        raise ProtocolUsageError("give the data one way: words, --hex, --file or --stdin")
    if args.hex:
        try:
            return bytes.fromhex(args.hex.replace(":", " "))
        except ValueError as exc:
            raise ProtocolUsageError(f"--hex: {exc}; write bytes like '01 03 ff'") from exc
    if args.file:
        with open(args.file, "rb") as file:
            return file.read()
    if args.stdin:
        return sys.stdin.buffer.read()
    text = " ".join(words)
    if getattr(args, "escapes", False):
        return codecs.escape_decode(text.encode("utf-8"))[0]
    return text.encode("utf-8")


def decode_escapes(text: str) -> bytes:
    """Decode backslash escapes (``\\r\\n``, ``\\x02``) in ``text``.

    Args:
        text: The text.

    Returns:
        The bytes.
    """
    return codecs.escape_decode(text.encode("utf-8"))[0]


def escaped(data: bytes) -> str:
    """Render bytes as one line: printable ASCII as is, the rest escaped.

    Args:
        data: The bytes.

    Returns:
        The text (``\\r``, ``\\n``, ``\\t``, ``\\xNN``, ``\\\\`` escaped).
    """
    return repr(bytes(data))[2:-1].replace("\\'", "'")


def hexdump(data: bytes, stamp: str = "") -> str:
    """Render bytes as a hexdump: offset, 16 hex bytes, printable text.

    Args:
        data: The bytes.
        stamp: A prefix for each line (a timestamp).

    Returns:
        The lines joined by newlines.
    """
    lines = []
    for offset in range(0, max(len(data), 1), 16):
        row = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in row)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in row)
        lines.append(f"{stamp}{offset:08x}  {hexes:<47}  |{text}|")
    return "\n".join(lines)


class Output:
    """Writes what a command shows: text, hex, a hexdump, or JSON Lines.

    Args:
        args: Parsed arguments with ``json``, ``hex``/``show_hex`` and ``hexdump``.
        stream: Where to write; stdout by default.
    """

    def __init__(self, args: argparse.Namespace, stream: TextIO | None = None) -> None:
        self.json = bool(getattr(args, "json", False))
        self.hex = bool(getattr(args, "show_hex", False))
        self.hexdump = bool(getattr(args, "hexdump", False))
        self.stream = stream or sys.stdout

    def line(self, text: str) -> None:
        """Write one line and flush.

        Args:
            text: The text.
        """
        self.stream.write(text + "\n")
        self.stream.flush()

    def record(self, obj: dict[str, Any]) -> None:
        """Write one JSON object on a line.

        Args:
            obj: The object.
        """
        self.line(json.dumps(obj, separators=(",", ":"), ensure_ascii=False))

    def data(self, data: bytes, **fields: Any) -> None:
        """Show one message or chunk.

        Args:
            data: The bytes.
            **fields: Extra JSON fields (``peer``, ``topic``, ...); in text mode a
                ``peer`` prefixes the line.
        """
        if self.json:
            self.record({**data_fields(data), **fields})
            return
        prefix = f"[{fields['peer']}] " if fields.get("peer") else ""
        if self.hexdump:
            self.line(hexdump(data, f"{time.strftime('%H:%M:%S')} {prefix}"))
        elif self.hex:
            self.line(prefix + data.hex(" "))
        else:
            self.line(prefix + escaped(data))


def data_fields(data: bytes) -> dict[str, Any]:
    """Describe bytes for JSON output.

    Args:
        data: The bytes.

    Returns:
        ``ts`` (Unix time), ``len``, ``text`` (UTF-8 with replacement characters)
        and ``hex``.
    """
    return {
        "ts": round(time.time(), 6),
        "len": len(data),
        "text": data.decode("utf-8", "replace"),
        "hex": data.hex(),
    }


def add_output(parser: argparse.ArgumentParser, *, hexdump_view: bool = True) -> None:
    """Add ``--json``, ``--hex`` and ``--hexdump``.

    Args:
        parser: A command's parser.
        hexdump_view: Also add ``--hexdump``.
    """
    parser.add_argument(
        "--json", action="store_true", help="one JSON object per line (len, text, hex, ts...)"
    )
    parser.add_argument("-x", "--show-hex", action="store_true", help="show received bytes as hex")
    if hexdump_view:
        parser.add_argument(
            "--hexdump", action="store_true", help="show received bytes as a timestamped hexdump"
        )


def install_sigterm() -> None:
    """Make SIGTERM end a command like Ctrl-C does."""

    def _raise(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, _raise)
    except ValueError:  # not the main thread
        pass


class Deadline:
    """A point in time, or none.

    Args:
        seconds: Seconds from now; ``None`` never passes.
    """

    def __init__(self, seconds: float | None) -> None:
        self.at = None if seconds is None else time.monotonic() + seconds

    def remaining(self, cap: float = 0.2) -> float:
        """Seconds left, at most ``cap``.

        Args:
            cap: The most to return.

        Returns:
            The seconds, ``0`` once passed.
        """
        if self.at is None:
            return cap
        return max(0.0, min(cap, self.at - time.monotonic()))

    def passed(self) -> bool:
        """Tell whether the deadline passed.

        Returns:
            ``True`` if it did.
        """
        return self.at is not None and time.monotonic() >= self.at
