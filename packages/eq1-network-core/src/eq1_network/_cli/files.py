"""``send-file`` and ``receive-file``: files through :class:`~eq1_network.NetworkHandler`.

A transfer is a sequence of ``FILE_TRANSFER`` messages: a JSON header (``file``,
``size``), the content in binary chunks, and a JSON trailer with the SHA-256 of the
content, which the receiver answers (``ok``, ``sha256``, ``size``) once it checked it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from eq1_network._cli.common import (
    EXIT_CODES,
    OK,
    PROTOCOL,
    CommandTimeoutError,
    Deadline,
    add_credentials,
    install_sigterm,
    open_endpoint,
)
from eq1_network.common.exceptions import ProtocolTimeoutError, ProtocolUsageError
from eq1_network.interfaces.protocol import ReqResProtocol
from eq1_network.observe.tap import SEND, Tap, TapEvent

__all__ = ["Progress", "add_file_commands"]

_AHEAD = 8
"""Chunks queued ahead of what the link has written (bounds the memory used)."""


def add_file_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``send-file`` and ``receive-file``.

    Args:
        sub: The sub-command parsers.
    """
    fmt = argparse.RawDescriptionHelpFormatter
    send = sub.add_parser(
        "send-file",
        help="send a file, checked by SHA-256 at the other end",
        description="Send FILE to URL, where 'eq1-network receive-file' stores it.",
        epilog=EXIT_CODES,
        formatter_class=fmt,
    )
    send.add_argument("url", metavar="URL")
    send.add_argument("file", metavar="FILE")
    send.add_argument("--name", help="the name the receiver stores (FILE's name)")
    send.add_argument("--chunk", type=int, default=256, metavar="KIB", help="chunk size (256)")
    send.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the check")
    send.add_argument("--json", action="store_true", help="progress and result as JSON lines")
    add_credentials(send)
    send.set_defaults(handler=cmd_send_file, url_command=True)

    recv = sub.add_parser(
        "receive-file",
        help="receive files sent by 'eq1-network send-file' into a folder",
        description="Receive files on URL (tcp-listen://, serial://...) into DIR.",
        epilog=EXIT_CODES,
        formatter_class=fmt,
    )
    recv.add_argument("url", metavar="URL")
    recv.add_argument("-o", "--out", required=True, metavar="DIR", help="the folder")
    recv.add_argument("-C", "--count", type=int, default=1, metavar="N", help="files (1)")
    recv.add_argument("-W", "--timeout", type=float, metavar="S", help="give up after S s")
    recv.add_argument("--json", action="store_true", help="progress and result as JSON lines")
    add_credentials(recv)
    recv.set_defaults(handler=cmd_receive_file, url_command=True)


class Progress:
    """Shows a transfer's progress: a bar on a terminal, periodic lines otherwise.

    Args:
        label: What is moving, e.g. ``"report.bin"``.
        total: Bytes expected.
        as_json: Write JSON lines to stdout instead of text to stderr.
    """

    def __init__(self, label: str, total: int, *, as_json: bool = False) -> None:
        self.label = label
        self.total = total
        self.done = 0
        self.as_json = as_json
        self.bar = not as_json and sys.stderr.isatty()
        self.started = time.monotonic()
        self._last = self.started
        self.changed = threading.Condition()

    def add(self, count: int) -> None:
        """Count bytes moved, and show the progress when it is time.

        Args:
            count: The bytes.
        """
        with self.changed:
            self.done = min(self.total, self.done + count)
            self.changed.notify_all()
        now = time.monotonic()
        if now - self._last >= (0.1 if self.bar else 1.0):
            self._last = now
            self.show()

    def wait_below(self, queued: int, ahead: int) -> None:
        """Wait until fewer than ``ahead`` bytes are queued beyond what moved.

        Args:
            queued: Bytes handed over so far.
            ahead: The most bytes allowed in flight.
        """
        with self.changed:
            self.changed.wait_for(lambda: queued - self.done < ahead, timeout=60.0)

    def rate(self) -> float:
        """Bytes per second so far."""
        return self.done / max(time.monotonic() - self.started, 1e-6)

    def show(self, final: bool = False) -> None:
        """Write the progress now.

        Args:
            final: The transfer ended: finish the bar's line.
        """
        rate = self.rate()
        eta = (self.total - self.done) / rate if rate > 0 else None
        share = self.done / self.total if self.total else 1.0
        if self.as_json:
            record = {
                "event": "progress",
                "file": self.label,
                "bytes": self.done,
                "total": self.total,
                "rate": round(rate, 1),
                "eta": None if eta is None else round(eta, 1),
            }
            sys.stdout.write(json.dumps(record) + "\n")
            sys.stdout.flush()
            return
        mib = 1024 * 1024
        eta_text = "-" if eta is None else f"{int(eta) // 60}:{int(eta) % 60:02d}"
        figures = (
            f"{share:4.0%} {self.done / mib:.1f}/{self.total / mib:.1f} MiB "
            f"{rate / mib:.1f} MiB/s ETA {eta_text}"
        )
        if self.bar:
            filled = int(share * 30)
            end = "\n" if final else ""
            sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {figures}{end}")
        else:
            sys.stderr.write(f"{self.label}: {self.done} of {self.total} bytes, {figures}\n")
        sys.stderr.flush()


def _handler(proto: ReqResProtocol) -> Any:
    from eq1_network import ANY_PACKAGE, NetworkConfig, NetworkHandler

    config = NetworkConfig(protocol=proto, package=ANY_PACKAGE, receive_queue=True)
    return NetworkHandler(config)


def cmd_send_file(args: argparse.Namespace) -> int:
    """Run ``send-file``.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code: 5 when the receiver's checksum differs.
    """
    from eq1_network import BinarySendData, JsonSendData, MessageType

    install_sigterm()
    path = Path(args.file)
    size = path.stat().st_size
    name = args.name or path.name
    chunk = args.chunk * 1024
    if not 1 <= args.chunk <= 1000:
        raise ProtocolUsageError(f"--chunk must be 1 to 1000 KiB, got {args.chunk}")
    proto = open_endpoint(args.url, args, kind=ReqResProtocol)
    progress = Progress(name, size, as_json=args.json)

    def written(event: TapEvent) -> None:
        if event.kind == SEND:
            progress.add(len(event.data))

    Tap(written).install(proto, url=args.url)
    kind = MessageType.FILE_TRANSFER
    digest = hashlib.sha256()
    with _handler(proto) as handler:
        handler.send_data(JsonSendData({"file": name, "size": size}, message_type=kind))
        queued = 0
        with path.open("rb") as file:
            while block := file.read(chunk):
                digest.update(block)
                handler.send_data(BinarySendData(block, message_type=kind))
                queued += len(block)
                progress.wait_below(queued, _AHEAD * chunk)
        trailer = JsonSendData({"end": True, "sha256": digest.hexdigest()}, message_type=kind)
        answer = handler.request(trailer, timeout=args.timeout).value
    progress.show(final=True)
    return _result(args, name, size, digest.hexdigest(), answer)


def _result(args: argparse.Namespace, name: str, size: int, sha: str, answer: Any) -> int:
    ok = isinstance(answer, dict) and answer.get("ok") is True and answer.get("sha256") == sha
    if args.json:
        record = {"event": "done", "file": name, "size": size, "sha256": sha, "ok": ok}
        sys.stdout.write(json.dumps(record) + "\n")
    else:
        verdict = "verified" if ok else f"CHECKSUM MISMATCH (receiver: {answer!r})"
        sys.stdout.write(f"sent {name}: {size} bytes, sha256 {sha} {verdict}\n")
    return OK if ok else PROTOCOL


class _Incoming:
    """One file being received into ``folder``."""

    def __init__(self, folder: Path, header: dict[str, Any], as_json: bool) -> None:
        name = os.path.basename(str(header.get("file", "")))
        if name in ("", ".", ".."):
            raise ProtocolUsageError(f"the sender named no usable file: {header!r}")
        self.name = name
        self.final = folder / name
        self.part = folder / (name + ".part")
        self.file = self.part.open("wb")
        self.digest = hashlib.sha256()
        self.size = 0
        self.progress = Progress(name, int(header.get("size", 0)), as_json=as_json)

    def write(self, block: bytes) -> None:
        self.file.write(block)
        self.digest.update(block)
        self.size += len(block)
        self.progress.add(len(block))

    def finish(self, expected: str) -> bool:
        self.file.close()
        self.progress.show(final=True)
        if self.digest.hexdigest() == expected:
            self.part.replace(self.final)
            return True
        self.part.unlink()
        return False


def cmd_receive_file(args: argparse.Namespace) -> int:
    """Run ``receive-file``.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code: 5 when a file's checksum differs, 4 when ``--timeout`` passed
        before ``--count`` files.
    """
    install_sigterm()
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    proto = open_endpoint(args.url, args, kind=ReqResProtocol)
    deadline = Deadline(args.timeout)
    received = failed = 0
    try:
        with _handler(proto) as handler:
            incoming: _Incoming | None = None
            while received + failed < args.count and not deadline.passed():
                try:
                    message = handler.receive(timeout=deadline.remaining(0.5))
                except ProtocolTimeoutError:
                    continue
                incoming, done = _take(handler, message, incoming, folder, args)
                if done is not None:
                    received += done
                    failed += not done
    except KeyboardInterrupt:
        return OK
    if failed:
        return PROTOCOL
    if received < args.count:
        raise CommandTimeoutError(f"--timeout passed after {received} of {args.count} files")
    return OK


def _take(
    handler: Any, message: Any, incoming: _Incoming | None, folder: Path, args: argparse.Namespace
) -> tuple[_Incoming | None, bool | None]:
    """Handle one message; return the file in progress and, at its end, whether it is good."""
    from eq1_network import JsonSendData, MessageType

    value = message.value
    if isinstance(value, bytes):
        if incoming is not None:
            incoming.write(value)
        return incoming, None
    if not isinstance(value, dict):
        return incoming, None
    if "file" in value:
        return _Incoming(folder, value, args.json), None
    if value.get("end") and incoming is not None:
        good = incoming.finish(str(value.get("sha256")))
        sha = incoming.digest.hexdigest()
        answer = {"ok": good, "sha256": sha, "size": incoming.size}
        reply = JsonSendData(answer, message_type=MessageType.RESPONSE, reply_to=message.sequence)
        handler.send_data(reply)
        if args.json:
            record = {"event": "done", "file": incoming.name, **answer}
            sys.stdout.write(json.dumps(record) + "\n")
        else:
            verdict = "verified" if good else "CHECKSUM MISMATCH, discarded"
            sys.stdout.write(
                f"received {incoming.final}: {incoming.size} bytes, sha256 {sha} {verdict}\n"
            )
        sys.stdout.flush()
        return None, good
    return incoming, None
