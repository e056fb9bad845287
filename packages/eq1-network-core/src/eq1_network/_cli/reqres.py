"""``send`` and ``listen``: request/response endpoints from the command line."""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

from eq1_network._cli.common import (
    EXIT_CODES,
    OK,
    CommandTimeoutError,
    Deadline,
    Output,
    add_credentials,
    add_output,
    data_fields,
    decode_escapes,
    install_sigterm,
    open_endpoint,
    parse_data,
)
from eq1_network.common.exceptions import FrameTooLargeError, ProtocolUsageError
from eq1_network.common.logging import get_logger
from eq1_network.interfaces.protocol import ReqResProtocol, serves_many_peers
from eq1_network.packets.framing import DEFAULT_MAX_PAYLOAD, LENGTH_PREFIX

__all__ = ["add_reqres_commands"]

logger = get_logger(__name__)

_FRAMES = ("raw", "line", "length")


def add_reqres_commands(sub: argparse._SubParsersAction[Any]) -> None:
    """Add ``send`` and ``listen``.

    Args:
        sub: The sub-command parsers.
    """
    fmt = argparse.RawDescriptionHelpFormatter
    send = sub.add_parser(
        "send",
        help="write to a request/response endpoint, optionally wait for the reply",
        description="Write DATA to URL (tcp://, tls://, serial://, udp://, loop://...).",
        epilog=EXIT_CODES,
        formatter_class=fmt,
    )
    send.add_argument("url", metavar="URL")
    send.add_argument("data", metavar="DATA", nargs="*", help="words joined by spaces")
    send.add_argument("--hex", metavar="HEX", help="the bytes in hex, e.g. '01 03 00 00'")
    send.add_argument("--file", metavar="F", help="send the content of file F")
    send.add_argument("--stdin", action="store_true", help="send what stdin gives")
    send.add_argument("-e", "--escapes", action="store_true", help="decode \\r \\n \\xNN in DATA")
    _add_frame(send)
    send.add_argument("--reply", action="store_true", help="wait for the answer and print it")
    send.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a reply")
    send.add_argument(
        "--until-idle",
        type=float,
        metavar="MS",
        default=100.0,
        help="raw frames: the reply ends after MS milliseconds of silence (default 100)",
    )
    send.add_argument("--expect", metavar="REGEX", help="read until the reply matches REGEX")
    send.add_argument("--repeat", type=int, default=1, metavar="N", help="send N times")
    send.add_argument("--interval", type=float, default=0.0, metavar="S", help="pause between")
    add_output(send)
    add_credentials(send)
    send.set_defaults(handler=cmd_send, url_command=True)

    listen = sub.add_parser(
        "listen",
        help="print what arrives on an endpoint (tcp-listen://, serial://, loop://...)",
        description="Print one line per message or chunk arriving on URL.",
        epilog=EXIT_CODES,
        formatter_class=fmt,
    )
    listen.add_argument("url", metavar="URL")
    _add_frame(listen)
    listen.add_argument("--echo", action="store_true", help="send each message back")
    listen.add_argument("--reply", metavar="TEXT", help="answer each message with TEXT (\\n ok)")
    listen.add_argument("-C", "--count", type=int, metavar="N", help="stop after N messages")
    listen.add_argument(
        "-W", "--timeout", type=float, metavar="S", help="stop after S seconds (exit 4 if short)"
    )
    add_output(listen)
    add_credentials(listen)
    listen.set_defaults(handler=cmd_listen, url_command=True)


def _add_frame(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--frame",
        choices=_FRAMES,
        default="raw",
        help="raw bytes, newline-delimited lines, or 4-byte length-prefixed packets",
    )


def frame(data: bytes, how: str) -> bytes:
    """Frame one message for sending.

    Args:
        data: The payload.
        how: ``"raw"``, ``"line"`` (a newline is added unless present) or
            ``"length"`` (a 4-byte big-endian length prefix).

    Returns:
        The bytes to write.
    """
    if how == "line":
        return data if data.endswith(b"\n") else data + b"\n"
    if how == "length":
        return LENGTH_PREFIX.pack(len(data)) + data
    return data


def read_reply(proto: ReqResProtocol, args: argparse.Namespace) -> bytes:
    """Read one reply as ``--frame``, ``--expect`` and ``--until-idle`` say.

    Args:
        proto: The connected protocol.
        args: The parsed arguments.

    Returns:
        The reply (line frames without the line end, length frames without the prefix).

    Raises:
        CommandTimeoutError: If no (complete) reply arrived within ``--timeout``.
    """
    timeout = args.timeout
    if args.frame == "line":
        return proto.read_until(b"\n", timeout=timeout).rstrip(b"\r\n")
    if args.frame == "length":
        deadline = time.monotonic() + timeout
        (size,) = LENGTH_PREFIX.unpack(proto.read_exactly(4, timeout=timeout))
        _check_size(size)
        return proto.read_exactly(size, timeout=max(0.001, deadline - time.monotonic()))
    deadline = Deadline(timeout)
    pattern = re.compile(args.expect.encode("utf-8")) if args.expect else None
    reply = b""
    idle = args.until_idle / 1000.0
    while not deadline.passed():
        wait = (
            deadline.remaining(cap=timeout)
            if not reply or pattern
            else min(idle, deadline.remaining(cap=idle))
        )
        chunk = proto.read_within(wait)
        if chunk:
            reply += chunk
            if pattern is not None and pattern.search(reply):
                return reply
        elif reply and pattern is None:
            return reply
    if pattern is not None:
        raise CommandTimeoutError(
            f"the reply did not match --expect {args.expect!r} within {timeout} s "
            f"(got {len(reply)} bytes)"
        )
    raise CommandTimeoutError(f"no reply within {timeout} s")


def _check_size(size: int) -> None:
    if size > DEFAULT_MAX_PAYLOAD:
        raise FrameTooLargeError(
            f"a length prefix announces {size} bytes, over the {DEFAULT_MAX_PAYLOAD}-byte "
            "limit of length frames: the peer does not speak length-prefixed packets "
            "(try --frame raw)"
        )


def cmd_send(args: argparse.Namespace) -> int:
    """Run ``send``.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code.
    """
    install_sigterm()
    payload = parse_data(args, args.data)
    if args.repeat < 1:
        raise ProtocolUsageError(f"--repeat must be 1 or more, got {args.repeat}")
    if args.expect:
        args.reply = True
    out = Output(args)
    proto = open_endpoint(args.url, args, kind=ReqResProtocol)
    wire = frame(payload, args.frame)
    with proto:
        for n in range(1, args.repeat + 1):
            started = time.monotonic()
            proto.send(wire)
            if args.reply:
                reply = read_reply(proto, args)
                rtt = time.monotonic() - started
                if out.json:
                    out.record(
                        {"n": n, "sent": len(wire), "rtt": round(rtt, 6), **data_fields(reply)}
                    )
                else:
                    out.data(reply)
            elif out.json:
                out.record({"n": n, "sent": len(wire)})
            if n < args.repeat and args.interval > 0:
                time.sleep(args.interval)
    return OK


def cmd_listen(args: argparse.Namespace) -> int:
    """Run ``listen``.

    Args:
        args: The parsed arguments.

    Returns:
        The exit code: 4 when ``--timeout`` passed before ``--count`` messages (or
        before any message, without ``--count``).
    """
    install_sigterm()
    out = Output(args)
    answer = decode_escapes(args.reply) if args.reply else None
    proto = open_endpoint(args.url, args, kind=ReqResProtocol)
    deadline = Deadline(args.timeout)
    seen = 0
    buffers: dict[str, bytes] = {}
    try:
        with proto:
            many = serves_many_peers(proto)
            logger.info("listening on %s", proto)
            while args.count is None or seen < args.count:
                if deadline.passed():
                    break
                peer, chunk = _next_chunk(proto, many, deadline.remaining())
                if not chunk:
                    continue
                name = "" if peer is None else str(peer)
                for message in _messages(chunk, args.frame, buffers, name):
                    seen += 1
                    out.data(message, **({"peer": name} if name else {}))
                    reply = message if args.echo else answer
                    if reply is None:
                        pass
                    elif many:
                        proto.send_to(peer, frame(reply, args.frame))
                    else:
                        proto.send(frame(reply, args.frame))
                    if args.count is not None and seen >= args.count:
                        break
    except KeyboardInterrupt:
        return OK
    wanted = args.count or 1
    if args.timeout is not None and seen < wanted:
        raise CommandTimeoutError(
            f"--timeout {args.timeout} s passed after {seen} of {wanted} messages"
        )
    return OK


def _next_chunk(proto: Any, many: bool, wait: float) -> tuple[Any, bytes | None]:
    if many:
        item = proto.receive(timeout=wait)
        if item is None:
            return None, None
        return item.peer, item.data
    return None, proto.read_within(wait)


def _messages(chunk: bytes, how: str, buffers: dict[str, bytes], key: str) -> list[bytes]:
    """Split received bytes into messages as ``--frame`` says (raw: each chunk)."""
    if how == "raw":
        return [chunk]
    data = buffers.get(key, b"") + chunk
    found: list[bytes] = []
    if how == "line":
        *lines, data = data.split(b"\n")
        found = [line.rstrip(b"\r") for line in lines]
    else:
        while len(data) >= 4:
            (size,) = LENGTH_PREFIX.unpack_from(data)
            _check_size(size)
            if len(data) < 4 + size:
                break
            found.append(data[4 : 4 + size])
            data = data[4 + size :]
    buffers[key] = data
    return found
